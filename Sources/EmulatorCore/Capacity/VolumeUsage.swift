#if os(Linux)
import Glibc

/// The bytes a provisioned volume holds, shared by every mount of it in every process, and the rule
/// that a change may not take them past the volume's size: "writes past it fail with ENOSPC; `df`
/// shows it" (emulator.md, capacity column; EBS, FSx: the size is provisioned, AWS docs:
/// ebs/latest/userguide/ebs-volume-types.html, fsx/latest/*/managing-storage-capacity.html).
///
/// What counts is each regular file's allocated blocks (`st_blocks * 512`), each inode once whatever
/// its number of links, as the services' own file systems count it: a sparse file's holes are free, so
/// `df` on the mount agrees with `du` of its files. Directories and symbolic links are not counted.
/// The rules for changing the count are in CapacityLedger.swift.
///
/// Two handles on the same state directory, in one process or several, share one counter in an
/// mmapped file (`capacity-usage` in the shared state directory); the first opener initialises it by
/// scanning the backing directory.
public final class VolumeUsage: Sendable {
    public static let fileName = "capacity-usage"
    private static let layout: UInt64 = 1
    private static let usedIndex = 0

    public let capacityBytes: UInt64
    private let words: SharedWords

    /// Opens the volume's counter, scanning `backingDirectory` when no mount has initialised it yet.
    public init(sharedStateDirectory: String, backingDirectory: String, capacityBytes: UInt64) throws(SharedStateError) {
        self.capacityBytes = capacityBytes
        words = try SharedWords(path: sharedStateDirectory + "/" + Self.fileName, count: 1, layout: Self.layout) {
            () throws(SharedStateError) -> [UInt64] in
            [try UsageScanner.usedBytes(under: backingDirectory)]
        }
    }

    /// Bytes in use now, as every mount of the volume sees them.
    public var usedBytes: UInt64 { words.load(Self.usedIndex) }

    /// Bytes still free.
    public var freeBytes: UInt64 {
        let used = usedBytes
        return used >= capacityBytes ? 0 : capacityBytes - used
    }

    /// Takes `bytes` if all of them fit (a truncate or fallocate that must not be partial).
    public func reserveAll(_ bytes: UInt64) -> Bool {
        if bytes == 0 { return true }
        let granted = words.addUpTo(Self.usedIndex, bytes, limit: capacityBytes)
        if granted == bytes { return true }
        words.saturatingSubtract(Self.usedIndex, granted)
        return false
    }

    /// Takes as many of `bytes` as fit and returns how many: a write may be partial (POSIX write(2):
    /// "fewer bytes than requested … if there is insufficient space"), never past capacity.
    public func reserve(upTo bytes: UInt64) -> UInt64 {
        bytes == 0 ? 0 : words.addUpTo(Self.usedIndex, bytes, limit: capacityBytes)
    }

    /// Gives back bytes that were reserved and not used, or that a truncate, unlink or rename freed.
    public func release(_ bytes: UInt64) {
        if bytes > 0 { words.saturatingSubtract(Self.usedIndex, bytes) }
    }

    /// Counts bytes the backing store allocated beyond a reservation: unconditional, the counter
    /// follows the backing store (`settle`).
    func add(_ bytes: UInt64) {
        if bytes > 0 { words.add(Self.usedIndex, bytes) }
    }

    /// Counts the backing directory again (after a power loss put back blocks and names behind the
    /// counter's back, `PowerLossJournal`). Unchanged when the scan fails.
    public func recount(backingDirectory: String) {
        if let used = try? UsageScanner.usedBytes(under: backingDirectory) { words.storeInOrder(Self.usedIndex, used) }
    }

    /// What `statfs` reports for this volume: blocks of `blockSize` bytes.
    public func statfsBlocks(blockSize: UInt64 = 4096) -> (total: UInt64, free: UInt64) {
        CapacityFigures.blocks(capacityBytes: capacityBytes, usedBytes: usedBytes, blockSize: blockSize)
    }
}

/// Volume-size arithmetic for `statfs`, separate so it is testable without shared memory.
public enum CapacityFigures {
    /// 8 EiB, what an elastic EFS file system reports as its size (`df -h` shows `8.0E`).
    public static let elasticBytes: UInt64 = 1 << 63

    /// Total and free blocks: total rounds down, free never exceeds total and is 0 when full.
    public static func blocks(capacityBytes: UInt64, usedBytes: UInt64, blockSize: UInt64) -> (total: UInt64, free: UInt64) {
        let total = capacityBytes / blockSize
        let freeBytes = usedBytes >= capacityBytes ? 0 : capacityBytes - usedBytes
        return (total, min(total, freeBytes / blockSize))
    }
}

/// How much a backing directory holds by the capacity rule above.
public enum UsageScanner {
    /// The sum of regular files' allocated bytes under `root`, each inode once. A walk of directory descriptors
    /// (`DirectoryChain`): no symbolic link is followed (the root's included), names are bytes, any depth
    /// is scanned, and nothing mounted inside is counted (`MountIdentity`). Entries that vanish during the scan are skipped; an unreadable directory is an error,
    /// since a wrong figure would misreport ENOSPC.
    public static func usedBytes(under root: String) throws(SharedStateError) -> UInt64 {
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        var rootInfo = stat()
        guard rootFD >= 0, fstat(rootFD, &rootInfo) == 0 else {
            let code = errno
            if rootFD >= 0 { close(rootFD) }
            throw .system(operation: "scan", path: root, errno: code)
        }
        let rootMount = MountIdentity(rootFD, rootInfo)
        var chain = DirectoryChain()
        chain.push(rootFD, rootInfo)
        defer { chain.closeAll() }
        guard let rootEntries = DirectoryListing.read(rootFD) else {
            throw .system(operation: "scan", path: root, errno: errno)
        }
        var listings = [rootEntries]
        var names: [[CChar]] = []  // of the directories below the root being scanned, for messages
        var seen = Set<InodeKey>()
        var total: UInt64 = 0
        while let depth = listings.indices.last {
            guard let name = listings[depth].next() else {
                listings.removeLast()
                guard !listings.isEmpty else { break }
                let code = chain.pop()
                guard code == 0 else { throw .system(operation: "scan", path: PathDisplay.join(root, names), errno: code) }
                names.removeLast()
                continue
            }
            let directory = chain.top
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else {
                    if errno == ENOENT || errno == ENOTDIR || errno == ELOOP { continue }  // gone or replaced
                    throw .system(operation: "scan", path: PathDisplay.join(root, names + [name]), errno: errno)
                }
                var childInfo = stat()
                guard fstat(child, &childInfo) == 0 else {
                    let code = errno
                    close(child)
                    throw .system(operation: "scan", path: PathDisplay.join(root, names + [name]), errno: code)
                }
                guard rootMount.contains(child, childInfo) else {
                    close(child)  // something mounted here: not the volume's bytes
                    continue
                }
                chain.push(child, childInfo)
                names.append(name)
                guard let entries = DirectoryListing.read(child) else {
                    throw .system(operation: "scan", path: PathDisplay.join(root, names), errno: errno)
                }
                listings.append(entries)
            case S_IFREG:
                if info.st_nlink > 1 {
                    let key = InodeKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
                    if !seen.insert(key).inserted { continue }
                }
                total += Allocation(info).charged
            default: break
            }
        }
        return total
    }
}

/// A file's identity on the backing store: device and inode number.
public struct InodeKey: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// A volume-wide count in the shared state directory that any mount, in any process, advances and
/// reads with one memory load: what lets mounts of a shared volume keep close-to-open consistency
/// (AWS docs: efs/latest/ug/consistency.html) without talking to each other.
public final class VolumeCounter: Sendable {
    public enum Kind: Sendable {
        /// Writable handles closed on any mount (`data-generation`): a mount compares it at open time
        /// to learn whether some mount may have changed files since it cached them.
        case closedWritableHandles
        /// Names removed on any mount: unlink, rmdir, rename (`name-removals`). A mount that lets the
        /// kernel cache names (shared volumes: 1 s) compares it at open time: while it is unchanged
        /// since a name was looked up, that name still leads where it did; otherwise the mount checks
        /// the path again.
        case removedNames
        /// Mount servers of the volume running now (`live-mounts`): while a shared volume has one, no
        /// other mount can change its names, and its kernel may keep directory names too.
        case liveMounts

        public var fileName: String {
            switch self {
            case .closedWritableHandles: "data-generation"
            case .removedNames: "name-removals"
            case .liveMounts: "live-mounts"
            }
        }

        var layout: UInt64 {
            switch self {
            case .closedWritableHandles: 1
            case .removedNames: 6
            case .liveMounts: 7
            }
        }
        var initialValue: UInt64 { self == .closedWritableHandles ? 1 : 0 }
    }

    private let words: SharedWords

    public init(_ kind: Kind, sharedStateDirectory: String) throws(SharedStateError) {
        words = try SharedWords(path: sharedStateDirectory + "/" + kind.fileName, count: 1, layout: kind.layout) {
            () throws(SharedStateError) -> [UInt64] in [kind.initialValue]
        }
    }

    public var current: UInt64 { words.load(0) }

    /// Returns the new count.
    @discardableResult
    public func advance() -> UInt64 { words.add(0, 1) }

    /// Counts one down (never below 0); returns the new count.
    @discardableResult
    public func retreat() -> UInt64 { words.saturatingSubtract(0, 1) }
}

/// A flag in a shared file that the CLI sets and clears (`berth az fail` / `recover`) and mounts read
/// with one memory load per operation.
public final class SharedFlag: Sendable {
    private let words: SharedWords

    /// Opens (creating, cleared, if needed) the flag file at `path`.
    public init(path: String) throws(SharedStateError) {
        words = try SharedWords(path: path, count: 1, layout: 2) { () throws(SharedStateError) -> [UInt64] in [0] }
    }

    public var isSet: Bool { words.load(0) != 0 }

    public func set(_ on: Bool) { words.store(0, on ? 1 : 0) }
}

/// Cut off while any of its flags is set: e.g. one flag per AZ the mount depends on (the task's AZ,
/// and for a single-AZ volume the volume's AZ).
public struct SharedFlagReachability: Reachability {
    private let flags: [SharedFlag]

    public init(flags: [SharedFlag]) { self.flags = flags }

    public var isReachable: Bool {
        for flag in flags where flag.isSet { return false }
        return true
    }
}
#endif
