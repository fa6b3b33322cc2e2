import CFuse3
import EmulatorCore
import Glibc
import Synchronization

/// One backing file or directory the kernel holds a reference to (passthrough_hp's `Inode`): an
/// O_PATH descriptor, so that the inode stays reachable whatever happens to its names.
final class Inode: Sendable {
    let fd: Int32
    let key: InodeKey
    let isRegular: Bool
    /// The kernel's lookup count; changed only under the inode table's lock.
    let lookups = Atomic<UInt64>(0)
    /// What this mount saw of the file at its last open (shared cache policy).
    let lastOpen = Mutex(CacheStamp?.none)
    /// Set once any owner took a record lock through this inode, so flush and release skip the lock
    /// table for the files nobody locks.
    let hadRecordLocks = Atomic<Bool>(false)
    /// Set for a case-insensitive mount's inode of a file reached through another spelling than its
    /// real name: the spelling asked for. The kernel short-cuts a rename whose source and target are
    /// one inode (vfs_rename: `source == target` returns 0), so a case-only rename (`a.txt` to `A.TXT`)
    /// reaches the server only when the two spellings have different inode numbers.
    let spelling: [UInt8]?
    /// Whether the kernel may hold another inode for the same backing file (an alias, or the real name
    /// of an alias): a change through this one must drop the others' cached attributes
    /// (`Operations.changed`). Set once, never cleared; only case-insensitive mounts set it.
    let sharesKey = Atomic<Bool>(false)
    /// Shared volumes: the name the kernel last got this inode under (`Operations.staleOrigin`).
    let origin = Mutex(NameOrigin?.none)

    /// For an alias: the inode it was reached through (`InodeTable.AliasKey`).
    let aliasParent: ObjectIdentifier?

    init(fd: Int32, key: InodeKey, isRegular: Bool, spelling: [UInt8]? = nil, aliasParent: ObjectIdentifier? = nil) {
        self.fd = fd
        self.key = key
        self.isRegular = isRegular
        self.spelling = spelling
        self.aliasParent = aliasParent
    }

    deinit { close(fd) }
}

/// Where a lookup found an inode: the backing name in its parent, the volume's name-removal count
/// read before the lookup (or at the last check that found the name still leading here), and when
/// the lookup was answered (CLOCK_MONOTONIC, nanoseconds).
struct NameOrigin: Sendable {
    var parent: Inode
    var name: [UInt8]
    var checkedAt: UInt64
    var lookedUpAt: UInt64 = monotonicNanoseconds()
    /// The lookup was the kernel's retry of an open answered ESTALE (`Operations.isRetryLookup`).
    var isRetry = false
}

/// A name an open found stale and answered ESTALE for, and when.
struct StaleName: Sendable {
    var parent: InodeKey
    var name: [UInt8]
    var at: UInt64
}

/// CLOCK_MONOTONIC in nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

extension InodeKey {
    /// The backing file's identity from its attributes.
    init(_ st: stat) { self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) }
}

/// The state of a file at an open: when nothing differs at the next open, no mount can have changed
/// it since (the generation counts writable closes on every mount of the volume), so the pages this
/// mount cached are still right.
struct CacheStamp: Equatable {
    var size: Int
    var mtime: timespec
    var ctime: timespec
    var generation: UInt64

    static func == (a: CacheStamp, b: CacheStamp) -> Bool {
        a.size == b.size && a.generation == b.generation
            && a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec
            && a.ctime.tv_sec == b.ctime.tv_sec && a.ctime.tv_nsec == b.ctime.tv_nsec
    }
}

/// Inodes by backing identity; the FUSE inode number is the object's address (as in passthrough_hp),
/// valid until the kernel forgets it, so the hot paths resolve it without a lock.
final class InodeTable: Sendable {
    let root: Inode
    /// Rung with the descriptor of every inode the table starts keeping (`DescriptorReclaimer`).
    let descriptorAlarm = DescriptorAlarm()
    private let byKey = Mutex([InodeKey: Inode]())
    /// Inodes reached through another spelling (`Inode.spelling`); only case-insensitive mounts have any.
    private let aliases = Mutex(Aliases())
    /// How many aliases the kernel holds: while none, no file has a second inode to keep in step.
    private let aliasCount = Atomic<Int>(0)

    /// Whether the kernel may hold any alias (`Inode.spelling`) at all.
    var hasAliases: Bool { aliasCount.load(ordering: .relaxed) > 0 }

    /// An alias is one per spelling and per parent inode it was reached through: a directory may have
    /// only one dentry in the kernel, so the same directory reached through two spellings of its parent
    /// must be two inodes there (else the kernel moves its one dentry from parent to parent, and inside a
    /// rename, which holds the rename lock that move needs, answers ESTALE).
    struct AliasKey: Hashable {
        var key: InodeKey
        var spelling: [UInt8]
        var parent: ObjectIdentifier
    }

    struct Aliases {
        /// The aliases a lookup may hand out again.
        var current: [AliasKey: Inode] = [:]
        /// Every alias the kernel holds, by backing identity: those in `current` and those no lookup may
        /// hand out again (a rename made their spelling the real name, and the kernel counted the alias
        /// as replaced), kept until the kernel forgets them: their address is their number.
        var members: [InodeKey: [ObjectIdentifier: Inode]] = [:]
    }

    /// The numbers of every inode the kernel holds but the root's: a number the table never handed out,
    /// or one the kernel has forgotten, is not turned into a pointer (`inode(_:)` answers nil, and the
    /// request ESTALE).
    private let live = Mutex(Set<UInt>())

    init(root: Inode) { self.root = root }

    static func number(_ inode: Inode) -> fuse_ino_t {
        fuse_ino_t(UInt(bitPattern: Unmanaged.passUnretained(inode).toOpaque()))
    }

    func inode(_ ino: fuse_ino_t) -> Inode? {
        if ino == fuse_ino_t(FUSE_ROOT_ID) { return root }
        guard live.withLock({ $0.contains(UInt(ino)) }), let pointer = UnsafeRawPointer(bitPattern: UInt(ino)) else { return nil }
        return Unmanaged<Inode>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Records one more kernel reference to the file `fd` (O_PATH) with attributes `st`; closes `fd`
    /// when the file is already known. Returns the FUSE inode number.
    func remember(fd: Int32, _ st: stat) -> fuse_ino_t {
        let key = InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        if key == root.key {
            close(fd)
            return fuse_ino_t(FUSE_ROOT_ID)
        }
        let (inode, duplicate) = byKey.withLock { table -> (Inode, Bool) in
            if let known = table[key] {
                known.lookups.wrappingAdd(1, ordering: .relaxed)
                return (known, true)
            }
            let inode = Inode(fd: fd, key: key, isRegular: st.st_mode & S_IFMT == S_IFREG)
            inode.lookups.store(1, ordering: .relaxed)
            table[key] = inode
            _ = live.withLock { $0.insert(UInt(Self.number(inode))) }
            return (inode, false)
        }
        if duplicate {
            close(fd)
            return Self.number(inode)
        }
        descriptorAlarm.noteKept(fd)
        if !inode.sharesKey.load(ordering: .relaxed), aliases.withLock({ $0.members[key] != nil }) {
            inode.sharesKey.store(true, ordering: .relaxed)
        }
        return Self.number(inode)
    }

    /// Like `remember`, for the file `fd` reached through `spelling` in `parent` where that is not its real
    /// name, or where `parent` is itself an alias: a number of its own (see `Inode.spelling`, `AliasKey`).
    func rememberAlias(fd: Int32, _ st: stat, spelling: [UInt8], parent: Inode) -> fuse_ino_t {
        let key = InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        let aliasKey = AliasKey(key: key, spelling: spelling, parent: ObjectIdentifier(parent))
        let (inode, duplicate) = aliases.withLock { table -> (Inode, Bool) in
            if let known = table.current[aliasKey] {
                known.lookups.wrappingAdd(1, ordering: .relaxed)
                return (known, true)
            }
            let inode = Inode(fd: fd, key: key, isRegular: st.st_mode & S_IFMT == S_IFREG, spelling: spelling,
                              aliasParent: aliasKey.parent)
            inode.lookups.store(1, ordering: .relaxed)
            inode.sharesKey.store(true, ordering: .relaxed)
            table.current[aliasKey] = inode
            table.members[key, default: [:]][ObjectIdentifier(inode)] = inode
            aliasCount.add(1, ordering: .relaxed)
            _ = live.withLock { $0.insert(UInt(Self.number(inode))) }
            return (inode, false)
        }
        if duplicate {
            close(fd)
            return Self.number(inode)
        }
        descriptorAlarm.noteKept(fd)
        if key == root.key {
            root.sharesKey.store(true, ordering: .relaxed)
        } else {
            byKey.withLock { $0[key] }?.sharesKey.store(true, ordering: .relaxed)
        }
        return Self.number(inode)
    }

    /// The inode the kernel holds for `key` under its real name, if any.
    func known(_ key: InodeKey) -> Inode? {
        byKey.withLock { $0[key] }
    }

    /// Every inode number the kernel holds for the file `key`, real and aliases, but `except`.
    func numbers(of key: InodeKey, except: Inode? = nil) -> [fuse_ino_t] {
        var result: [fuse_ino_t] = []
        if key == root.key {
            if root !== except { result.append(fuse_ino_t(FUSE_ROOT_ID)) }
        } else if let real = byKey.withLock({ $0[key] }), real !== except {
            result.append(Self.number(real))
        }
        aliases.withLock { table in
            for inode in table.members[key]?.values ?? [:].values where inode !== except {
                result.append(Self.number(inode))
            }
        }
        return result
    }

    /// Stops handing out the aliases of `key` spelled `spelling`.
    func retireAlias(_ key: InodeKey, spelling: [UInt8]) {
        aliases.withLock { table in
            for (aliasKey, _) in table.current where aliasKey.key == key && aliasKey.spelling == spelling {
                table.current.removeValue(forKey: aliasKey)
            }
        }
    }

    /// The kernel dropped `count` references; the inode (and its descriptor) goes at zero. Returns the
    /// file's key when its last inode went.
    @discardableResult
    func forget(_ ino: fuse_ino_t, count: UInt64) -> InodeKey? {
        if ino == fuse_ino_t(FUSE_ROOT_ID) { return nil }
        guard let inode = inode(ino) else { return nil }
        if let spelling = inode.spelling, let parent = inode.aliasParent {
            aliases.withLock { table in
                let now = inode.lookups.load(ordering: .relaxed)
                let left = now > count ? now - count : 0
                inode.lookups.store(left, ordering: .relaxed)
                guard left == 0 else { return }
                let aliasKey = AliasKey(key: inode.key, spelling: spelling, parent: parent)
                if table.current[aliasKey] === inode { table.current.removeValue(forKey: aliasKey) }
                if table.members[inode.key]?.removeValue(forKey: ObjectIdentifier(inode)) != nil {
                    aliasCount.subtract(1, ordering: .relaxed)
                }
                _ = live.withLock { $0.remove(UInt(ino)) }
                if table.members[inode.key]?.isEmpty == true { table.members.removeValue(forKey: inode.key) }
            }
            return nil
        }
        return byKey.withLock { table -> InodeKey? in
            let now = inode.lookups.load(ordering: .relaxed)
            let left = now > count ? now - count : 0
            inode.lookups.store(left, ordering: .relaxed)
            guard left == 0 else { return nil }
            table.removeValue(forKey: inode.key)
            _ = live.withLock { $0.remove(UInt(ino)) }
            return inode.key
        }
    }

    func removeAll() {
        byKey.withLock { $0.removeAll() }
        aliases.withLock { $0 = Aliases() }
        aliasCount.store(0, ordering: .relaxed)
        live.withLock { $0.removeAll() }
    }

    /// Every inode number the kernel may hold, the root's included (for cache invalidation).
    func allNumbers() -> [fuse_ino_t] {
        let known = byKey.withLock { table in [fuse_ino_t(FUSE_ROOT_ID)] + table.values.map(Self.number) }
        let aliased = aliases.withLock { table in table.members.values.flatMap { $0.values.map(Self.number) } }
        return known + aliased
    }
}

/// An open directory: the stream and the offset the kernel last asked for.
final class DirectoryHandle: Sendable {
    private nonisolated(unsafe) let dir: OpaquePointer
    let stream: Mutex<Int>

    init(dir: OpaquePointer) {
        self.dir = dir
        stream = Mutex(0)
    }

    /// Runs `body` with the stream, serialised (the kernel may send readdir for one handle from
    /// several threads).
    func withStream<T>(_ body: (OpaquePointer, inout Int) -> T) -> T {
        stream.withLock { offset in body(dir, &offset) }
    }

    deinit { closedir(dir) }
}

/// Everything the callbacks share, reached through the session's userdata pointer.
final class MountFileSystem: Sendable {
    let configuration: MountConfiguration
    /// Every rule of the volume (EmulatorCore's semantics core), over the backing directory reached
    /// through the root inode's descriptor.
    let semantics: VolumeSemantics<DirectoryStore>
    let inodes: InodeTable
    /// Rung by lookups and opens whose descriptor passes the reclaimer's trigger.
    var descriptorAlarm: DescriptorAlarm { inodes.descriptorAlarm }
    /// Set when capacity is enforced; nil for elastic volumes, which then pay no per-write cost.
    let usage: VolumeUsage?
    /// Set for the shared cache policy.
    let generation: VolumeCounter?
    /// Set for the shared cache policy: names cached by the kernel are checked against it at open.
    let nameRemovals: VolumeCounter?
    /// Set for the shared cache policy: how many mount servers of the volume run (`entryTimeout(for:)`).
    let liveMounts: VolumeCounter?
    let locks = RecordLockTable()
    /// Open handles per process, at most a share of the server's descriptors each (`HandleShares`).
    let handles = HandleShares(openFileLimit: MountFileSystem.currentOpenFileLimit())
    /// Pauses changes while a snapshot of the volume is taken.
    let freeze: WriteFreeze
    /// `berth fault pause-io|latency`: asked before every read, write and sync.
    let faultGate: FaultGate?
    /// What this mount has not made durable (`berth az fail --power-loss`); nil on a read-only mount.
    let powerLoss: PowerLossJournal?
    /// Set for case-insensitive name rules (FSx for Windows).
    let caseFolding: CaseFoldedDirectories?
    /// Set for an FSx for OpenZFS clone whose files are still shared with its snapshot.
    let cloneSharing: CloneSharing?
    let entryTimeout: Double
    let attrTimeout: Double
    /// Exclusive volumes cache names that do not exist, too.
    let negativeTimeout: Double
    let ownUID: uid_t
    let ownGID: gid_t
    /// When an open last answered ESTALE for a stale name (`Operations.replyStale`), CLOCK_MONOTONIC ns.
    let lastStaleAnswer = Atomic<UInt64>(0)
    /// The names answered ESTALE for within `Operations.retryWindowNanoseconds`.
    let staleNames = Mutex([StaleName]())
    /// The session, for lock waits that must end when the mount goes away (bit pattern of the pointer).
    let sessionAddress = Atomic<UInt>(0)
    /// Set at INIT when the server took FUSE_HANDLE_KILLPRIV_V2 (`Operations.initialise`, SetIDBits.swift).
    let handlesKillPriv = Atomic<Bool>(false)
    /// Set at INIT with `handlesKillPriv` on shared volumes with extended attributes (FSx): the server then
    /// removes `security.capability` itself before each change that removes it on Linux
    /// (`Operations.dropCapability`), since this mount's kernel may hold a file as checked while another
    /// mount set one.
    let removesCapabilities = Atomic<Bool>(false)
    /// How many times this mount advanced `nameRemovals` (before advancing it), so that the watcher can
    /// tell the removals of other mounts (`ShutdownNudger`).
    let ownNameRemovals = Atomic<UInt64>(0)
    /// Cleared once the kernel refused FUSE_NOTIFY_INC_EPOCH (before Linux 6.16).
    let epochNotifications = Atomic<Bool>(true)
    private let onReady = Mutex<(@Sendable () -> Void)?>(nil)

    init(configuration: MountConfiguration, root: Inode, usage: VolumeUsage?, generation: VolumeCounter?,
         nameRemovals: VolumeCounter? = nil, liveMounts: VolumeCounter? = nil, freeze: WriteFreeze, caseFolding: CaseFoldedDirectories? = nil, cloneSharing: CloneSharing? = nil,
         faultGate: FaultGate? = nil, preservation: SnapshotPreservation? = nil, onReady: @escaping @Sendable () -> Void) {
        self.faultGate = faultGate
        self.liveMounts = liveMounts
        self.configuration = configuration
        self.freeze = freeze
        self.caseFolding = caseFolding
        self.cloneSharing = cloneSharing
        powerLoss = configuration.readOnly ? nil : try? PowerLossJournal(
            sharedStateDirectory: configuration.sharedStateDirectory, name: PowerLossJournal.nextName(),
            rules: PowerLossRules.forService(configuration.serviceType), usage: usage, preservation: preservation)
        inodes = InodeTable(root: root)
        self.usage = usage
        self.generation = generation
        self.nameRemovals = nameRemovals
        semantics = VolumeSemantics(store: DirectoryStore(borrowingRoot: root.fd, folding: caseFolding),
                                    rules: VolumeRules(configuration: configuration, usage: usage, freeze: freeze,
                                                       preservation: preservation))
        // The timeouts are the core's (`CacheTimeouts`). On shared volumes an open is close-to-open: it
        // checks its path again when any mount removed a name since the lookup (`nameRemovals`,
        // `Operations.staleOrigin`), and when the file changed since this mount's last open it drops the
        // cached pages and attributes, so what another mount wrote, renamed into place and closed is what
        // the next open here sees, size included.
        entryTimeout = semantics.cache.entry
        attrTimeout = semantics.cache.attributes
        negativeTimeout = semantics.cache.negative
        ownUID = geteuid()
        ownGID = getegid()
        self.onReady.withLock { $0 = onReady }
    }

    /// How long the kernel may keep a name that leads to a file of `mode`. On shared volumes a directory's
    /// name is never kept: every path walk asks for it again, so a walk never goes on through a directory
    /// that another mount has since renamed or replaced, and a change made through a path lands where the
    /// path leads now. (Caching them and answering ESTALE when a cached one proved stale, as before, let
    /// ESTALE reach programs: the kernel retries it once, and a directory reached through an open
    /// descriptor is never walked again.) Files keep their 1 s; an open checks its own name
    /// (`Operations.staleOrigin`).
    /// While the volume has no other mount (`liveMounts` is 1), nothing else can change its names and
    /// directory names are kept like file names; when a second mount starts, the watcher makes the kernel
    /// look every cached name up again (`ShutdownNudger`), and the new server waits for that before it
    /// answers.
    @inline(__always)
    func entryTimeout(for mode: mode_t) -> Double {
        guard generation != nil, mode & S_IFMT == S_IFDIR else { return entryTimeout }
        return semantics.cache.entry(isDirectory: true, policy: .shared, liveMounts: liveMounts?.current)
    }

    /// Whether a listing hands the kernel each name's entry (READDIRPLUS): on exclusive volumes, and on
    /// shared ones while this is their only mount, as with directory names (`entryTimeout(for:)`). With
    /// other mounts changing names, a listing's entries would be one more way for the kernel to cache
    /// a name another mount has since removed (measured: an ESTALE reached a program in the two-mount
    /// random operations test), so there each name is looked up when it is used, as before.
    var listsEntries: Bool {
        generation == nil || (liveMounts?.current ?? 1) <= 1
    }

    /// The session, while it runs.
    var session: OpaquePointer? { OpaquePointer(bitPattern: sessionAddress.load(ordering: .relaxed)) }

    /// Makes the kernel look every name it cached for this mount up again at its next use
    /// (FUSE_NOTIFY_INC_EPOCH). Safe inside a request: the kernel takes no lock for it. False when the
    /// kernel does not support it (the caller then invalidates the names it knows one by one).
    @discardableResult
    func expireCachedNames() -> Bool {
        guard epochNotifications.load(ordering: .relaxed), let session else { return false }
        let code = berth_notify_inc_epoch(session)
        if code == -EINVAL || code == -ENOSYS {
            epochNotifications.store(false, ordering: .relaxed)
            return false
        }
        return code == 0
    }

    /// Called from `init` once the kernel's INIT is being answered; runs the readiness callback once.
    func signalReady() {
        let callback = onReady.withLock { ready -> (@Sendable () -> Void)? in
            defer { ready = nil }
            return ready
        }
        callback?()
    }

    /// EIO while the mount is cut off (emulator.md §Common to all: "every operation on a mount that is
    /// cut off answers EIO").
    @inline(__always)
    var isCutOff: Bool { semantics.isCutOff }

    /// Runs `body` holding the size lock of the backing file `key` (`VolumeSemantics.withSizeLock`).
    func withSizeLock<T: Sendable>(_ key: InodeKey, _ body: () -> T) -> T {
        semantics.withSizeLock(key, body)
    }

    /// Opens `inode` again through `/proc/self/fd`, as passthrough_hp does for O_PATH descriptors.
    /// Returns the descriptor or -errno.
    func reopen(_ inode: Inode, flags: Int32) -> Int32 {
        withProcPath(inode.fd) { path in
            let fd = open(path, flags | O_CLOEXEC)
            return fd >= 0 ? fd : -errno
        }
    }

    /// A descriptor for a lock owner: read-write where the backing file allows, else read-only (a
    /// read lock needs a readable descriptor, a write lock a writable one; the kernel already checked
    /// the caller's own descriptor).
    func reopenForLocks(_ inode: Inode) -> Int32 {
        let fd = reopen(inode, flags: O_RDWR)
        return fd >= 0 ? fd : reopen(inode, flags: O_RDONLY)
    }

    /// Runs the core's backing calls for `req` as its caller (`asCaller`).
    func performer(_ req: fuse_req_t?) -> VolumeSemantics<DirectoryStore>.Performer {
        { body in self.asCaller(req, body) }
    }

    /// Runs `body` with the calling process's filesystem uid and gid on this thread, so that files it
    /// creates belong to it (passthrough_hp does the same when running as root). Through an EFS access
    /// point, its POSIX user instead, whoever the caller is (`MountConfiguration.identity`), with its
    /// secondary gids as the thread's groups (`withAccessPointGroups`).
    func asCaller<T>(_ req: fuse_req_t?, _ body: () -> T) -> T {
        guard let context = fuse_req_ctx(req)?.pointee else { return body() }
        let uid = configuration.identity?.uid ?? context.uid
        let gid = configuration.identity?.gid ?? context.gid
        guard uid != ownUID || gid != ownGID else { return body() }
        let previousGID = berth_setfsgid(gid)
        let previousUID = berth_setfsuid(uid)
        defer {
            berth_setfsuid(uid_t(truncatingIfNeeded: previousUID))
            berth_setfsgid(gid_t(truncatingIfNeeded: previousGID))
        }
        return withAccessPointGroups(body)
    }
}

/// `/proc/self/fd/N` for `fd`, in a stack buffer.
@inline(__always)
func withProcPath<T>(_ fd: Int32, _ body: (UnsafePointer<CChar>) -> T) -> T {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buffer in
        guard let base = buffer.baseAddress else { return body("") }
        berth_proc_fd_path(base, fd)
        return body(base)
    }
}

/// fstat of an O_PATH descriptor (no symlink following).
@inline(__always)
/// `statOf` for an answer to the kernel: the link count without the links the power-loss journal holds
/// (`PowerLossJournal.heldLinkCount`), which no program made.
func attributesOf(_ fs: MountFileSystem, _ fd: Int32, _ st: inout stat) -> Int32 {
    let code = statOf(fd, &st)
    if code == 0, let journal = fs.powerLoss, st.st_mode & S_IFMT != S_IFDIR {
        let held = journal.heldLinkCount(InodeKey(st))
        if held > 0 { st.st_nlink = nlink_t(max(0, Int(st.st_nlink) - held)) }
    }
    return code
}

func statOf(_ fd: Int32, _ st: inout stat) -> Int32 {
    fstatat(fd, "", &st, BERTH_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno
}
