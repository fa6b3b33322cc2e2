#if os(Linux)
import Glibc
import Synchronization

/// POSIX record locks (`fcntl` F_GETLK / F_SETLK / F_SETLKW) that hold across every mount of a volume,
/// in any process: "Amazon EFS … Dateien gesperrt werden" (seed §Amazon Elastic File System (Amazon
/// EFS)); "POSIX (fcntl) and BSD (flock) locks are seen across mounts" (emulator.md). Without this the
/// kernel keeps a FUSE mount's locks to that mount only.
///
/// How: each lock owner (the kernel's id for a process's lock context on one mount) gets, per file, a
/// descriptor of its own on the backing file, and its locks become open-file-description locks
/// (F_OFD_SETLK…) on that descriptor. OFD locks on one backing file conflict across descriptors and
/// processes, so two mounts served by two processes see each other's locks with no protocol between
/// them; closing the owner's descriptor (on flush, i.e. when the owner closes any descriptor of the
/// file, or dies) drops all of its locks on the file, exactly as POSIX drops a process's locks.
public final class RecordLockTable: Sendable {
    /// A lock owner's descriptor. Closed when the last user leaves after it was retired, so a thread
    /// locking through it never sees its number reused.
    final class OwnerFD: Sendable {
        let fd: Int32
        struct Use {
            var users = 0
            var retired = false
        }
        let use = Mutex(Use())
        init(fd: Int32) { self.fd = fd }
    }

    struct Key: Hashable {
        var file: InodeKey
        var owner: UInt64
    }

    struct Entry {
        var handle: OwnerFD
        /// The handle (FUSE `fh`) through which the owner first locked: an owner that is a file
        /// description (flock emulated by the kernel, OFD locks on the mount) ends with its release.
        var tag: UInt64
    }

    private let entries = Mutex([Key: Entry]())
    /// The requests of this table's users that wait for a lock (F_SETLKW, blocking `flock`): woken
    /// whenever a lock is released here, closed by `releaseAll`.
    public let waits: LockWaitQueue

    public init(waits: LockWaitQueue = LockWaitQueue()) { self.waits = waits }

    /// How many owners hold a descriptor (for tests and diagnostics).
    public var ownerCount: Int { entries.withLock { $0.count } }

    /// F_GETLK: the first lock that would block `request` (with `pid` 0 when it is held through
    /// another mount or process, whose pid this mount cannot know), or nil when it would be granted.
    public func conflict(
        with request: RecordLock, file: InodeKey, owner: UInt64, open: () -> Int32
    ) throws(LockError) -> RecordLock? {
        var fl = request.flock()
        let existing = acquire(file: file, owner: owner)
        if let existing {
            defer { leave(existing) }
            guard fcntl(existing.fd, RecordLock.F_OFD_GETLK, &fl) == 0 else { throw .system(errno) }
        } else {
            let fd = open()
            guard fd >= 0 else { throw .system(-fd) }
            defer { close(fd) }
            guard fcntl(fd, RecordLock.F_OFD_GETLK, &fl) == 0 else { throw .system(errno) }
        }
        return Int32(fl.l_type) == F_UNLCK ? nil : RecordLock(fl)
    }

    /// F_SETLK: takes, changes or (with `.unlock`) drops `owner`'s lock on a range, without waiting:
    /// a conflict answers `.wouldBlock`. `open` returns a new descriptor on the backing file (or -errno),
    /// readable and writable where the file allows; `tag` is the FUSE file handle the request came
    /// through. F_SETLKW is this, tried again from `waits` until it is granted.
    public func set(
        _ request: RecordLock, file: InodeKey, owner: UInt64, tag: UInt64, open: () -> Int32
    ) throws(LockError) {
        let handle: OwnerFD
        if let existing = acquire(file: file, owner: owner) {
            handle = existing
        } else {
            // Unlocking a range of an owner that holds nothing is a no-op (POSIX), without opening.
            if request.kind == .unlock { return }
            let fd = open()
            guard fd >= 0 else { throw .system(-fd) }
            handle = adopt(fd: fd, file: file, owner: owner, tag: tag)
        }
        defer { leave(handle) }
        var fl = request.flock()
        guard fcntl(handle.fd, RecordLock.F_OFD_SETLK, &fl) == 0 else {
            let code = errno
            throw code == EAGAIN || code == EACCES ? .wouldBlock : .system(code)
        }
        if request.kind == .unlock { waits.wake() }
    }

    /// Drops every lock `owner` holds on `file` (FUSE flush: the owner closed a descriptor of the file,
    /// and POSIX then releases all of its locks on it).
    public func releaseOwner(file: InodeKey, owner: UInt64) {
        let removed = entries.withLock { $0.removeValue(forKey: Key(file: file, owner: owner)) }
        if let removed {
            retire(removed.handle)
            waits.wake()
        }
    }

    /// Drops the locks of owners that first locked through the file handle `tag` (FUSE release).
    public func releaseTag(_ tag: UInt64, file: InodeKey) {
        let removed = entries.withLock { entries -> [Entry] in
            let keys = entries.filter { $0.key.file == file && $0.value.tag == tag }.map(\.key)
            return keys.compactMap { entries.removeValue(forKey: $0) }
        }
        for entry in removed { retire(entry.handle) }
        if !removed.isEmpty { waits.wake() }
    }

    /// Drops everything and answers every waiting request ENOLCK (unmount; see `Operations.abandonment`
    /// for why not EINTR).
    public func releaseAll() {
        waits.close(answering: ENOLCK)
        let all = entries.withLock { entries -> [Entry] in
            defer { entries.removeAll() }
            return Array(entries.values)
        }
        for entry in all { retire(entry.handle) }
    }

    private func acquire(file: InodeKey, owner: UInt64) -> OwnerFD? {
        entries.withLock { entries in
            guard let handle = entries[Key(file: file, owner: owner)]?.handle else { return nil }
            handle.use.withLock { $0.users += 1 }
            return handle
        }
    }

    private func adopt(fd: Int32, file: InodeKey, owner: UInt64, tag: UInt64) -> OwnerFD {
        let (handle, spare) = entries.withLock { entries -> (OwnerFD, Int32?) in
            let key = Key(file: file, owner: owner)
            // Another thread of the same owner may have won the race to open one.
            if let winner = entries[key]?.handle {
                winner.use.withLock { $0.users += 1 }
                return (winner, fd)
            }
            let handle = OwnerFD(fd: fd)
            handle.use.withLock { $0.users = 1 }
            entries[key] = Entry(handle: handle, tag: tag)
            return (handle, nil)
        }
        if let spare { close(spare) }
        return handle
    }

    private func leave(_ handle: OwnerFD) {
        let closeNow = handle.use.withLock { use -> Bool in
            use.users -= 1
            return use.retired && use.users == 0
        }
        if closeNow { close(handle.fd) }
    }

    private func retire(_ handle: OwnerFD) {
        let closeNow = handle.use.withLock { use -> Bool in
            use.retired = true
            return use.users == 0
        }
        if closeNow { close(handle.fd) }
    }
}

/// One record lock request or answer, in the terms of `struct flock` with `l_whence` SEEK_SET.
public struct RecordLock: Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        case read, write, unlock
    }

    public var kind: Kind
    public var start: Int64
    /// 0 means "to the end of the file, however far it grows", as in `struct flock`.
    public var length: Int64
    public var pid: Int32

    public init(kind: Kind, start: Int64, length: Int64, pid: Int32 = 0) {
        self.kind = kind
        self.start = start
        self.length = length
        self.pid = pid
    }

    // Linux UAPI values (asm-generic/fcntl.h); Swift's Glibc module leaves them out because they need
    // _GNU_SOURCE.
    static let F_OFD_GETLK: Int32 = 36
    static let F_OFD_SETLK: Int32 = 37
    static let F_OFD_SETLKW: Int32 = 38

    /// From the fields of a `struct flock` whose `l_whence` is SEEK_SET (as libfuse passes them):
    /// `type` is F_RDLCK, F_WRLCK or F_UNLCK.
    public init(type: Int32, start: Int64, length: Int64, pid: Int32 = 0) {
        switch type {
        case F_RDLCK: kind = .read
        case F_WRLCK: kind = .write
        default: kind = .unlock
        }
        self.start = start
        self.length = length
        // OFD locks report -1: the holder is an open file description, not a process.
        self.pid = pid > 0 ? pid : 0
    }

    /// F_RDLCK, F_WRLCK or F_UNLCK.
    public var type: Int32 {
        switch kind {
        case .read: F_RDLCK
        case .write: F_WRLCK
        case .unlock: F_UNLCK
        }
    }

    /// As a `struct flock` for the OFD calls, which require `l_pid` 0.
    func flock() -> Glibc.flock {
        var fl = Glibc.flock()
        fl.l_type = Int16(type)
        fl.l_whence = Int16(SEEK_SET)
        fl.l_start = off_t(start)
        fl.l_len = off_t(length)
        fl.l_pid = 0
        return fl
    }

    init(_ fl: Glibc.flock) {
        self.init(type: Int32(fl.l_type), start: Int64(fl.l_start), length: Int64(fl.l_len), pid: fl.l_pid)
    }
}

/// BSD `flock` locks across mounts: flock locks belong to an open file description, and so does a
/// FUSE file handle, so the handle's own backing descriptor carries the lock. Another mount's handle
/// on the same file is another description, and conflicts (emulator.md, locks column).
public enum BSDLock {
    public enum Operation: Sendable, Equatable {
        case shared, exclusive, unlock
    }

    /// Applies `operation` to `fd` without waiting: a conflict answers `.wouldBlock`. A blocking
    /// `flock` is this, tried again from a `LockWaitQueue` until it is granted.
    public static func apply(_ operation: Operation, fd: Int32) throws(LockError) {
        let op: Int32
        switch operation {
        case .shared: op = LOCK_SH
        case .exclusive: op = LOCK_EX
        case .unlock: op = LOCK_UN
        }
        guard flock(fd, op | LOCK_NB) == 0 else {
            throw errno == EWOULDBLOCK ? .wouldBlock : .system(errno)
        }
    }

    /// From flock(2)'s operation bits: the operation and whether LOCK_NB was absent.
    public static func decode(_ op: Int32) -> (Operation, wait: Bool)? {
        let wait = op & LOCK_NB == 0
        switch op & ~LOCK_NB {
        case LOCK_SH: return (.shared, wait)
        case LOCK_EX: return (.exclusive, wait)
        case LOCK_UN: return (.unlock, wait)
        default: return nil
        }
    }
}

/// Why a lock request was not granted; `errno` is what the caller's fcntl/flock returns.
public enum LockError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Held by another owner and the request did not wait (F_SETLK, LOCK_NB).
    case wouldBlock
    case system(Int32)

    public var errno: Int32 {
        switch self {
        case .wouldBlock: EAGAIN
        case .system(let code): code
        }
    }

    public var description: String {
        switch self {
        case .wouldBlock: "the range is locked by another owner"
        case .system(let code): String(cString: strerror(code))
        }
    }
}
#endif
