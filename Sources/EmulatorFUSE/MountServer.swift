import CBerthShims
import CFuse3
import CFuseTransport
public import EmulatorCore
import Glibc
import Synchronization

/// Serves one emulated volume as a FUSE mount, in the foreground of the calling thread, until the
/// mount is unmounted (`fusermount3 -u`, `umount`) or the process gets SIGINT, SIGTERM or SIGHUP.
/// Never forks (shared notes fuse-from-swift.md, "Daemonizing kills the process"): a background
/// mount is a separately spawned process that calls this.
public enum MountServer {
    /// Worker threads at most. A lock wait (F_SETLKW, blocking flock) holds none: it is parked in the
    /// mount's `LockWaitQueue` and answered from that queue's one thread (`Operations.answerLock`).
    public static let maxThreads: UInt32 = 256

    /// Whether requests go through io_uring when the kernel offers it: only with BERTH_FUSE_IO_URING=1,
    /// since on the machine measured it sped up git and metadata but slowed PostgreSQL and sequential
    /// reads (SEMANTICS.md, *FUSE over io_uring*).
    static var wantsIOUring: Bool { getenv("BERTH_FUSE_IO_URING").map { String(cString: $0) == "1" } ?? false }

    /// Mounts `configuration.backingDirectory` on `configuration.mountpoint` and serves it. Calls
    /// `onReady` once the kernel has completed the FUSE handshake (the mount answers from then on),
    /// from a worker thread. Returns after a clean unmount; throws when the mount could not be made.
    public static func serve(_ configuration: MountConfiguration,
                             onReady: @escaping @Sendable () -> Void = {}) throws(MountError) {
        do {
            try configuration.validate()
        } catch {
            throw .configuration(error)
        }
        // Modes exactly as the kernel asks: it has already applied the caller's umask (no
        // FUSE_CAP_DONT_MASK), and the server's own (a shell's 022) would mask them a second time.
        umask(0)
        try prepareMountpoint(configuration.mountpoint)
        try createDirectory(configuration.sharedStateDirectory)
        let openFileLimit = raiseOpenFileLimit()

        // The volume's directory, or the one an access point or a `rootDirectory` exposes (ServedRoot).
        let rootFD = configuration.openServedRoot()
        guard rootFD >= 0 else { throw .backingDirectory(configuration.servedDirectoryPath, errno: -rootFD) }
        var rootStat = stat()
        guard statOf(rootFD, &rootStat) == 0 else {
            close(rootFD)
            throw .backingDirectory(configuration.backingDirectory, errno: errno)
        }
        let root = Inode(fd: rootFD, key: InodeKey(device: UInt64(rootStat.st_dev), inode: UInt64(rootStat.st_ino)),
                         isRegular: false)

        let usage: VolumeUsage?
        let generation: VolumeCounter?
        let nameRemovals: VolumeCounter?
        let liveMounts: VolumeCounter?
        let freeze: WriteFreeze
        let preservation: SnapshotPreservation
        let caseFolding: CaseFoldedDirectories?
        let faultGate: FaultGate
        do {
            freeze = try WriteFreeze(sharedStateDirectory: configuration.sharedStateDirectory)
            preservation = try SnapshotPreservation(sharedStateDirectory: configuration.sharedStateDirectory)
            faultGate = FaultGate(faults: try VolumeFaults(sharedStateDirectory: configuration.sharedStateDirectory),
                                  ioTimeout: configuration.ioTimeout)
            usage = try configuration.capacityBytes.map { capacity throws(SharedStateError) in
                try VolumeUsage(sharedStateDirectory: configuration.sharedStateDirectory,
                                backingDirectory: configuration.backingDirectory, capacityBytes: capacity)
            }
            generation = configuration.cachePolicy == .shared
                ? try VolumeCounter(.closedWritableHandles, sharedStateDirectory: configuration.sharedStateDirectory) : nil
            nameRemovals = configuration.cachePolicy == .shared
                ? try VolumeCounter(.removedNames, sharedStateDirectory: configuration.sharedStateDirectory) : nil
            liveMounts = configuration.cachePolicy == .shared
                ? try VolumeCounter(.liveMounts, sharedStateDirectory: configuration.sharedStateDirectory) : nil
            caseFolding = configuration.nameRules.caseInsensitive
                ? try CaseFoldedDirectories(sharedStateDirectory: configuration.sharedStateDirectory,
                                            rules: configuration.nameRules)
                : nil
        } catch {
            throw .sharedState(error)
        }

        let fs = MountFileSystem(configuration: configuration, root: root, usage: usage, generation: generation,
                                 nameRemovals: nameRemovals, liveMounts: liveMounts, freeze: freeze, caseFolding: caseFolding,
                                 cloneSharing: CloneSharing(sharedStateDirectory: configuration.sharedStateDirectory),
                                 faultGate: faultGate, preservation: preservation, onReady: onReady)
        let userdata = Unmanaged.passRetained(fs)
        defer {
            fs.inodes.removeAll()
            userdata.release()
        }
        // Counted before this mount answers anything, and given the other mounts' watchers (10 ms ticks)
        // time to make their kernels drop the directory names they kept while alone. A server that is
        // killed leaves the count one too high: the volume's mounts then never keep directory names,
        // which costs speed, never correctness.
        if let liveMounts, liveMounts.advance() > 1 { usleep(25_000) }
        defer { liveMounts?.retreat() }

        var options = "fsname=\(configuration.volumeID),subtype=berth-\(configuration.serviceType.rawValue)"
        // default_permissions: the kernel checks modes and ownership as a local filesystem would, except
        // through an EFS access point with a POSIX user, whose identity the server checks instead
        // (AccessPointChecks.swift); allow_other: tasks and container runtimes run as other users than
        // the one mounting; only where fusermount3 would accept it (MountSharing), since it refuses the
        // whole mount otherwise.
        if configuration.identity == nil { options += ",default_permissions" }
        options += ",max_read=\(1 << 20)"
        if configuration.allowOtherUsers { options += ",allow_other" }
        if configuration.readOnly { options += ",ro" }
        let arguments: [String] = ["berth", "-o", options]
        let argv = arguments.map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var cArgv: [UnsafeMutablePointer<CChar>?] = argv + [nil]
        try cArgv.withUnsafeMutableBufferPointer { buffer throws(MountError) in
            var args = fuse_args(argc: Int32(argv.count), argv: buffer.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&args) }
            var ops = Operations.table(extendedAttributes: configuration.extendedAttributes,
                                      serverLocks: configuration.lockScope.serverHoldsLocks)
            if configuration.identity != nil {
                ops.access = Operations.accessPointAccess
                // A listing's entries would skip the search-permission check of each LOOKUP.
                ops.readdirplus = nil
            }
            guard let session = fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size,
                                                 userdata.toOpaque()) else {
                throw .session("fuse_session_new failed (see the message above)")
            }
            defer { fuse_session_destroy(session) }
            fs.sessionAddress.store(UInt(bitPattern: session), ordering: .relaxed)
            guard fuse_set_signal_handlers(session) == 0 else { throw .session("cannot install signal handlers") }
            defer { fuse_remove_signal_handlers(session) }
            guard fuse_session_mount(session, configuration.mountpoint) == 0 else {
                throw .mountFailed(configuration.mountpoint)
            }
            defer { fuse_session_unmount(session) }
            // Requests read and replies written as libfuse would, plus the flags libfuse 3.14 cannot
            // pass (CBerthShims fuse_io.c). No splice_receive: requests are read whole, so the kill flag of
            // a WRITE is seen (libfuse already reads them so: its pipe is over fs.pipe-max-size here).
            var io = fuse_custom_io()
            io.read = berth_fuse_read
            io.writev = berth_fuse_writev
            io.splice_send = berth_fuse_splice_send
            guard fuse_session_custom_io(session, &io, fuse_session_fd(session)) == 0 else {
                throw .session("fuse_session_custom_io failed")
            }
            // FUSE over io_uring where the kernel offers it and BERTH_FUSE_IO_URING=1 asks for it
            // (CFuseTransport fuse_ring.c; SEMANTICS.md, *FUSE over io_uring*).
            guard berth_fuse_ring_prepare(session, userdata.toOpaque(), Self.wantsIOUring ? 1 : 0) == 0 else {
                throw .session("cannot prepare the io_uring transport")
            }
            defer {
                // The lock waits in progress are answered (ENOLCK) while the rings still carry replies;
                // through /dev/fuse the destroy callback answers them later, as the session goes.
                if berth_fuse_ring_active(userdata.toOpaque()) != 0 { fs.locks.releaseAll() }
                berth_fuse_ring_stop(userdata.toOpaque())
            }

            guard let loopConfig = fuse_loop_cfg_create() else { throw .session("fuse_loop_cfg_create failed") }
            defer { fuse_loop_cfg_destroy(loopConfig) }
            // A /dev/fuse descriptor of its own per worker: when the session ends, the workers still
            // answer the lock waits in progress (ENOLCK) before the connection goes. With one shared
            // descriptor the kernel aborted them first and the callers got ECONNABORTED
            // (TenantIsolationMountTests.waitsInProgressWhenTheServerStopsFailWithENOLCK); the speed
            // difference measured either way is within the noise (SEMANTICS.md, *Performance*).
            fuse_loop_cfg_set_clone_fd(loopConfig, 1)
            fuse_loop_cfg_set_max_threads(loopConfig, maxThreads)
            // Idle workers stay (as with libfuse's default; there are at most `maxThreads`): with at most 8
            // idle, bursts of reads (PostgreSQL on efs) made workers exit and start again, 910 times in one
            // pgbench run, each a clone, an open of /dev/fuse and its FUSE_DEV_IOC_CLONE ioctl.
            fuse_loop_cfg_set_idle_threads(loopConfig, maxThreads)
            // The loop may run on a dispatch worker thread, which blocks most signals; libfuse's
            // workers inherit this thread's mask, and they must receive the stop signals; this thread
            // must receive the wake signal with which ShutdownNudger ends the loop's wait.
            var unblock = sigset_t(), previous = sigset_t()
            sigemptyset(&unblock)
            for signal in [SIGINT, SIGTERM, SIGHUP, LockWaits.wakeSignal] { sigaddset(&unblock, signal) }
            pthread_sigmask(SIG_UNBLOCK, &unblock, &previous)
            defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
            let nudger = ShutdownNudger(session: session, watching: fs)
            let reclaimer = DescriptorReclaimer(session: session, fs: fs, mountpoint: configuration.mountpoint,
                                                 openFileLimit: openFileLimit)
            let status = fuse_session_loop_mt(session, loopConfig)
            reclaimer.stop()
            nudger.stop()
            // Positive: the signal that ended the loop (a requested stop); negative: an error.
            if status < 0 { throw .loop(errno: -status) }
        }
    }

    /// The server holds a descriptor for every file and directory the kernel knows on the mount (as
    /// libfuse's passthrough_hp does) and one per open file, so its open-file limit bounds what all the
    /// mount's users together can look up and hold open: one process creating 20,000 files, listing
    /// 100,000 with `ls -l` or holding 10,000 open used to use up a hard limit of 20,000, and every
    /// other process then got EMFILE, opening existing files too. Root (CAP_SYS_RESOURCE) raises both
    /// limits to the kernel's ceiling for one process, `fs.nr_open` (1,048,576 by default); others
    /// raise the soft limit to the hard one, as passthrough_hp does. Returns the soft limit now in force.
    @discardableResult
    static func raiseOpenFileLimit() -> UInt64 {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        if let ceiling = kernelOpenFileCeiling(), ceiling > limit.rlim_max {
            var raised = rlimit(rlim_cur: rlim_t(ceiling), rlim_max: rlim_t(ceiling))
            if setrlimit(resource, &raised) == 0 { return UInt64(ceiling) }
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            if setrlimit(resource, &limit) != 0 { _ = getrlimit(resource, &limit) }
        }
        return UInt64(limit.rlim_cur)
    }

    /// `/proc/sys/fs/nr_open`: the highest RLIMIT_NOFILE a process may be given.
    static func kernelOpenFileCeiling() -> rlim_t? {
        let fd = Glibc.open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let digits = buffer.prefix(count).prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return rlim_t(String(decoding: digits, as: UTF8.self))
    }

    /// The mountpoint must be an existing directory. Mounts left answering ENOTCONN by servers that
    /// were killed (shared notes: "Transport endpoint is not connected") are detached first, however
    /// many are stacked there; `DeadMounts.state` says why it asks statvfs rather than stat.
    static func prepareMountpoint(_ path: String) throws(MountError) {
        for _ in 0..<DeadMounts.maximumStacked where DeadMounts.state(of: path) == .disconnected {
            umount2(path, Int32(MNT_DETACH))
        }
        var st = stat()
        guard stat(path, &st) == 0 else { throw .mountpoint(path, errno: errno) }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw .mountpoint(path, errno: ENOTDIR) }
    }

    static func createDirectory(_ path: String) throws(MountError) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if Glibc.mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .sharedState(.system(operation: "mkdir", path: prefix, errno: errno))
            }
        }
    }
}

/// Watches the mount every 10 ms: answers snapshot freezes, invalidates the kernel's caches when the mount
/// is cut off or when another mount removed a name, and makes sure a stop request ends the loop. libfuse's signal handler only marks the session as
/// exited and relies on the signal interrupting the loop's own wait; when the signal lands on another
/// thread (the Swift runtime's, or dispatch's main thread under an async `main`), the loop would
/// sleep until the next request. This thread notices the mark and interrupts the loop's wait with
/// the no-op wake signal.
final class ShutdownNudger: Sendable {
    private let session: UInt
    private let loopThread: pthread_t
    private let stopped = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)
    private let fs: MountFileSystem

    init(session: OpaquePointer, watching fs: MountFileSystem) {
        self.session = UInt(bitPattern: session)
        self.fs = fs
        loopThread = pthread_self()
        LockWaits.installWakeHandler()
        let thread = ServiceThread.start(blockingSignals: false) { [self] in watch() }
        self.thread.withLock { $0 = thread }
    }

    private func watch() {
        var wasCutOff = false
        var lastMounts: UInt64 = 1
        var ticks = 0
        // Names other mounts removed: counted as the volume's removals less this mount's own, each read
        // before the count it is part of is advanced, so the difference never runs ahead of the truth.
        var foreignRemovals: UInt64 = 0
        if let removals = fs.nameRemovals { foreignRemovals = removals.current &- fs.ownNameRemovals.load(ordering: .relaxed) }
        while !stopped.load(ordering: .acquiring) {
            usleep(10_000)
            ticks += 1
            guard let se = OpaquePointer(bitPattern: session) else { continue }
            if ticks % 5 == 0, fuse_session_exited(se) != 0, !stopped.load(ordering: .acquiring) {
                pthread_kill(loopThread, LockWaits.wakeSignal)
            }
            fs.freeze.acknowledgeIfRequested()
            fs.semantics.rules.preservation?.watch()
            // An outage must reach open files and cached names too: drop the kernel's cached pages and
            // attributes, so that the next read or stat comes here and gets EIO instead of being served
            // from the cache, and make every cached name be looked up again, which answers EIO too
            // (instead of ENOTDIR, EINVAL or ENOENT from the kernel's name cache).
            let cutOff = fs.isCutOff
            // A power loss takes back what was not durable: nothing cached of it may answer afterwards.
            let lostPower = fs.powerLoss?.answerRequest(freeze: fs.freeze, afterwards: {
                fs.usage?.recount(backingDirectory: fs.configuration.backingDirectory)
            }) != nil
            if cutOff && !wasCutOff || lostPower {
                for ino in fs.inodes.allNumbers() { _ = fuse_lowlevel_notify_inval_inode(se, ino, 0, 0) }
                if !fs.expireCachedNames() { invalidateRootNames(se) }
            }
            wasCutOff = cutOff
            // A second mount started: the directory names kept while this one was alone must be looked
            // up again (`MountFileSystem.entryTimeout(for:)`).
            if let liveMounts = fs.liveMounts {
                let mounts = liveMounts.current
                if mounts > 1 && lastMounts <= 1 && !cutOff, !fs.expireCachedNames() { invalidateRootNames(se) }
                lastMounts = mounts
            }
            // Another mount removed or replaced a name: whatever this kernel cached under it must not
            // answer any longer. A file's cached name used as a directory on a path would answer ENOTDIR
            // without asking this server, and no open could check it (`Operations.staleOrigin`).
            if let removals = fs.nameRemovals {
                let total = removals.current
                let foreign = total &- fs.ownNameRemovals.load(ordering: .relaxed)
                if foreign > foreignRemovals && foreign < foreignRemovals &+ (1 << 62) {
                    foreignRemovals = foreign
                    if !cutOff { fs.expireCachedNames() }
                }
            }
        }
    }

    /// Before Linux 6.16 (no FUSE_NOTIFY_INC_EPOCH): drops the kernel's cached names of the root's
    /// entries, and with each directory's name everything cached below it. From this thread, which holds
    /// no request, so waiting for the root's lock is safe.
    private func invalidateRootNames(_ se: OpaquePointer) {
        let fd = openat(fs.inodes.root.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let dir = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return
        }
        defer { closedir(dir) }
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19
        while let entry = readdir(dir) {
            let name = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self)
            if Operations.isDotOrDotDot(name) { continue }
            _ = fuse_lowlevel_notify_inval_entry(se, fuse_ino_t(FUSE_ROOT_ID), name, strlen(name))
        }
    }

    /// Called by the loop's thread once the loop returned; waits for the watcher to finish.
    func stop() {
        stopped.store(true, ordering: .releasing)
        if let thread = thread.withLock({ $0 }) { pthread_join(thread, nil) }
    }
}

/// Why a mount could not be served; the descriptions are for people.
public enum MountError: Error, Sendable, CustomStringConvertible {
    case configuration(MountConfigurationError)
    case backingDirectory(String, errno: Int32)
    case mountpoint(String, errno: Int32)
    case sharedState(SharedStateError)
    case session(String)
    case mountFailed(String)
    case loop(errno: Int32)

    public var description: String {
        switch self {
        case .configuration(let error): error.description
        case .backingDirectory(let path, let code): "backing directory \(path): \(String(cString: strerror(code)))"
        case .mountpoint(let path, let code): "mountpoint \(path): \(String(cString: strerror(code)))"
        case .sharedState(let error): "shared volume state: \(error)"
        case .session(let message): "FUSE: \(message)"
        case .mountFailed(let path):
            "cannot mount on \(path) (see the message above; /dev/fuse must be readable and writable by you, "
                + "or mount as root)"
        case .loop(let code): "the FUSE loop failed: \(String(cString: strerror(code)))"
        }
    }
}
