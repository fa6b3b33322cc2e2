#if canImport(Glibc)
import Glibc
import Synchronization

/// What one mount has not made durable, and how to take it back (`berth az fail --power-loss`): an undo
/// journal in the style of LazyFS (used by Jepsen), kept by the mount server.
///
/// - Data: for each regular file changed since its last fsync/fdatasync (on services whose rules say so,
///   also since the close of a written handle), the file's size at that sync and the original bytes of
///   each 4 KiB block below that size that was overwritten, saved before the first overwrite into the
///   journal's `blocks` file. Appends need no copy: undoing truncates back to the synced size.
/// - Names (services whose names are not durable at once, `PowerLossRules`): each name created, removed or
///   renamed since the fsync of the directory that makes it durable, newest last. A removed or replaced
///   file is kept by a hard link in the journal's `held` directory (same file system as the volume's data:
///   both live under `<state>/volumes/<id>/`); a removed directory is made anew (it was empty).
///
/// `apply` undoes the names newest first, then every file's data, and empties the journal. It changes the
/// volume as a mount's own changes do for a snapshot still `pending` (`SnapshotPreservation`): before it
/// puts back a file's old bytes or size, the snapshot's copy gets the chunks it has not copied yet, and
/// before it removes or replaces a name, the file is kept for the copy; so a snapshot taken before the
/// power loss holds what was written before it, synced or not. Everything is
/// reached through descriptors and `*at` calls that never follow a symbolic link (docs/SECURITY.md); the
/// journal's files live in the volume's shared state directory, which no mount shows.
///
/// Cost when nothing needs saving: one lock and one dictionary look-up per write.
public final class PowerLossJournal: Sendable {
    public static let blockSize: UInt64 = 4096
    /// O_PATH (Linux, every architecture Berth builds for).
    static let pathFlag: Int32 = 0o10000000
    public let rules: PowerLossRules
    let path: String
    let directoryFD: Int32
    let blocksFD: Int32
    let heldFD: Int32
    /// Word 0: the power loss last requested (`request`); word 1: the last one applied.
    let control: SharedWords
    /// A provisioned volume's counter: a file whose last name in the volume went is freed there, though
    /// the journal still holds it.
    let usage: VolumeUsage?
    /// The mount's side of a pending snapshot: the undo preserves for it as a mount's changes do.
    let preservation: SnapshotPreservation?
    private let state = Mutex(State())

    struct FileUndo {
        /// A duplicate of a descriptor of the file (any access mode, O_PATH included): reopened through
        /// /proc/self/fd to read or write it, which never walks a name.
        var fd: Int32
        var syncedSize: UInt64
        var saved = SavedBlocks()
    }

    enum NameUndo {
        /// Undo of a new name: remove it.
        case remove(directory: InodeKey, name: [UInt8], isDirectory: Bool)
        /// Undo of a removed file: link the held file back.
        case relink(directory: InodeKey, name: [UInt8], held: [UInt8], file: InodeKey)
        /// Undo of a removed (empty) directory.
        case remakeDirectory(directory: InodeKey, name: [UInt8], mode: mode_t, uid: uid_t, gid: gid_t)
        /// Undo of a rename: move it back (or swap again), then put back what it replaced.
        indirect case rename(from: InodeKey, name: [UInt8], to: InodeKey, newName: [UInt8], exchange: Bool, replaced: NameUndo?)
    }

    struct NameEntry {
        var undo: NameUndo
        /// The directory whose fsync makes the change durable (a rename's target directory).
        var durableWith: InodeKey
        var id: UInt64 = 0
    }

    /// A name in a directory.
    struct FreshName: Hashable, Sendable {
        var directory: InodeKey
        var name: [UInt8]
    }

    struct State {
        var files: [InodeKey: FileUndo] = [:]
        var names: [NameEntry] = []
        /// Descriptors (O_PATH) of the directories the name entries refer to, with how many refer.
        var directories: [InodeKey: (fd: Int32, references: Int)] = [:]
        var freeSlots: [UInt64] = []
        var nextSlot: UInt64 = 0
        var nextHeld: UInt64 = 0
        /// How many links in `held` each file has.
        var heldLinks: [InodeKey: Int] = [:]
        /// Names made since their directory's fsync and not touched since, with the entry that made
        /// each: removing one only drops that entry (nothing to hold: it never was durable).
        var fresh: [FreshName: UInt64] = [:]
        var nextEntry: UInt64 = 0
    }

    /// What `apply` undid.
    public struct Outcome: Sendable, Equatable {
        public var filesReverted = 0
        public var namesReverted = 0
        /// Undo steps that failed (the name was changed again by another mount, a disk error): the step
        /// is skipped, so less is lost than asked for, never more.
        public var failures = 0
        public init() {}
    }

    /// A change of names under way: `begin…` made it, `finish` records it once the change succeeded.
    public struct Mark: Sendable {
        let entry: NameEntry?
        let held: [UInt8]?
        var heldFile: InodeKey? = nil
        /// A new name: recorded as fresh.
        var freshName: FreshName? = nil
        /// The removal of a fresh name: the entry that made it is dropped.
        var cancels: UInt64? = nil
        let directories: [(InodeKey, Int32)]
    }

    /// Opens (making it, emptied) the journal directory `name` in `parent` (`<shared>/power-loss`), both made
    /// without following a link. Journals of servers no longer running are removed first.
    public init(sharedStateDirectory: String, name: String, rules: PowerLossRules, usage: VolumeUsage? = nil,
                preservation: SnapshotPreservation? = nil) throws(Errno) {
        self.rules = rules
        self.usage = usage
        self.preservation = preservation
        let parentPath = sharedStateDirectory + "/" + Self.directoryName
        if mkdir(parentPath, 0o700) != 0 && errno != EEXIST { throw Errno.last }
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if parent < 0 { throw Errno.last }
        defer { close(parent) }
        Self.removeStale(parentPath, parent, keeping: nil)
        path = parentPath + "/" + name
        // A journal of the same name left by an earlier process with this pid; absent as a rule.
        _ = try? TreeRemover.removeTree(named: Array(name.utf8CString), in: parent, path: path)
        if mkdirat(parent, name, 0o700) != 0 { throw Errno.last }
        directoryFD = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if directoryFD < 0 { throw Errno.last }
        blocksFD = openat(directoryFD, "blocks", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if blocksFD < 0 {
            let error = Errno.last
            close(directoryFD)
            throw error
        }
        guard mkdirat(directoryFD, "held", 0o700) == 0 else {
            let error = Errno.last
            close(blocksFD)
            close(directoryFD)
            throw error
        }
        heldFD = openat(directoryFD, "held", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if heldFD < 0 {
            let error = Errno.last
            close(blocksFD)
            close(directoryFD)
            throw error
        }
        do {
            control = try Self.openControl(path)
        } catch {
            close(heldFD)
            close(blocksFD)
            close(directoryFD)
            throw Errno(EIO)
        }
    }

    static func openControl(_ journal: String) throws(SharedStateError) -> SharedWords {
        try SharedWords(path: journal + "/control", count: 2, layout: 1) { () throws(SharedStateError) -> [UInt64] in [0, 0] }
    }

    /// The mount server's watcher: when a power loss was requested since the last one applied, waits
    /// for the changes in flight (`drain`), applies the journal, runs `afterwards` (a recount of the
    /// volume's capacity) and acknowledges. Nil when none was.
    public func answerRequest(drain: () -> Void, afterwards: () -> Void = {}) -> Outcome? {
        let requested = control.loadInOrder(0)
        guard requested != control.loadInOrder(1) else { return nil }
        drain()
        let outcome = apply()
        afterwards()
        control.storeInOrder(1, requested)
        return outcome
    }

    /// The same, the undo made as one change of the mount (`WriteFreeze.asOneChange`): it waits for the
    /// changes in flight and for a snapshot capturing its point in time, and a snapshot begun meanwhile
    /// waits for it; so a snapshot's point in time is before or after the power loss, never half-way.
    public func answerRequest(freeze: WriteFreeze, afterwards: () -> Void = {}) -> Outcome? {
        let requested = control.loadInOrder(0)
        guard requested != control.loadInOrder(1) else { return nil }
        let outcome = freeze.asOneChange { apply() }
        afterwards()
        control.storeInOrder(1, requested)
        return outcome
    }

    /// What asking a mount server for a power loss came to.
    public enum Answer: String, Sendable, Equatable {
        /// The server applied its journal.
        case applied
        /// The server has no journal (it is gone, or was started by an older Berth): nothing to undo.
        case noJournal
        /// The server did not answer within the time allowed.
        case timedOut

        /// For people.
        public var summary: String {
            switch self {
            case .applied: "what was not durable is gone"
            case .noJournal: "its server keeps no journal (gone, or an older Berth): nothing taken back"
            case .timedOut: "its server did not answer in time: what was not durable may remain"
            }
        }
    }

    /// `berth az fail --power-loss`'s side, once the mount is cut off: asks the server `pid` of a mount
    /// of the volume whose shared state directory is given to apply its journal, and waits for it
    /// (or for its end).
    public static func request(sharedStateDirectory: String, pid: Int32, timeout: Double = 30) -> Answer {
        let parent = sharedStateDirectory + "/" + directoryName
        var answers: [Answer] = []
        for name in journalNames(in: parent, pid: pid) {
            answers.append(requestOne(journal: parent + "/" + name, pid: pid, timeout: timeout))
        }
        if answers.contains(.timedOut) { return .timedOut }
        return answers.contains(.applied) ? .applied : .noJournal
    }

    /// The next journal name of this process: `<pid>-<n>`.
    public static func nextName() -> String {
        "\(getpid())-\(journalCounter.wrappingAdd(1, ordering: .relaxed).newValue)"
    }

    private static let journalCounter = Atomic<UInt64>(0)

    static func journalNames(in parent: String, pid: Int32) -> [String] {
        guard let stream = opendir(parent) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix("\(pid)-") { names.append(name) }
        }
        return names
    }

    static func requestOne(journal: String, pid: Int32, timeout: Double) -> Answer {
        var st = stat()
        guard lstat(journal, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, lstat(journal + "/control", &st) == 0,
              st.st_mode & S_IFMT == S_IFREG, let control = try? openControl(journal) else { return .noJournal }
        let generation = control.loadInOrder(0) &+ 1
        control.storeInOrder(0, generation)
        let deadline = WriteFreeze.monotonicSeconds() + timeout
        while control.loadInOrder(1) != generation {
            if ServerProcess.identify(pid: pid) == nil { return .noJournal }
            if WriteFreeze.monotonicSeconds() > deadline { return .timedOut }
            usleep(1_000)
        }
        return .applied
    }

    /// The server is done (unmounted): nothing is left to lose, and the journal goes.
    deinit {
        state.withLock { state in
            for (_, file) in state.files { close(file.fd) }
            for (_, directory) in state.directories { close(directory.fd) }
        }
        close(heldFD)
        close(blocksFD)
        close(directoryFD)
        try? TreeRemover.removeTree(at: path)
    }

    public static let directoryName = "power-loss"

    /// Removes the journals in `parent` named by the pid of a server no longer running.
    static func removeStale(_ parentPath: String, _ parent: Int32, keeping: String?) {
        let fd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return
        }
        var stale: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let pid = Int32(name.prefix(while: { $0 != "-" })), pid > 0, name != keeping,
                  ServerProcess.identify(pid: pid) == nil else { continue }
            stale.append(name)
        }
        closedir(stream)
        for name in stale { try? TreeRemover.removeTree(named: Array(name.utf8CString), in: parent, path: parentPath + "/" + name) }
    }

    // MARK: - Data

    /// Before a write of `length` bytes at `offset` to the regular file `key`, open as `fd`; `direct`: through
    /// an O_DIRECT handle (`PowerLossRules.directWritesDurable`).
    @inline(__always)
    public func willWrite(_ fd: Int32, key: InodeKey, offset: UInt64, length: UInt64, direct: Bool = false) {
        if direct && rules.directWritesDurable { return }
        state.withLock { state in
            // The file's record is changed where it lies (never through a copy: its `saved` table holds
            // one entry per 4 KiB block, and a second reference would make every change copy all of it).
            guard let syncedSize = state.files[key]?.syncedSize else {
                return track(&state, fd, key, saving: offset, direct ? 0 : length)
            }
            if offset >= syncedSize || length == 0 { return }
            if direct {
                // On the device once written: the blocks it covers whole are not put back.
                var block = (offset &+ Self.blockSize &- 1) / Self.blockSize
                while (block &+ 1) &* Self.blockSize <= offset &+ length {
                    if let saved = state.files[key]?.saved.remove(at: block) { state.freeSlots.append(saved.slot) }
                    block &+= 1
                }
                return
            }
            save(&state, key, from: offset, to: offset &+ length)
        }
    }

    /// Before the file `key` (`fd`, any descriptor of it) is cut or grown to `size`.
    public func willTruncate(_ fd: Int32, key: InodeKey, to size: UInt64) {
        state.withLock { state in
            if state.files[key] == nil { track(&state, fd, key, saving: 0, 0) }
            guard let synced = state.files[key]?.syncedSize, size < synced else { return }
            save(&state, key, from: size, to: synced)
        }
    }

    /// Before open(2) with O_CREAT and O_TRUNC of `name` in `directory`, which may name an existing file.
    public func willTruncate(named name: [UInt8], in directory: Int32, key: InodeKey? = nil) {
        let fd = Self.withName(name) { openat(directory, $0, Self.pathFlag | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { return }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return }
        willTruncate(fd, key: InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)), to: 0)
    }

    /// Before fallocate(2) with `mode` (`AllocateMode`): modes that change contents save what they touch
    /// (collapse and insert shift everything after `offset`).
    public func willAllocate(_ fd: Int32, key: InodeKey, mode: Int32, offset: UInt64, length: UInt64) {
        state.withLock { state in
            if state.files[key] == nil { track(&state, fd, key, saving: 0, 0) }
            guard let synced = state.files[key]?.syncedSize else { return }
            if mode & (AllocateMode.collapseRange | AllocateMode.insertRange) != 0 {
                save(&state, key, from: offset, to: synced)
            } else if mode & (AllocateMode.punchHole | AllocateMode.zeroRange) != 0 {
                save(&state, key, from: offset, to: min(synced, offset &+ length))
            }
        }
    }

    /// After a successful fsync or fdatasync of the file `key`: its data is durable.
    public func synced(_ key: InodeKey) {
        state.withLock { state in
            guard let file = state.files.removeValue(forKey: key) else { return }
            release(&state, file)
        }
    }

    /// After the kernel forgot the file `key`: when no name of it is left (its link count is 0) and
    /// the journal holds none of its names, no power loss can bring it back, and what was kept to undo
    /// its data goes. Otherwise a program that writes and removes files without ever syncing kept a
    /// descriptor per file here until the mount's limit was reached (EMFILE for everyone on it).
    public func forgotten(_ key: InodeKey) {
        state.withLock { state in
            guard let file = state.files[key], state.heldLinks[key] == nil else { return }
            var st = stat()
            guard fstat(file.fd, &st) == 0, st.st_nlink == 0 else { return }
            state.files.removeValue(forKey: key)
            release(&state, file)
        }
    }

    /// After the close (FUSE release) of a handle of `key`; `wrote`: it was open for writing.
    public func closed(_ key: InodeKey, wrote: Bool) {
        if rules.dataDurableOnClose && wrote { synced(key) }
    }

    /// How many links of the file `key` are the journal's own (removed or replaced names it keeps in
    /// `held` to put back at a power loss). Programs must not see them: the mount subtracts them from
    /// the link count it reports (pjdfstest rename/23: a file renamed over keeps one link fewer).
    public func heldLinkCount(_ key: InodeKey) -> Int {
        state.withLock { $0.heldLinks.isEmpty ? 0 : $0.heldLinks[key] ?? 0 }
    }

    /// Whether the journal holds anything for the file `key` (tests, diagnostics).
    public func tracks(_ key: InodeKey) -> Bool { state.withLock { $0.files[key] != nil } }

    /// How many name changes are waiting for a directory fsync.
    public var pendingNameChanges: Int { state.withLock { $0.names.count } }

    private func track(_ state: inout State, _ fd: Int32, _ key: InodeKey, saving offset: UInt64, _ length: UInt64) {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return }
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { return }
        state.files[key] = FileUndo(fd: copy, syncedSize: UInt64(max(0, st.st_size)))
        if length > 0, offset < UInt64(max(0, st.st_size)) { save(&state, key, from: offset, to: offset &+ length) }
    }

    /// Saves the blocks of `key` between `from` and `to` (clipped to its synced size) not saved yet: each
    /// run of consecutive unsaved blocks (up to 1 MiB) with one read and one write.
    private func save(_ state: inout State, _ key: InodeKey, from: UInt64, to: UInt64) {
        // Taken out while it changes, so that its `saved` table has one owner and is not copied.
        guard var file = state.files.removeValue(forKey: key) else { return }
        defer { state.files[key] = file }
        let end = min(to, file.syncedSize)
        guard from < end else { return }
        var reader: Int32 = -1
        defer { if reader >= 0 { close(reader) } }
        let lastBlock = (end - 1) / Self.blockSize
        var block = from / Self.blockSize
        while let unsaved = file.saved.firstUnsaved(from: block, through: lastBlock) {
            block = unsaved
            let count = file.saved.unsavedRun(from: block, through: lastBlock, limit: Self.runBlocks)
            defer { block += count }
            if reader < 0 {
                reader = Self.reopen(file.fd, O_RDONLY)
                if reader < 0 { return }
            }
            let start = block * Self.blockSize
            let length = Int(min(count * Self.blockSize, file.syncedSize - start))
            let base: UInt64
            if count == 1, let free = state.freeSlots.popLast() {
                base = free
            } else {
                base = state.nextSlot
                state.nextSlot += count
            }
            let got = RangeCopy.copy(reader, from: Int(start), to: blocksFD, at: Int(base * Self.blockSize), length: length)
            guard got > 0 else {
                if count == 1 { state.freeSlots.append(base) }
                continue
            }
            for index in 0..<count {
                let saved = got - Int(index * Self.blockSize)
                guard saved > 0 else { break }
                file.saved.insert(.init(slot: base + index, length: min(saved, Int(Self.blockSize))), at: block + index)
            }
        }
    }

    /// The most blocks one read saves.
    static let runBlocks: UInt64 = 256

    private func release(_ state: inout State, _ file: FileUndo) {
        close(file.fd)
        state.freeSlots.append(contentsOf: file.saved.slots)
        if state.files.isEmpty {
            // Nothing saved anywhere: the blocks file starts again from nothing.
            state.freeSlots.removeAll()
            state.nextSlot = 0
            _ = ftruncate(blocksFD, 0)
        }
    }

    /// Opens the file behind `fd` anew with `flags`, through its /proc/self/fd magic link (never a name).
    static func reopen(_ fd: Int32, _ flags: Int32) -> Int32 {
        open("/proc/self/fd/\(fd)", flags | O_CLOEXEC)
    }

    // MARK: - Names

    /// Before creating `name` in `directory` (open with O_CREAT): nil unless it makes a new name (the
    /// name is absent; with O_EXCL it must be).
    public func beginCreate(_ name: [UInt8], in directory: Int32, key: InodeKey, flags: Int32) -> Mark? {
        guard !rules.namesDurableAtOnce else { return nil }
        if flags & O_EXCL == 0 {
            var st = stat()
            if Self.withName(name, { fstatat(directory, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 || errno != ENOENT { return nil }
        }
        return Mark(entry: NameEntry(undo: .remove(directory: key, name: name, isDirectory: false), durableWith: key),
                    held: nil, freshName: FreshName(directory: key, name: name), directories: [(key, directory)])
    }

    /// Before making `name` in `directory` (mkdir, mknod, symlink, link: each fails if it exists).
    public func beginNewName(_ name: [UInt8], in directory: Int32, key: InodeKey, isDirectory: Bool) -> Mark? {
        guard !rules.namesDurableAtOnce else { return nil }
        return Mark(entry: NameEntry(undo: .remove(directory: key, name: name, isDirectory: isDirectory), durableWith: key),
                    held: nil, freshName: FreshName(directory: key, name: name), directories: [(key, directory)])
    }

    /// Before removing `name` from `directory` (unlink, rmdir): keeps the file by a hard link, or the
    /// directory's mode and owner.
    public func beginRemove(_ name: [UInt8], in directory: Int32, key: InodeKey, isDirectory: Bool) -> Mark? {
        guard !rules.namesDurableAtOnce else { return nil }
        let fresh = FreshName(directory: key, name: name)
        if let made = state.withLock({ $0.fresh[fresh] }) {
            return Mark(entry: nil, held: nil, freshName: fresh, cancels: made, directories: [])
        }
        guard let (undo, held, file) = keep(name, in: directory, key: key) else { return nil }
        return Mark(entry: NameEntry(undo: undo, durableWith: key), held: held, heldFile: file, directories: [(key, directory)])
    }

    /// Before renaming `name` in `directory` to `newName` in `newDirectory` with `flags` (`RenameFlags`).
    public func beginRename(_ name: [UInt8], in directory: Int32, key: InodeKey, to newName: [UInt8], in newDirectory: Int32,
                            newKey: InodeKey, flags: RenameFlags) -> Mark? {
        guard !rules.namesDurableAtOnce else { return nil }
        let exchange = flags.contains(.exchange)
        var replaced: NameUndo?, held: [UInt8]?, heldFile: InodeKey?
        if !exchange, let (undo, link, file) = keep(newName, in: newDirectory, key: newKey) {
            replaced = undo
            held = link
            heldFile = file
        }
        let undo = NameUndo.rename(from: key, name: name, to: newKey, newName: newName, exchange: exchange, replaced: replaced)
        return Mark(entry: NameEntry(undo: undo, durableWith: newKey), held: held, heldFile: heldFile,
                    directories: [(key, directory), (newKey, newDirectory)])
    }

    /// After the change `mark` was made for: recorded when it succeeded, forgotten (its held link
    /// removed) when not.
    public func finish(_ mark: Mark?, succeeded: Bool) {
        guard let mark else { return }
        if let made = mark.cancels {
            guard succeeded else { return }
            state.withLock { state in
                if let fresh = mark.freshName { state.fresh[fresh] = nil }
                guard let index = state.names.lastIndex(where: { $0.id == made }) else { return }
                forget(&state, state.names.remove(at: index).undo)
            }
            return
        }
        guard succeeded, var entry = mark.entry else {
            if let held = mark.held {
                _ = Self.withName(held) { unlinkat(heldFD, $0, 0) }
                if let file = mark.heldFile { state.withLock { Self.dropHeldLink(&$0, file) } }
            }
            return
        }
        var st = stat()
        if let usage, let held = mark.held, let file = mark.heldFile,
           Self.withName(held, { fstatat(heldFD, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0,
           Int(st.st_nlink) == state.withLock({ $0.heldLinks[file] ?? 0 }) {
            // Its last name in the volume is gone: its blocks are free there, as the volume's own file
            // system frees them (the link the journal holds counts for nothing; a power loss recounts).
            var last = Allocation(st)
            last.links = 1
            usage.removedName(of: last)
        }
        state.withLock { state in
            for (key, fd) in mark.directories {
                if let known = state.directories[key] {
                    state.directories[key] = (known.fd, known.references + 1)
                } else {
                    let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
                    if copy >= 0 { state.directories[key] = (copy, 1) }
                }
            }
            entry.id = state.nextEntry
            state.nextEntry += 1
            // Whatever this change touched is no longer a fresh name; a new name is one.
            switch entry.undo {
            case .rename(let from, let name, let to, let newName, _, _):
                state.fresh[FreshName(directory: from, name: name)] = nil
                state.fresh[FreshName(directory: to, name: newName)] = nil
            case .relink(let directory, let name, _, _), .remakeDirectory(let directory, let name, _, _, _):
                state.fresh[FreshName(directory: directory, name: name)] = nil
            case .remove:
                break
            }
            if let fresh = mark.freshName { state.fresh[fresh] = entry.id }
            state.names.append(entry)
        }
    }

    /// After a successful fsync of the directory `key`: the name changes it makes durable are kept.
    public func directorySynced(_ key: InodeKey) {
        state.withLock { state in
            if !state.fresh.isEmpty { state.fresh = state.fresh.filter { $0.key.directory != key } }
            guard state.names.contains(where: { $0.durableWith == key }) else { return }
            var kept: [NameEntry] = []
            for entry in state.names {
                if entry.durableWith == key { forget(&state, entry.undo) } else { kept.append(entry) }
            }
            state.names = kept
        }
    }

    /// The undo that puts back `name` in `directory` as it is now, keeping its file by a hard link:
    /// nil when there is nothing there.
    private func keep(_ name: [UInt8], in directory: Int32, key: InodeKey) -> (NameUndo, [UInt8]?, InodeKey?)? {
        var st = stat()
        guard Self.withName(name, { fstatat(directory, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return nil }
        if st.st_mode & S_IFMT == S_IFDIR {
            return (.remakeDirectory(directory: key, name: name, mode: st.st_mode & 0o7777, uid: st.st_uid, gid: st.st_gid), nil, nil)
        }
        let file = InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        let held = state.withLock { state -> [UInt8] in
            defer { state.nextHeld += 1 }
            state.heldLinks[file, default: 0] += 1
            return Array("h\(state.nextHeld)".utf8)
        }
        let linked = Self.withName(name) { source in Self.withName(held) { linkat(directory, source, heldFD, $0, 0) } }
        guard linked == 0 else {
            state.withLock { Self.dropHeldLink(&$0, file) }
            return nil
        }
        return (.relink(directory: key, name: name, held: held, file: file), held, file)
    }

    private static func dropHeldLink(_ state: inout State, _ file: InodeKey) {
        let count = (state.heldLinks[file] ?? 1) - 1
        state.heldLinks[file] = count > 0 ? count : nil
    }

    /// Drops what an entry kept (its held link, its directory references).
    private func forget(_ state: inout State, _ undo: NameUndo) {
        switch undo {
        case .remove(let directory, _, _), .remakeDirectory(let directory, _, _, _, _):
            unreference(&state, directory)
        case .relink(let directory, _, let held, let file):
            _ = Self.withName(held) { unlinkat(heldFD, $0, 0) }
            Self.dropHeldLink(&state, file)
            unreference(&state, directory)
        case .rename(let from, _, let to, _, _, let replaced):
            unreference(&state, from)
            if let replaced {
                forget(&state, replaced)
            } else {
                unreference(&state, to)
            }
        }
    }

    private func unreference(_ state: inout State, _ key: InodeKey) {
        guard let known = state.directories[key] else { return }
        if known.references <= 1 {
            close(known.fd)
            state.directories[key] = nil
        } else {
            state.directories[key] = (known.fd, known.references - 1)
        }
    }

    // MARK: - Power loss

    /// Takes back everything not durable: names newest first, then each file's data (its synced size,
    /// then its saved blocks). The journal is empty afterwards.
    @discardableResult
    public func apply() -> Outcome {
        state.withLock { state in
            var outcome = Outcome()
            for entry in state.names.reversed() {
                if undo(entry.undo, &state) { outcome.namesReverted += 1 } else { outcome.failures += 1 }
                forget(&state, entry.undo)
            }
            state.names.removeAll()
            state.fresh.removeAll()
            var buffer = [UInt8](repeating: 0, count: Int(Self.blockSize))
            for (_, file) in state.files {
                let writer = Self.reopen(file.fd, O_WRONLY)
                if writer < 0 {
                    outcome.failures += 1
                } else {
                    // A pending snapshot first gets what the point in time held there (copy before write).
                    preservation?.beforeChange(file.fd, from: file.syncedSize, to: UInt64.max)
                    var ok = ftruncate(writer, off_t(file.syncedSize)) == 0
                    for (block, saved) in file.saved.blocks {
                        preservation?.beforeChange(file.fd, from: block * Self.blockSize, to: block * Self.blockSize + UInt64(saved.length))
                        let got = buffer.withUnsafeMutableBytes { pread(blocksFD, $0.baseAddress, saved.length, off_t(saved.slot * Self.blockSize)) }
                        let put = got == saved.length
                            ? buffer.withUnsafeBytes { pwrite(writer, $0.baseAddress, saved.length, off_t(block * Self.blockSize)) } : -1
                        if put != saved.length { ok = false }
                    }
                    close(writer)
                    if ok { outcome.filesReverted += 1 } else { outcome.failures += 1 }
                }
                close(file.fd)
            }
            state.files.removeAll()
            state.freeSlots.removeAll()
            state.nextSlot = 0
            _ = ftruncate(blocksFD, 0)
            return outcome
        }
    }

    private func undo(_ undo: NameUndo, _ state: inout State) -> Bool {
        func fd(_ key: InodeKey) -> Int32 { state.directories[key]?.fd ?? -1 }
        switch undo {
        case .remove(let directory, let name, let isDirectory):
            // A pending snapshot keeps the file for its copy (a hard link in its `hold`).
            if !isDirectory { _ = Self.withName(name) { preservation?.beforeRemovingName($0, in: fd(directory)) } }
            return Self.withName(name) { unlinkat(fd(directory), $0, isDirectory ? AT_REMOVEDIR : 0) } == 0
        case .relink(let directory, let name, let held, _):
            return Self.withName(held) { source in Self.withName(name) { linkat(heldFD, source, fd(directory), $0, 0) } } == 0
        case .remakeDirectory(let directory, let name, let mode, let uid, let gid):
            let made = Self.withName(name) { mkdirat(fd(directory), $0, mode) } == 0
            if made { _ = Self.withName(name) { fchownat(fd(directory), $0, uid, gid, AT_SYMLINK_NOFOLLOW) } }
            return made
        case .rename(let from, let name, let to, let newName, let exchange, let replaced):
            let moved: Bool
            if exchange {
                let store = DirectoryStore(borrowingRoot: fd(to), folding: nil)
                moved = (try? store.rename(newName, in: fd(to), to: name, in: fd(from), flags: .exchange)) != nil
            } else {
                // Moving it back replaces whatever has that name now: a pending snapshot keeps it.
                _ = Self.withName(name) { preservation?.beforeRemovingName($0, in: fd(from)) }
                moved = Self.withName(newName) { target in Self.withName(name) { renameat(fd(to), target, fd(from), $0) } } == 0
            }
            guard moved else { return false }
            if let replaced { return self.undo(replaced, &state) }
            return true
        }
    }

    static func withName<T>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (name + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress else { return body("") }
                return body(base)
            }
        }
    }
}

#endif
