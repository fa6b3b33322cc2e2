#if canImport(Glibc)
public import Glibc
import Synchronization

/// A backing store in memory, for tests of `VolumeSemantics` without a disk or a mount: inodes with
/// hard links, symbolic links, directories, and sparse files whose allocation is counted per 4 KiB
/// block as an extent file system counts it (a block exists once any byte of it was written or
/// allocated; a hole costs nothing). Answers the errnos Linux does for the same calls.
public final class MemoryStore: BackingStore, Sendable {
    public typealias Node = UInt64
    public typealias Handle = UInt64

    public static let blockSize: UInt64 = 4096
    /// The longest file (ext4's limit with 4 KiB blocks): EFBIG past it.
    public static let maximumSize: UInt64 = 16 << 40
    /// The device number of every key (`InodeKey.device`).
    public static let device: UInt64 = 0xB_E27

    struct Inode {
        var type: NodeType
        var mode: mode_t
        var uid: uid_t = 0
        var gid: gid_t = 0
        var links: UInt64 = 1
        var size: UInt64 = 0
        /// Allocated blocks by index, each `blockSize` bytes.
        var blocks: [UInt64: [UInt8]] = [:]
        var entries: [[UInt8]: UInt64] = [:]
        var target: [UInt8] = []
        var attributes: [[UInt8]: [UInt8]] = [:]
        var openCount = 0
        var parent: UInt64 = 0
    }

    struct State {
        var inodes: [UInt64: Inode] = [:]
        var nextInode: UInt64 = 2
        var handles: [UInt64: (inode: UInt64, flags: Int32)] = [:]
        var nextHandle: UInt64 = 1
    }

    private let state: Mutex<State>
    /// Total bytes the store may hold (ENOSPC past it), like the disk under a backing directory.
    public let diskBytes: UInt64
    public let root: UInt64 = 1

    public init(diskBytes: UInt64 = 1 << 40) {
        self.diskBytes = diskBytes
        var initial = State()
        initial.inodes[1] = Inode(type: .directory, mode: S_IFDIR | 0o755, links: 2, parent: 1)
        state = Mutex(initial)
    }

    // MARK: - Helpers (under the state lock)

    private static func validName(_ name: [UInt8]) throws(Errno) {
        if name.isEmpty || name.contains(0x2F) || name.contains(0) { throw Errno(EINVAL) }
        if name.count > 255 { throw Errno(ENAMETOOLONG) }
    }

    private static func directory(_ s: State, _ node: UInt64) throws(Errno) -> Inode {
        guard let inode = s.inodes[node] else { throw Errno(ESTALE) }
        guard inode.type == .directory else { throw Errno(ENOTDIR) }
        return inode
    }

    private static func child(_ s: State, _ name: [UInt8], in directory: UInt64) throws(Errno) -> UInt64 {
        let dir = try Self.directory(s, directory)
        if name == [0x2E] { return directory }
        if name == [0x2E, 0x2E] { return dir.parent }
        guard let found = dir.entries[name] else { throw Errno(ENOENT) }
        return found
    }

    private static func attributes(_ number: UInt64, _ inode: Inode) -> NodeAttributes {
        NodeAttributes(key: InodeKey(device: device, inode: number), type: inode.type, mode: inode.mode, size: inode.size,
                       allocated: UInt64(inode.blocks.count) * blockSize, links: inode.links, blockSize: blockSize,
                       uid: inode.uid, gid: inode.gid)
    }

    private func usedBytes(_ s: State) -> UInt64 {
        s.inodes.values.reduce(0) { $0 + UInt64($1.blocks.count) * Self.blockSize }
    }

    /// Drops an inode nobody reaches any more (no name, no open handle).
    private static func collect(_ s: inout State, _ number: UInt64) {
        guard let inode = s.inodes[number], inode.links == 0, inode.openCount == 0 else { return }
        s.inodes[number] = nil
    }

    private func makeEntry(_ name: [UInt8], in directory: UInt64, _ make: (inout State) -> UInt64) throws(Errno) {
        try Self.validName(name)
        try state.withLock { (s: inout State) throws(Errno) in
            let dir = try Self.directory(s, directory)
            if dir.entries[name] != nil || name == [0x2E] || name == [0x2E, 0x2E] { throw Errno(EEXIST) }
            let number = make(&s)
            s.inodes[number]?.parent = directory
            s.inodes[directory]?.entries[name] = number
            if s.inodes[number]?.type == .directory { s.inodes[directory]?.links += 1 }
        }
    }

    private static func newInode(_ s: inout State, _ inode: Inode) -> UInt64 {
        let number = s.nextInode
        s.nextInode += 1
        s.inodes[number] = inode
        return number
    }

    // MARK: - BackingStore

    public func lookup(_ name: [UInt8], in directory: UInt64) throws(Errno) -> UInt64 {
        try state.withLock { (s: inout State) throws(Errno) in try Self.child(s, name, in: directory) }
    }

    public func release(_ node: UInt64) {}

    public func attributes(of node: UInt64) throws(Errno) -> NodeAttributes {
        try state.withLock { (s: inout State) throws(Errno) in
            guard let inode = s.inodes[node] else { throw Errno(ESTALE) }
            return Self.attributes(node, inode)
        }
    }

    public func attributes(of name: [UInt8], in directory: UInt64) throws(Errno) -> NodeAttributes {
        try state.withLock { (s: inout State) throws(Errno) in
            let number = try Self.child(s, name, in: directory)
            guard let inode = s.inodes[number] else { throw Errno(ENOENT) }
            return Self.attributes(number, inode)
        }
    }

    public func attributes(ofOpen handle: UInt64) throws(Errno) -> NodeAttributes {
        try state.withLock { (s: inout State) throws(Errno) in
            guard let open = s.handles[handle], let inode = s.inodes[open.inode] else { throw Errno(EBADF) }
            return Self.attributes(open.inode, inode)
        }
    }

    public func create(_ name: [UInt8], in directory: UInt64, flags: Int32, mode: mode_t) throws(Errno) -> UInt64 {
        try Self.validName(name)
        return try state.withLock { (s: inout State) throws(Errno) in
            let dir = try Self.directory(s, directory)
            let number: UInt64
            if let existing = dir.entries[name] {
                if flags & O_EXCL != 0 { throw Errno(EEXIST) }
                guard let inode = s.inodes[existing] else { throw Errno(ENOENT) }
                if inode.type == .symbolicLink { throw Errno(ELOOP) }
                if inode.type == .directory { throw Errno(EISDIR) }
                number = existing
                if flags & O_TRUNC != 0, flags & O_ACCMODE != O_RDONLY {
                    s.inodes[number]?.blocks = [:]
                    s.inodes[number]?.size = 0
                }
            } else {
                number = Self.newInode(&s, Inode(type: .regular, mode: S_IFREG | (mode & 0o7777), parent: directory))
                s.inodes[directory]?.entries[name] = number
            }
            s.inodes[number]?.openCount += 1
            let handle = s.nextHandle
            s.nextHandle += 1
            s.handles[handle] = (number, flags)
            return handle
        }
    }

    public func makeDirectory(_ name: [UInt8], in directory: UInt64, mode: mode_t) throws(Errno) {
        try makeEntry(name, in: directory) { s in
            Self.newInode(&s, Inode(type: .directory, mode: S_IFDIR | (mode & 0o7777), links: 2))
        }
    }

    public func makeNode(_ name: [UInt8], in directory: UInt64, mode: mode_t, device: dev_t) throws(Errno) {
        let type = NodeType(mode: mode)
        if type == .directory || type == .symbolicLink { throw Errno(EINVAL) }
        try makeEntry(name, in: directory) { s in
            Self.newInode(&s, Inode(type: type, mode: mode & S_IFMT == 0 ? S_IFREG | mode : mode))
        }
    }

    public func makeSymbolicLink(_ name: [UInt8], in directory: UInt64, target: [UInt8]) throws(Errno) {
        if target.isEmpty { throw Errno(ENOENT) }
        try makeEntry(name, in: directory) { s in
            Self.newInode(&s, Inode(type: .symbolicLink, mode: S_IFLNK | 0o777, size: UInt64(target.count), target: target))
        }
    }

    public func link(_ node: UInt64, as name: [UInt8], in directory: UInt64) throws(Errno) {
        try Self.validName(name)
        try state.withLock { (s: inout State) throws(Errno) in
            let dir = try Self.directory(s, directory)
            guard let inode = s.inodes[node], inode.links > 0 else { throw Errno(ENOENT) }
            if inode.type == .directory { throw Errno(EPERM) }
            if dir.entries[name] != nil { throw Errno(EEXIST) }
            s.inodes[directory]?.entries[name] = node
            s.inodes[node]?.links += 1
        }
    }

    public func unlink(_ name: [UInt8], in directory: UInt64) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            let number = try Self.child(s, name, in: directory)
            guard let inode = s.inodes[number] else { throw Errno(ENOENT) }
            if inode.type == .directory { throw Errno(EISDIR) }
            s.inodes[directory]?.entries[name] = nil
            s.inodes[number]?.links -= 1
            Self.collect(&s, number)
        }
    }

    public func removeDirectory(_ name: [UInt8], in directory: UInt64) throws(Errno) {
        if name == [0x2E] { throw Errno(EINVAL) }
        if name == [0x2E, 0x2E] { throw Errno(ENOTEMPTY) }
        try state.withLock { (s: inout State) throws(Errno) in
            let number = try Self.child(s, name, in: directory)
            guard let inode = s.inodes[number] else { throw Errno(ENOENT) }
            guard inode.type == .directory else { throw Errno(ENOTDIR) }
            if number == 1 { throw Errno(EBUSY) }
            if !inode.entries.isEmpty { throw Errno(ENOTEMPTY) }
            s.inodes[directory]?.entries[name] = nil
            s.inodes[directory]?.links -= 1
            s.inodes[number]?.links = 0
            Self.collect(&s, number)
        }
    }

    /// Whether `ancestor` is `node` or one of its parents.
    private static func isAncestor(_ s: State, _ ancestor: UInt64, of node: UInt64) -> Bool {
        var current = node
        while true {
            if current == ancestor { return true }
            guard current != 1, let parent = s.inodes[current]?.parent else { return false }
            current = parent
        }
    }

    public func rename(_ name: [UInt8], in directory: UInt64, to newName: [UInt8], in newDirectory: UInt64,
                       flags: RenameFlags) throws(Errno) {
        try Self.validName(newName)
        if flags.contains(.exchange) && flags.contains(.noReplace) { throw Errno(EINVAL) }
        try state.withLock { (s: inout State) throws(Errno) in
            if name == [0x2E] || name == [0x2E, 0x2E] { throw Errno(EBUSY) }
            let source = try Self.child(s, name, in: directory)
            let targetDir = try Self.directory(s, newDirectory)
            guard let moving = s.inodes[source] else { throw Errno(ENOENT) }
            let existing = targetDir.entries[newName]
            if flags.contains(.exchange) {
                guard let existing, let other = s.inodes[existing] else { throw Errno(ENOENT) }
                if moving.type == .directory, Self.isAncestor(s, source, of: newDirectory) { throw Errno(EINVAL) }
                if other.type == .directory, Self.isAncestor(s, existing, of: directory) { throw Errno(EINVAL) }
                s.inodes[directory]?.entries[name] = existing
                s.inodes[newDirectory]?.entries[newName] = source
                s.inodes[source]?.parent = newDirectory
                s.inodes[existing]?.parent = directory
                if directory != newDirectory, (moving.type == .directory) != (other.type == .directory) {
                    let gaining = moving.type == .directory ? newDirectory : directory
                    let losing = moving.type == .directory ? directory : newDirectory
                    s.inodes[gaining]?.links += 1
                    s.inodes[losing]?.links -= 1
                }
                return
            }
            if moving.type == .directory, Self.isAncestor(s, source, of: newDirectory) { throw Errno(EINVAL) }
            if let existing {
                if flags.contains(.noReplace) { throw Errno(EEXIST) }
                if existing == source { return }  // two names of one file: nothing changes
                guard let replaced = s.inodes[existing] else { throw Errno(ENOENT) }
                if moving.type == .directory {
                    guard replaced.type == .directory else { throw Errno(ENOTDIR) }
                    if !replaced.entries.isEmpty { throw Errno(ENOTEMPTY) }
                } else if replaced.type == .directory {
                    throw Errno(EISDIR)
                }
                if replaced.type == .directory {
                    s.inodes[existing]?.links = 0
                    s.inodes[newDirectory]?.links -= 1
                } else {
                    s.inodes[existing]?.links -= 1
                }
                Self.collect(&s, existing)
            }
            s.inodes[directory]?.entries[name] = nil
            s.inodes[newDirectory]?.entries[newName] = source
            s.inodes[source]?.parent = newDirectory
            if moving.type == .directory, directory != newDirectory {
                s.inodes[directory]?.links -= 1
                s.inodes[newDirectory]?.links += 1
            }
        }
    }

    public func readLink(_ node: UInt64) throws(Errno) -> [UInt8] {
        try state.withLock { (s: inout State) throws(Errno) in
            guard let inode = s.inodes[node] else { throw Errno(ESTALE) }
            guard inode.type == .symbolicLink else { throw Errno(EINVAL) }
            return inode.target
        }
    }

    public func open(_ node: UInt64, flags: Int32) throws(Errno) -> UInt64 {
        try state.withLock { (s: inout State) throws(Errno) in
            guard let inode = s.inodes[node] else { throw Errno(ESTALE) }
            if inode.type == .symbolicLink { throw Errno(ELOOP) }
            if inode.type == .directory, flags & O_ACCMODE != O_RDONLY { throw Errno(EISDIR) }
            if flags & O_DIRECTORY != 0, inode.type != .directory { throw Errno(ENOTDIR) }
            if flags & O_TRUNC != 0, flags & O_ACCMODE != O_RDONLY, inode.type == .regular {
                s.inodes[node]?.blocks = [:]
                s.inodes[node]?.size = 0
            }
            s.inodes[node]?.openCount += 1
            let handle = s.nextHandle
            s.nextHandle += 1
            s.handles[handle] = (node, flags)
            return handle
        }
    }

    private func withOpen<T>(_ handle: UInt64, writing: Bool,
                             _ body: (inout Inode, inout State) throws(Errno) -> T) throws(Errno) -> T {
        try withMutex(state) { (s: inout State) throws(Errno) -> T in
            guard let open = s.handles[handle], var inode = s.inodes[open.inode] else { throw Errno(EBADF) }
            let mode = open.flags & O_ACCMODE
            if writing ? mode == O_RDONLY : mode == O_WRONLY { throw Errno(EBADF) }
            if inode.type == .directory { throw Errno(EISDIR) }
            let result = try body(&inode, &s)
            s.inodes[open.inode] = inode
            return result
        }
    }

    public func read(_ handle: UInt64, offset: UInt64, count: Int) throws(Errno) -> [UInt8] {
        try withOpen(handle, writing: false) { (inode: inout Inode, _: inout State) throws(Errno) in
            guard offset < inode.size, count > 0 else { return [] }
            let end = min(inode.size, offset + UInt64(count))
            var out = [UInt8](repeating: 0, count: Int(end - offset))
            var position = offset
            while position < end {
                let block = position / Self.blockSize, within = position % Self.blockSize
                let take = min(Self.blockSize - within, end - position)
                if let data = inode.blocks[block] {
                    for i in 0..<Int(take) { out[Int(position - offset) + i] = data[Int(within) + i] }
                }
                position += take
            }
            return out
        }
    }

    public func write(_ handle: UInt64, offset: UInt64, bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        let append = try state.withLock { (s: inout State) throws(Errno) in
            guard let open = s.handles[handle] else { throw Errno(EBADF) }
            return open.flags & O_APPEND != 0
        }
        return try withOpen(handle, writing: true) { (inode: inout Inode, s: inout State) throws(Errno) in
            let start = append ? inode.size : offset
            let (end, overflow) = start.addingReportingOverflow(UInt64(bytes.count))
            if overflow || end > Self.maximumSize { throw Errno(EFBIG) }
            if bytes.isEmpty { return 0 }
            let firstBlock = start / Self.blockSize, lastBlock = (end - 1) / Self.blockSize
            let newBlocks = (firstBlock...lastBlock).filter { inode.blocks[$0] == nil }.count
            if usedBytes(s) + UInt64(newBlocks) * Self.blockSize > diskBytes { throw Errno(ENOSPC) }
            var position = start
            while position < end {
                let block = position / Self.blockSize, within = position % Self.blockSize
                let take = min(Self.blockSize - within, end - position)
                var data = inode.blocks[block] ?? [UInt8](repeating: 0, count: Int(Self.blockSize))
                for i in 0..<Int(take) { data[Int(within) + i] = bytes[Int(position - start) + i] }
                inode.blocks[block] = data
                position += take
            }
            inode.size = max(inode.size, end)
            return bytes.count
        }
    }

    private static func setSize(_ inode: inout Inode, _ size: UInt64) throws(Errno) {
        if size > maximumSize { throw Errno(EFBIG) }
        if size < inode.size {
            let keep = (size + blockSize - 1) / blockSize
            inode.blocks = inode.blocks.filter { $0.key < keep }
            let within = Int(size % blockSize)
            if within != 0, var last = inode.blocks[keep - 1] {
                for i in within..<Int(blockSize) { last[i] = 0 }
                inode.blocks[keep - 1] = last
            }
        }
        inode.size = size
    }

    public func truncate(_ node: UInt64, to size: UInt64) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            guard var inode = s.inodes[node] else { throw Errno(ESTALE) }
            if inode.type == .directory { throw Errno(EISDIR) }
            guard inode.type == .regular else { throw Errno(EINVAL) }
            try Self.setSize(&inode, size)
            s.inodes[node] = inode
        }
    }

    public func truncate(open handle: UInt64, to size: UInt64) throws(Errno) {
        try withOpen(handle, writing: true) { (inode: inout Inode, _: inout State) throws(Errno) in
            try Self.setSize(&inode, size)
        }
    }

    public func allocate(_ handle: UInt64, mode: Int32, offset: UInt64, length: UInt64) throws(Errno) {
        if length == 0 { throw Errno(EINVAL) }
        try withOpen(handle, writing: true) { (inode: inout Inode, s: inout State) throws(Errno) in
            let (end, overflow) = offset.addingReportingOverflow(length)
            if overflow || end > Self.maximumSize { throw Errno(EFBIG) }
            switch mode {
            case 0, AllocateMode.keepSize:
                let blocks = (offset / Self.blockSize)...((end - 1) / Self.blockSize)
                let missing = blocks.filter { inode.blocks[$0] == nil }
                if usedBytes(s) + UInt64(missing.count) * Self.blockSize > diskBytes { throw Errno(ENOSPC) }
                for block in missing { inode.blocks[block] = [UInt8](repeating: 0, count: Int(Self.blockSize)) }
                if mode == 0 { inode.size = max(inode.size, end) }
            case AllocateMode.punchHole | AllocateMode.keepSize:
                var position = offset
                while position < end {
                    let block = position / Self.blockSize, within = position % Self.blockSize
                    let take = min(Self.blockSize - within, end - position)
                    if take == Self.blockSize {
                        inode.blocks[block] = nil
                    } else if var data = inode.blocks[block] {
                        for i in Int(within)..<Int(within + take) { data[i] = 0 }
                        inode.blocks[block] = data
                    }
                    position += take
                }
            default:
                throw Errno(EOPNOTSUPP)
            }
        }
    }

    public func holes(_ handle: UInt64, file: Allocation, offset: UInt64, length: UInt64) -> [Range<UInt64>]? {
        guard file.isSparse, length > 0 else { return nil }
        return state.withLock { s -> [Range<UInt64>]? in
            guard let open = s.handles[handle], let inode = s.inodes[open.inode] else { return nil }
            let first = offset / Self.blockSize
            let (end, overflow) = offset.addingReportingOverflow(length)
            let last = overflow ? UInt64.max / Self.blockSize : (end - 1) / Self.blockSize
            var found: [Range<UInt64>] = []
            var block = first
            while block <= last {
                if inode.blocks[block] == nil {
                    let lower = block * Self.blockSize
                    if let previous = found.last, previous.upperBound == lower {
                        found[found.count - 1] = previous.lowerBound..<(lower + Self.blockSize)
                    } else {
                        found.append(lower..<(lower + Self.blockSize))
                    }
                }
                if block == UInt64.max / Self.blockSize { break }
                block += 1
            }
            return found
        }
    }

    public func sync(_ handle: UInt64, dataOnly: Bool) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            if s.handles[handle] == nil { throw Errno(EBADF) }
        }
    }

    public func close(_ handle: UInt64) {
        state.withLock { s in
            guard let open = s.handles.removeValue(forKey: handle) else { return }
            s.inodes[open.inode]?.openCount -= 1
            Self.collect(&s, open.inode)
        }
    }

    public func setMode(_ node: UInt64, _ mode: mode_t) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            guard let inode = s.inodes[node] else { throw Errno(ESTALE) }
            if inode.type == .symbolicLink { throw Errno(EOPNOTSUPP) }
            s.inodes[node]?.mode = (inode.mode & S_IFMT) | (mode & 0o7777)
        }
    }

    public func setOwner(_ node: UInt64, uid: uid_t?, gid: gid_t?) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            guard s.inodes[node] != nil else { throw Errno(ESTALE) }
            if let uid { s.inodes[node]?.uid = uid }
            if let gid { s.inodes[node]?.gid = gid }
        }
    }

    public func setTimes(_ node: UInt64, access: TimeChange, modification: TimeChange) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            if s.inodes[node] == nil { throw Errno(ESTALE) }
        }
    }

    public func entries(of directory: UInt64) throws(Errno) -> [[UInt8]] {
        try state.withLock { (s: inout State) throws(Errno) in
            try Self.directory(s, directory).entries.keys.sorted { $0.lexicographicallyPrecedes($1) }
        }
    }

    private static func xattrNamespace(_ name: [UInt8]) throws(Errno) {
        let known: [[UInt8]] = [Array("user.".utf8), Array("trusted.".utf8), Array("security.".utf8)]
        guard known.contains(where: { name.starts(with: $0) && name.count > $0.count }) else { throw Errno(EOPNOTSUPP) }
    }

    public func extendedAttribute(_ name: [UInt8], of node: UInt64) throws(Errno) -> [UInt8] {
        try state.withLock { (s: inout State) throws(Errno) in
            guard let inode = s.inodes[node] else { throw Errno(ESTALE) }
            guard let value = inode.attributes[name] else { throw Errno(ENODATA) }
            return value
        }
    }

    public func setExtendedAttribute(_ name: [UInt8], of node: UInt64, value: [UInt8], flags: Int32) throws(Errno) {
        try Self.xattrNamespace(name)
        try state.withLock { (s: inout State) throws(Errno) in
            guard let inode = s.inodes[node] else { throw Errno(ESTALE) }
            if inode.type == .symbolicLink, name.starts(with: Array("user.".utf8)) { throw Errno(EPERM) }
            let exists = inode.attributes[name] != nil
            if flags & 0x1 != 0, exists { throw Errno(EEXIST) }  // XATTR_CREATE
            if flags & 0x2 != 0, !exists { throw Errno(ENODATA) }  // XATTR_REPLACE
            s.inodes[node]?.attributes[name] = value
        }
    }

    public func extendedAttributeNames(of node: UInt64) throws(Errno) -> [[UInt8]] {
        try state.withLock { (s: inout State) throws(Errno) in
            guard let inode = s.inodes[node] else { throw Errno(ESTALE) }
            return inode.attributes.keys.sorted { $0.lexicographicallyPrecedes($1) }
        }
    }

    public func removeExtendedAttribute(_ name: [UInt8], of node: UInt64) throws(Errno) {
        try state.withLock { (s: inout State) throws(Errno) in
            guard s.inodes[node] != nil else { throw Errno(ESTALE) }
            guard s.inodes[node]?.attributes.removeValue(forKey: name) != nil else { throw Errno(ENODATA) }
        }
    }

    public func space() throws(Errno) -> StoreSpace {
        state.withLock { s in
            let used = usedBytes(s)
            return StoreSpace(files: 1 << 20, freeFiles: (1 << 20) - UInt64(s.inodes.count),
                              availableBytes: used >= diskBytes ? 0 : diskBytes - used, usedBytes: used)
        }
    }

    /// The directories whose name lock is held.
    private let nameLocks = Mutex(Set<UInt64>())

    public func withNameLock<T>(_ directory: UInt64, _ body: () throws(Errno) -> T) throws(Errno) -> T {
        while !nameLocks.withLock({ $0.insert(directory).inserted }) { sched_yield() }
        defer { _ = nameLocks.withLock { $0.remove(directory) } }
        return try body()
    }

    public func spelling(of name: [UInt8], in directory: UInt64, matchKey: ([UInt8]) -> [UInt8]) -> [UInt8]? {
        scannedSpelling(of: name, in: directory, matchKey: matchKey)
    }

    public func namesChanged(in directory: UInt64, added: [UInt8]?, removed: [UInt8]?) {}
}
#endif
