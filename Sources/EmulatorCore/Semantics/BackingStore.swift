#if canImport(Glibc)
public import Glibc
import Synchronization

/// An errno a volume operation answers with: what a mount replies to the kernel, and what the
/// semantics core's tests compare.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }

    /// The errno left by the last failed system call (never 0: EIO if it is).
    public static var last: Errno { Errno(errno == 0 ? EIO : errno) }

    public var description: String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text) + " (errno \(code))"
    }
}

/// Runs `body` holding `mutex`, for a result of any type (Mutex.withLock wants a `sending` one).
func withMutex<Value: Sendable, T>(_ mutex: borrowing Mutex<Value>, _ body: (inout Value) throws(Errno) -> T) throws(Errno) -> T {
    var result: Result<T, Errno>?
    mutex.withLock { value in
        do throws(Errno) { result = .success(try body(&value)) } catch { result = .failure(error) }
    }
    guard let result else { throw Errno(EIO) }
    return try result.get()
}

/// What kind of file a node is.
public enum NodeType: Sendable, Equatable {
    case regular, directory, symbolicLink, other

    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFLNK: self = .symbolicLink
        default: self = .other
        }
    }
}

/// A file's attributes as a backing store reports them (`stat`, never following a symbolic link).
public struct NodeAttributes: Sendable, Equatable {
    public var key: InodeKey
    public var type: NodeType
    /// Type and permission bits (`st_mode`).
    public var mode: mode_t
    public var size: UInt64
    /// Allocated bytes (`st_blocks * 512`).
    public var allocated: UInt64
    public var links: UInt64
    /// The allocation unit (`st_blksize`).
    public var blockSize: UInt64
    public var uid: uid_t
    public var gid: gid_t

    public init(key: InodeKey, type: NodeType, mode: mode_t, size: UInt64, allocated: UInt64, links: UInt64,
                blockSize: UInt64, uid: uid_t, gid: gid_t) {
        self.key = key
        self.type = type
        self.mode = mode
        self.size = size
        self.allocated = allocated
        self.links = links
        self.blockSize = blockSize
        self.uid = uid
        self.gid = gid
    }

    public init(_ st: stat) {
        self.init(key: InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)), type: NodeType(mode: st.st_mode),
                  mode: st.st_mode, size: UInt64(max(0, st.st_size)), allocated: UInt64(max(0, st.st_blocks)) * 512,
                  links: UInt64(st.st_nlink), blockSize: UInt64(max(0, st.st_blksize)), uid: st.st_uid, gid: st.st_gid)
    }

    /// What the capacity rule counts of this file (CapacityLedger.swift).
    public var allocation: Allocation {
        Allocation(allocated: allocated, size: size, links: links, blockSize: blockSize, isRegular: type == .regular)
    }
}

/// How much room the store under a volume has (`statvfs` of the backing file system).
public struct StoreSpace: Sendable, Equatable {
    public var files: UInt64
    public var freeFiles: UInt64
    /// Bytes still free for an unprivileged writer (`f_bavail * f_frsize`).
    public var availableBytes: UInt64
    /// Bytes in use (`(f_blocks - f_bfree) * f_frsize`).
    public var usedBytes: UInt64

    public init(files: UInt64, freeFiles: UInt64, availableBytes: UInt64, usedBytes: UInt64) {
        self.files = files
        self.freeFiles = freeFiles
        self.availableBytes = availableBytes
        self.usedBytes = usedBytes
    }
}

/// A change of one of a file's times.
public enum TimeChange: Sendable, Equatable {
    case omit, now
    case set(seconds: Int, nanoseconds: Int)
}

/// rename(2) flags (renameat2).
public struct RenameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// RENAME_NOREPLACE: EEXIST when the target exists.
    public static let noReplace = RenameFlags(rawValue: 1 << 0)
    /// RENAME_EXCHANGE: swap the two entries, both of which must exist.
    public static let exchange = RenameFlags(rawValue: 1 << 1)
}

/// fallocate(2) modes (linux/falloc.h).
public enum AllocateMode {
    public static let keepSize: Int32 = 0x01
    public static let punchHole: Int32 = 0x02
    public static let collapseRange: Int32 = 0x08
    public static let zeroRange: Int32 = 0x10
    public static let insertRange: Int32 = 0x20
}

/// Where a volume's files live, reached the way a mount must reach them: names one component at a
/// time under a directory node, never following a symbolic link, so nothing outside the volume is ever
/// reached through one. Two implementations: `DirectoryStore` (a real backing directory, through
/// descriptors and `*at` calls) and `MemoryStore` (inodes in memory, for tests). The rules of a
/// volume are not here but in `VolumeSemantics`, which is written once over this protocol.
public protocol BackingStore: Sendable {
    /// A file reached by a lookup, valid whatever happens to its names later (an O_PATH descriptor,
    /// an inode number). Owned by whoever looked it up: hand it back with `release`.
    associatedtype Node: Sendable
    /// An open file.
    associatedtype Handle: Sendable

    var root: Node { get }
    /// `name` in `directory`, not following a symbolic link at it.
    func lookup(_ name: [UInt8], in directory: Node) throws(Errno) -> Node
    /// Gives back a node from `lookup` (never `root`).
    func release(_ node: Node)

    func attributes(of node: Node) throws(Errno) -> NodeAttributes
    /// lstat of `name` in `directory`.
    func attributes(of name: [UInt8], in directory: Node) throws(Errno) -> NodeAttributes
    func attributes(ofOpen handle: Handle) throws(Errno) -> NodeAttributes

    /// Opens `name` in `directory` with `flags` (O_CREAT added), never through a symbolic link
    /// (O_NOFOLLOW added: a link there answers ELOOP), creating it with `mode` when absent.
    func create(_ name: [UInt8], in directory: Node, flags: Int32, mode: mode_t) throws(Errno) -> Handle
    func makeDirectory(_ name: [UInt8], in directory: Node, mode: mode_t) throws(Errno)
    func makeNode(_ name: [UInt8], in directory: Node, mode: mode_t, device: dev_t) throws(Errno)
    func makeSymbolicLink(_ name: [UInt8], in directory: Node, target: [UInt8]) throws(Errno)
    /// Another name for `node` itself (a symbolic link is linked, not followed).
    func link(_ node: Node, as name: [UInt8], in directory: Node) throws(Errno)
    func unlink(_ name: [UInt8], in directory: Node) throws(Errno)
    func removeDirectory(_ name: [UInt8], in directory: Node) throws(Errno)
    func rename(_ name: [UInt8], in directory: Node, to newName: [UInt8], in newDirectory: Node,
                flags: RenameFlags) throws(Errno)
    func readLink(_ node: Node) throws(Errno) -> [UInt8]

    /// Opens `node` (O_CREAT, O_EXCL and O_NOFOLLOW are ignored: the node is already found).
    func open(_ node: Node, flags: Int32) throws(Errno) -> Handle
    func read(_ handle: Handle, offset: UInt64, count: Int) throws(Errno) -> [UInt8]
    func write(_ handle: Handle, offset: UInt64, bytes: UnsafeRawBufferPointer) throws(Errno) -> Int
    func truncate(_ node: Node, to size: UInt64) throws(Errno)
    func truncate(open handle: Handle, to size: UInt64) throws(Errno)
    func allocate(_ handle: Handle, mode: Int32, offset: UInt64, length: UInt64) throws(Errno)
    /// The holes among the blocks `length` bytes at `offset` touch (`Allocation.holes`), or nil when
    /// the file has none there.
    func holes(_ handle: Handle, file: Allocation, offset: UInt64, length: UInt64) -> [Range<UInt64>]?
    func sync(_ handle: Handle, dataOnly: Bool) throws(Errno)
    func close(_ handle: Handle)

    func setMode(_ node: Node, _ mode: mode_t) throws(Errno)
    func setOwner(_ node: Node, uid: uid_t?, gid: gid_t?) throws(Errno)
    func setTimes(_ node: Node, access: TimeChange, modification: TimeChange) throws(Errno)

    /// The names in `directory`, without `.` and `..`.
    func entries(of directory: Node) throws(Errno) -> [[UInt8]]

    func extendedAttribute(_ name: [UInt8], of node: Node) throws(Errno) -> [UInt8]
    func setExtendedAttribute(_ name: [UInt8], of node: Node, value: [UInt8], flags: Int32) throws(Errno)
    func extendedAttributeNames(of node: Node) throws(Errno) -> [[UInt8]]
    func removeExtendedAttribute(_ name: [UInt8], of node: Node) throws(Errno)

    func space() throws(Errno) -> StoreSpace

    /// Runs `body` holding the lock that serialises changes of `directory`'s names on every mount of
    /// the volume (case-insensitive volumes: no two spellings of one name may come into being).
    func withNameLock<T>(_ directory: Node, _ body: () throws(Errno) -> T) throws(Errno) -> T
    /// The entry of `directory` that `name` denotes when names match by `matchKey`: `name` itself,
    /// another spelling, or nil.
    func spelling(of name: [UInt8], in directory: Node, matchKey: ([UInt8]) -> [UInt8]) -> [UInt8]?
    /// Called under `withNameLock` after a change of `directory`'s names (for a store's index).
    func namesChanged(in directory: Node, added: [UInt8]?, removed: [UInt8]?)
}

extension BackingStore {
    /// The plain answer: scan the directory. The exact spelling wins over another one.
    public func scannedSpelling(of name: [UInt8], in directory: Node, matchKey: ([UInt8]) -> [UInt8]) -> [UInt8]? {
        guard let names = try? entries(of: directory) else { return nil }
        if names.contains(name) { return name }
        let wanted = matchKey(name)
        return names.first { matchKey($0) == wanted }
    }
}
#endif
