import CFuse3
import CBerthShims
import EmulatorCore
import Glibc
import Synchronization

/// Gives the server's descriptors back before they run out. The server holds one per file and
/// directory the kernel knows (`Inode.fd`) and one per open file, and the kernel keeps every name it
/// looked up cached until memory runs short, each cached name holding its inode: one process creating
/// 20,000 files or listing 100,000 with `ls -l` used to take every descriptor of a server whose limit
/// was 20,000, and every other process then got EMFILE, opening existing files too.
///
/// The thread watches the lowest free descriptor number (RLIMIT_NOFILE bounds numbers, handed out
/// lowest first: when it reaches the limit, opens answer EMFILE). The paths that keep descriptors
/// (lookups, opens) ring `DescriptorAlarm` when the number they got passes the trigger; the thread also
/// looks every 200 ms for the descriptors opened elsewhere. Once the number passes the trigger, it asks the kernel to drop the cached names at the top of the mount
/// (FUSE_NOTIFY_INVAL_ENTRY); dropping a directory's name drops every unused name below it too. The
/// kernel then forgets the inodes nobody uses (a FUSE inode is evicted as soon as nothing holds it),
/// and each FORGET closes a descriptor. What stays is what processes really hold: open files and
/// their directories, current directories. The next use of a dropped name costs one lookup more.
final class DescriptorReclaimer: Sendable {
    private let fs: MountFileSystem
    private let session: UInt
    private let mountpoint: String
    private let stopped = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)
    let limit: Int32
    /// The first trigger: half the limit (at least 256 below it).
    let firstTrigger: Int32
    /// Descriptors kept open to be closed when the walk needs some of its own at the limit.
    private let reserve = Mutex<[Int32]>([])
    /// How many walks were made (diagnostics).
    let walks = Atomic<Int>(0)

    init(session: OpaquePointer, fs: MountFileSystem, mountpoint: String, openFileLimit: UInt64) {
        self.session = UInt(bitPattern: session)
        self.fs = fs
        self.mountpoint = mountpoint
        limit = Int32(min(openFileLimit, UInt64(Int32.max)))
        firstTrigger = max(16, limit - max(limit / 2, 256))
        fs.descriptorAlarm.arm(trigger: firstTrigger, first: firstTrigger)
        refillReserve()
        let thread = ServiceThread.start(blockingSignals: true) { [self] in watch() }
        self.thread.withLock { $0 = thread }
    }

    /// Called once the loop returned, before the session goes; waits for the thread to finish.
    func stop() {
        stopped.store(true, ordering: .releasing)
        fs.descriptorAlarm.wake()
        if let thread = thread.withLock({ $0 }) { pthread_join(thread, nil) }
        fs.descriptorAlarm.disarm()
        reserve.withLock { fds in
            fds.forEach { close($0) }
            fds.removeAll()
        }
    }

    /// The lowest free descriptor number; `limit` when none is free.
    var lowestFree: Int32 {
        let probe = fcntl(fs.inodes.root.fd, F_DUPFD_CLOEXEC, 0)
        guard probe >= 0 else { return limit }
        close(probe)
        return probe
    }

    /// The trigger follows what stays open: after each walk it is set halfway between the lowest free
    /// descriptor the walk left and the limit (never below `firstTrigger`). Descriptors held by open
    /// files thus raise it, and walks get rarer as the limit nears instead of repeating in vain; a
    /// walk that left nothing free is followed by a pause of 1 s.
    /// The thread sleeps until the alarm rings or 200 ms pass: it used to look every 20 ms, and those
    /// 50 wake-ups a second cost random 4 KiB reads 3–7% (docs/SEMANTICS.md, Performance).
    private func watch() {
        let alarm = fs.descriptorAlarm
        while !stopped.load(ordering: .acquiring) {
            alarm.wait(milliseconds: 200)
            if stopped.load(ordering: .acquiring) { break }
            let before = lowestFree
            guard before >= alarm.trigger else {
                // Descriptors came back by themselves (files closed, names forgotten): start over.
                if before < firstTrigger { alarm.lower(to: firstTrigger) }
                continue
            }
            reclaim()
            usleep(20_000)
            let after = lowestFree
            alarm.raise(to: max(firstTrigger, after + (limit - after) / 2))
            if after >= limit - 1 { usleep(1_000_000) }
        }
    }

    /// Drops the kernel's cached names at the top of the mount. Where something is mounted on a
    /// directory inside the mount (dropping that directory's name would detach it), it drops the names
    /// of files only, directory by directory, through the directories the kernel knows.
    func reclaim() {
        guard let se = OpaquePointer(bitPattern: session) else { return }
        walks.wrappingAdd(1, ordering: .relaxed)
        // At the limit the walk needs descriptors of its own: the reserve's are freed for it.
        let spare = reserve.withLock { fds -> [Int32] in
            defer { fds.removeAll() }
            return fds
        }
        spare.forEach { close($0) }
        defer { refillReserve() }
        let keepDirectories = hasMountsBelow()
        let holdingProcesses = directoriesHoldingProcesses()
        var pending: [(ino: fuse_ino_t, inode: Inode)] = [(fuse_ino_t(FUSE_ROOT_ID), fs.inodes.root)]
        while let (ino, directory) = pending.popLast(), !stopped.load(ordering: .relaxed) {
            let fd = openat(directory.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            guard let dir = fdopendir(fd) else {
                close(fd)
                continue
            }
            while let entry = readdir(dir) {
                let name = UnsafeRawPointer(entry).advanced(by: Operations.direntNameOffset)
                    .assumingMemoryBound(to: CChar.self)
                let length = strlen(name)
                if (length == 1 && name[0] == 0x2E) || (length == 2 && name[0] == 0x2E && name[1] == 0x2E) { continue }
                // Only names whose file the kernel holds: each notification takes the directory's lock
                // in the kernel. (A stat, not the entry's d_ino, which overlayfs may report otherwise.)
                var info = stat()
                guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0,
                      let known = fs.inodes.known(InodeKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
                else { continue }
                if !known.isRegular && (keepDirectories || holdingProcesses.contains(UInt64(info.st_ino))) {
                    pending.append((fuse_ino_t(UInt(bitPattern: Unmanaged.passUnretained(known).toOpaque())), known))
                    continue
                }
                // Not once the loop has ended: a request the kernel still holds a directory's lock for
                // would then never be answered, and the notification would wait for it.
                if fuse_session_exited(se) != 0 { break }
                _ = fuse_lowlevel_notify_inval_entry(se, ino, name, length)
            }
            closedir(dir)
        }
    }

    /// The directories of this mount that some process has as its current or root directory, and
    /// every directory above them up to the mount's root (inode numbers, as the mount reports them).
    /// Their names are never dropped, only the names below them: dropping a directory's name unhashes
    /// it in the kernel even while it is in use, and then getcwd(3) fails with ENOENT in every process
    /// inside it (git: "unable to get current working directory"), and the names created under it are
    /// out of this walk's reach (the server then ran out of descriptors: EMFILE).
    /// Found through /proc/PID/cwd and /proc/PID/root and `..` from there, with AT_STATX_DONT_SYNC:
    /// the kernel answers from what it holds, without a request to any FUSE server.
    func directoriesHoldingProcesses() -> Set<UInt64> {
        var mountDevice: UInt64 = 0, rootInode: UInt64 = 0
        guard berth_statx_identity(AT_FDCWD, mountpoint, 0, &mountDevice, &rootInode) == 0,
              let processes = opendir("/proc") else { return [] }
        defer { closedir(processes) }
        var held = Set<UInt64>()
        while let entry = readdir(processes) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { continue }
            for link in ["cwd", "root"] {
                var directory = open("/proc/\(name)/\(link)", berth_O_PATH | O_DIRECTORY | O_CLOEXEC)
                while directory >= 0 {
                    var device: UInt64 = 0, inode: UInt64 = 0
                    let onThisMount = berth_statx_identity(directory, "", berth_AT_EMPTY_PATH, &device, &inode) == 0
                        && device == mountDevice && inode != rootInode
                    guard onThisMount, held.insert(inode).inserted else {
                        close(directory)
                        break
                    }
                    let parent = openat(directory, "..", berth_O_PATH | O_DIRECTORY | O_CLOEXEC)
                    close(directory)
                    directory = parent
                }
            }
        }
        return held
    }

    /// Whether anything is mounted below the mount point (in this server's mount namespace).
    func hasMountsBelow() -> Bool {
        guard let file = fopen("/proc/self/mountinfo", "re") else { return true }
        defer { fclose(file) }
        let prefix = Array((mountpoint.hasSuffix("/") ? mountpoint : mountpoint + "/").utf8)
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            // Field 5 is the mount point (octal escapes for spaces and the like, which only makes a
            // prefix match of such a path fail: then directories are kept, the safe side).
            var field = 0
            var start = line
            var cursor = line
            while cursor.pointee != 0 {
                if cursor.pointee == 0x20 {
                    field += 1
                    if field == 4 { start = cursor + 1 }
                    if field == 5 {
                        let length = cursor - start
                        if length > prefix.count,
                           prefix.withUnsafeBufferPointer({ buffer in buffer.baseAddress.map { memcmp(start, $0, prefix.count) == 0 } ?? false }) {
                            return true
                        }
                        break
                    }
                }
                cursor += 1
            }
        }
        return false
    }

    private func refillReserve() {
        reserve.withLock { fds in
            while fds.count < 4 {
                let fd = fcntl(fs.inodes.root.fd, F_DUPFD_CLOEXEC, 0)
                if fd < 0 { break }
                fds.append(fd)
            }
        }
    }
}

/// Wakes the descriptor reclaimer as soon as a descriptor the server keeps has a number at or above
/// its trigger, so that it need not look every few milliseconds. Descriptors are handed out lowest
/// first, so the number an open got is the lowest that was free: the same figure the reclaimer
/// measures. A number below the first trigger shows that descriptors came back, and lowers the
/// trigger again, as the reclaimer's own look would.
final class DescriptorAlarm: Sendable {
    /// Int32.max until a reclaimer arms it: nothing rings.
    private let triggerNumber = Atomic<Int32>(.max)
    private let firstTrigger = Atomic<Int32>(.max)
    private let rung = Atomic<Bool>(false)
    /// An eventfd the reclaimer polls; -1 if none could be made (the reclaimer then looks every 20 ms).
    private let event: Int32

    init() { event = berth_alarm_eventfd() }

    deinit { if event >= 0 { close(event) } }

    var trigger: Int32 { triggerNumber.load(ordering: .relaxed) }

    func arm(trigger: Int32, first: Int32) {
        firstTrigger.store(first, ordering: .relaxed)
        triggerNumber.store(trigger, ordering: .relaxed)
    }

    func disarm() { arm(trigger: .max, first: .max) }

    func raise(to trigger: Int32) { triggerNumber.store(trigger, ordering: .relaxed) }

    func lower(to trigger: Int32) { triggerNumber.store(trigger, ordering: .relaxed) }

    /// Called with each descriptor the server keeps beyond the request (an inode's, an open file's).
    @inline(__always)
    func noteKept(_ fd: Int32) {
        let trigger = triggerNumber.load(ordering: .relaxed)
        if fd >= trigger {
            if !rung.exchange(true, ordering: .acquiringAndReleasing) { wake() }
        } else {
            let first = firstTrigger.load(ordering: .relaxed)
            if fd < first && trigger != first { triggerNumber.store(first, ordering: .relaxed) }
        }
    }

    /// Ends the reclaimer's current or next wait.
    func wake() {
        guard event >= 0 else { return }
        var one: UInt64 = 1
        _ = write(event, &one, 8)
    }

    /// Waits until the alarm rings or `milliseconds` pass.
    func wait(milliseconds: Int32) {
        guard event >= 0 else {
            usleep(20_000)
            return
        }
        var request = pollfd(fd: event, events: Int16(POLLIN), revents: 0)
        if poll(&request, 1, milliseconds) > 0 {
            // Cleared before the event is read: a ring after this point wakes the next wait, and the
            // look that follows this one sees its descriptor anyway.
            rung.store(false, ordering: .releasing)
            var count: UInt64 = 0
            _ = read(event, &count, 8)
        }
    }
}
