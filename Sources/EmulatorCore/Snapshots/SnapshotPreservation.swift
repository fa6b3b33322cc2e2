#if canImport(Glibc)
import Glibc
import Synchronization

/// A mount server's side of a `pending` snapshot (`PendingSnapshotTable`): before a change of a file's
/// data, the chunks it touches that the snapshot has not copied yet are copied into the snapshot; before
/// a file's name is removed or replaced, the file is kept (a hard link in the snapshot's `hold`
/// directory, in the state directory, never in the volume) until the snapshot has copied it.
///
/// Shared state, in the volume's shared directory:
/// - `pending`: word 0 is the generation of the pending snapshot (0: none); word 1 hands them out.
/// - `pending.<generation>`: that snapshot's table.
/// - `pending.lock`: held (flock, exclusive) by the snapshotter from before it publishes a generation
///   until it clears it, so a mount server can tell a snapshotter that died (`watch`).
///
/// Costs one atomic load per change while no snapshot is pending.
public final class SnapshotPreservation: Sendable {
    private let words: SharedWords
    private let directory: String
    private let lockFD: Int32
    private struct Open: @unchecked Sendable {
        var generation: UInt64
        var table: PendingSnapshotTable
        var objects: Int32
        var hold: Int32
    }
    private let current = Mutex<Open?>(nil)
    private let abandonedSince = Mutex<(generation: UInt64, at: Double)?>(nil)

    public init(sharedStateDirectory: String) throws(SharedStateError) {
        directory = sharedStateDirectory
        words = try Self.openWords(sharedStateDirectory)
        let lockPath = sharedStateDirectory + "/pending.lock"
        lockFD = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw .system(operation: "open", path: lockPath, errno: errno) }
    }

    deinit {
        close(lockFD)
        current.withLock { open in
            if let open { close(open.objects); close(open.hold) }
        }
    }

    static func openWords(_ directory: String) throws(SharedStateError) -> SharedWords {
        try SharedWords(path: directory + "/pending", count: 2, layout: 1) { () throws(SharedStateError) -> [UInt64] in [0, 0] }
    }

    /// The pending snapshot's table, or nil when none is pending (or it cannot be read: then the
    /// snapshot is failed, and nothing waits for it).
    private func pending() -> Open? {
        let generation = words.load(0)
        guard generation != 0 else { return nil }
        return current.withLock { open -> Open? in
            if let open, open.generation == generation { return open }
            if let old = open {
                close(old.objects)
                close(old.hold)
                open = nil
            }
            guard let table = try? PendingSnapshotTable(path: directory + "/pending.\(generation)") else { return nil }
            let objects = Glibc.open(table.objectsPath + "/objects", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let hold = Glibc.open(table.objectsPath + "/hold", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard objects >= 0, hold >= 0 else {
                let code = errno
                if objects >= 0 { close(objects) }
                if hold >= 0 { close(hold) }
                table.fail(code)
                return nil
            }
            open = Open(generation: generation, table: table, objects: objects, hold: hold)
            return open
        }
    }

    /// Before the data of the file open as `fd` (any access mode, or an `O_PATH` descriptor) changes in
    /// `[lower, upper)`: copies what the pending snapshot still needs of that range. `fd` is the backing
    /// store's node or handle (a descriptor for `DirectoryStore`; anything else has nothing to preserve).
    @inline(__always)
    public func beforeChange<Descriptor>(_ fd: Descriptor, from lower: UInt64, to upper: UInt64) {
        guard words.load(0) != 0, let fd = fd as? Int32 else { return }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return }
        preserve(InodeKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)), from: lower, to: upper) {
            Glibc.open("/proc/self/fd/\(fd)", O_RDONLY | O_CLOEXEC)
        }
    }

    /// Before the file named `name` in `directory` is truncated by an open with O_TRUNC.
    public func beforeTruncatingName<Descriptor>(_ name: [UInt8], in directory: Descriptor) {
        guard words.load(0) != 0, let directory = directory as? Int32 else { return }
        var info = stat()
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        guard fstatat(directory, cName, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG else { return }
        preserve(InodeKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)), from: 0, to: UInt64.max) {
            openat(directory, cName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        }
    }

    /// Before the entry `name` in `directory` (a descriptor) is removed or replaced.
    @inline(__always)
    public func beforeRemovingName(_ name: UnsafePointer<CChar>, in directory: Int32) {
        guard words.load(0) != 0 else { return }
        keep(name, in: directory)
    }

    public func beforeRemovingName<Descriptor>(_ name: [UInt8], in directory: Descriptor) {
        guard words.load(0) != 0, let directory = directory as? Int32 else { return }
        keep(name.map { CChar(bitPattern: $0) } + [0], in: directory)
    }

    private func preserve(_ key: InodeKey, from lower: UInt64, to upper: UInt64, source: () -> Int32) {
        guard let open = pending(), open.table.failure == 0, key.device == open.table.device,
              let slot = open.table.slot(of: key.inode) else { return }
        var input: Int32 = -1
        defer { if input >= 0 { close(input) } }
        let code = open.table.preserve(slot, from: lower, to: upper, objects: open.objects, inode: key.inode) {
            input = source()
            return input
        }
        if code != 0 { open.table.fail(code) }
    }

    private func keep(_ name: UnsafePointer<CChar>, in directory: Int32) {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG,
              let open = pending(), open.table.failure == 0, UInt64(info.st_dev) == open.table.device,
              let slot = open.table.slot(of: UInt64(info.st_ino)), !open.table.allDone(slot) else { return }
        // A link keeps the file as it is for the copier (which opens it by handle); the mount's later
        // changes through descriptors still open go through `beforeChange` as before.
        if linkat(directory, name, open.hold, String(info.st_ino), 0) == 0 || errno == EEXIST { return }
        var input: Int32 = -1
        defer { if input >= 0 { close(input) } }
        let code = open.table.preserve(slot, from: 0, to: UInt64.max, objects: open.objects, inode: UInt64(info.st_ino)) {
            input = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            return input
        }
        if code != 0 { open.table.fail(code) }
    }

    /// The watcher's part: a pending generation whose snapshotter died (nobody holds `pending.lock` for
    /// a second) is cleared, so mounts stop preserving for it.
    public func watch() {
        let generation = words.load(0)
        guard generation != 0 else { return }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let seconds = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        guard flock(lockFD, LOCK_SH | LOCK_NB) == 0 else {
            abandonedSince.withLock { $0 = nil }
            return
        }
        flock(lockFD, LOCK_UN)
        let since = abandonedSince.withLock { seen -> Double in
            if seen?.generation != generation { seen = (generation, seconds) }
            return seen?.at ?? seconds
        }
        if seconds - since >= 1 { _ = words.compareExchange(0, expected: generation, desired: 0) }
    }

    /// Clears the pending table of a snapshotter that died (nobody holds `pending.lock`): mounts stop
    /// preserving for it. Does nothing while a snapshotter holds the lock.
    public static func releaseAbandoned(sharedStateDirectory: String) {
        let lockPath = sharedStateDirectory + "/pending.lock"
        let fd = open(lockPath, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return }
        defer { flock(fd, LOCK_UN) }
        if let words = try? openWords(sharedStateDirectory) { words.storeInOrder(0, 0) }
        Publication.removeTables(sharedStateDirectory)
    }

    // MARK: - The snapshotter's side

    /// Held by the process taking a snapshot from before it publishes the pending table until it ends
    /// it: snapshots of one volume take turns.
    final class Publication {
        private let directory: String
        private let words: SharedWords
        private let lockFD: Int32
        private(set) var generation: UInt64 = 0

        init(sharedStateDirectory: String) throws(SharedStateError) {
            directory = sharedStateDirectory
            let lockPath = sharedStateDirectory + "/pending.lock"
            lockFD = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard lockFD >= 0 else { throw .system(operation: "open", path: lockPath, errno: errno) }
            while flock(lockFD, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let code = errno
                    close(lockFD)
                    throw .system(operation: "flock", path: lockPath, errno: code)
                }
            }
            do {
                words = try SnapshotPreservation.openWords(sharedStateDirectory)
            } catch {
                close(lockFD)
                throw error
            }
            // A table left by a snapshotter that died.
            words.storeInOrder(0, 0)
            Self.removeTables(sharedStateDirectory)
        }

        /// The path the next table goes to (before `publish`).
        func nextTablePath() -> String {
            generation = words.add(1, 1)
            return directory + "/pending.\(generation)"
        }

        /// Makes the table at `nextTablePath()` the one every mount follows from its next change on.
        func publish() { words.storeInOrder(0, generation) }

        /// Ends it: mounts stop preserving, the table goes, the next snapshot may begin.
        func end() {
            words.storeInOrder(0, 0)
            if generation != 0 { unlink(directory + "/pending.\(generation)") }
            flock(lockFD, LOCK_UN)
            close(lockFD)
        }

        static func removeTables(_ directory: String) {
            guard let stream = opendir(directory) else { return }
            defer { closedir(stream) }
            var names: [String] = []
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name.hasPrefix("pending."), UInt64(name.dropFirst("pending.".count)) != nil { names.append(name) }
            }
            for name in names { unlink(directory + "/" + name) }
        }
    }
}
#endif
