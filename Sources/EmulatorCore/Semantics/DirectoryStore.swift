#if canImport(Glibc)
public import Glibc
import CBerthShims

/// The real backing store: a backing directory reached only through descriptors and `*at` calls, one
/// name at a time, never following a symbolic link (a link put inside the volume cannot lead a mount
/// out of it). Nodes are O_PATH descriptors (passthrough_hp's inodes), handles ordinary descriptors.
/// What a mount server learned the hard way lives here once: a create opens with O_NOFOLLOW (a link
/// made at the name since the kernel's lookup answers ELOOP, which `VolumeSemantics` turns into the
/// kernel's ESTALE retry); a link is made from the descriptor itself (AT_EMPTY_PATH, or its
/// `/proc/self/fd` magic link), so a symbolic link is linked, not followed; a node is reopened
/// through `/proc/self/fd`, as passthrough_hp does.
public final class DirectoryStore: BackingStore, Sendable {
    public typealias Node = Int32
    public typealias Handle = Int32

    public let root: Int32
    /// Case-insensitive volumes: the shared index of spellings (nil: scan).
    public let folding: CaseFoldedDirectories?
    private let ownsRoot: Bool

    /// Opens `path` (which must be a directory, not a link to one).
    public init(path: String, folding: CaseFoldedDirectories? = nil) throws(Errno) {
        let fd = Glibc.open(path, berth_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Errno.last }
        root = fd
        ownsRoot = true
        self.folding = folding
    }

    /// Over a root descriptor the caller keeps open (a mount server's root inode).
    public init(borrowingRoot fd: Int32, folding: CaseFoldedDirectories? = nil) {
        root = fd
        ownsRoot = false
        self.folding = folding
    }

    deinit { if ownsRoot { Glibc.close(root) } }

    @inline(__always)
    static func check(_ result: Int32) throws(Errno) {
        if result != 0 { throw Errno.last }
    }

    /// Runs `body` with `name` as a C string.
    @inline(__always)
    public static func withName<T>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) throws(Errno) -> T) throws(Errno) -> T {
        if name.contains(0) { throw Errno(EINVAL) }
        var bytes = name
        bytes.append(0)
        let result: Result<T, Errno> = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress else { return .failure(Errno(EINVAL)) }
                do throws(Errno) { return .success(try body(base)) } catch { return .failure(error) }
            }
        }
        return try result.get()
    }

    /// `/proc/self/fd/N` of `fd`.
    @inline(__always)
    public static func withProcPath<T>(_ fd: Int32, _ body: (UnsafePointer<CChar>) -> T) -> T {
        // In a stack buffer: this is on the path of every open and setattr.
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buffer in
            let prefix: StaticString = "/proc/self/fd/"
            var used = 0
            prefix.withUTF8Buffer { bytes in
                for byte in bytes {
                    buffer[used] = CChar(bitPattern: byte)
                    used += 1
                }
            }
            var value = UInt32(bitPattern: fd), count = 0, probe = value
            repeat {
                count += 1
                probe /= 10
            } while probe > 0
            var position = used + count - 1
            repeat {
                buffer[position] = CChar(48 + Int(value % 10))
                value /= 10
                position -= 1
            } while value > 0
            used += count
            buffer[used] = 0
            guard let base = buffer.baseAddress else { return body("") }
            return body(base)
        }
    }

    // MARK: - Names

    public func lookup(_ name: [UInt8], in directory: Int32) throws(Errno) -> Int32 {
        let fd = try Self.withName(name) { openat(directory, $0, berth_O_PATH | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 { throw Errno.last }
        return fd
    }

    public func release(_ node: Int32) {
        if node != root { Glibc.close(node) }
    }

    public func attributes(of node: Int32) throws(Errno) -> NodeAttributes {
        var st = stat()
        try Self.check(fstatat(node, "", &st, berth_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
        return NodeAttributes(st)
    }

    public func attributes(of name: [UInt8], in directory: Int32) throws(Errno) -> NodeAttributes {
        var st = stat()
        try Self.withName(name) { (cName) throws(Errno) in try Self.check(fstatat(directory, cName, &st, AT_SYMLINK_NOFOLLOW)) }
        return NodeAttributes(st)
    }

    public func attributes(ofOpen handle: Int32) throws(Errno) -> NodeAttributes {
        var st = stat()
        try Self.check(fstat(handle, &st))
        return NodeAttributes(st)
    }

    public func create(_ name: [UInt8], in directory: Int32, flags: Int32, mode: Glibc.mode_t) throws(Errno) -> Int32 {
        let fd = try Self.withName(name) { openat(directory, $0, flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode) }
        if fd < 0 { throw Errno.last }
        return fd
    }

    public func makeDirectory(_ name: [UInt8], in directory: Int32, mode: Glibc.mode_t) throws(Errno) {
        try Self.withName(name) { (cName) throws(Errno) in try Self.check(mkdirat(directory, cName, mode)) }
    }

    public func makeNode(_ name: [UInt8], in directory: Int32, mode: Glibc.mode_t, device: Glibc.dev_t) throws(Errno) {
        try Self.withName(name) { (cName) throws(Errno) in try Self.check(mknodat(directory, cName, mode, device)) }
    }

    public func makeSymbolicLink(_ name: [UInt8], in directory: Int32, target: [UInt8]) throws(Errno) {
        try Self.withName(target) { (cTarget) throws(Errno) in
            try Self.withName(name) { (cName) throws(Errno) in try Self.check(symlinkat(cTarget, directory, cName)) }
        }
    }

    /// Makes `name` in `directory` another link to the file `fd` (O_PATH) refers to, never following a
    /// symbolic link: by the descriptor itself where the server may (AT_EMPTY_PATH needs
    /// CAP_DAC_READ_SEARCH, which root has), else through its `/proc/self/fd` link, whose target is the
    /// file itself (a magic link to a symbolic link's O_PATH descriptor does not go on through the
    /// link's target). 0 or -1 with errno, like linkat.
    public static func linkFile(_ fd: Int32, into directory: Int32, _ name: UnsafePointer<CChar>) -> Int32 {
        if linkat(fd, "", directory, name, berth_AT_EMPTY_PATH) == 0 { return 0 }
        guard errno == ENOENT || errno == EPERM else { return -1 }
        return withProcPath(fd) { linkat(AT_FDCWD, $0, directory, name, AT_SYMLINK_FOLLOW) }
    }

    public func link(_ node: Int32, as name: [UInt8], in directory: Int32) throws(Errno) {
        try Self.withName(name) { (cName) throws(Errno) in try Self.check(Self.linkFile(node, into: directory, cName)) }
    }

    public func unlink(_ name: [UInt8], in directory: Int32) throws(Errno) {
        try Self.withName(name) { (cName) throws(Errno) in try Self.check(unlinkat(directory, cName, 0)) }
    }

    public func removeDirectory(_ name: [UInt8], in directory: Int32) throws(Errno) {
        try Self.withName(name) { (cName) throws(Errno) in try Self.check(unlinkat(directory, cName, AT_REMOVEDIR)) }
    }

    public func rename(_ name: [UInt8], in directory: Int32, to newName: [UInt8], in newDirectory: Int32,
                       flags: RenameFlags) throws(Errno) {
        try Self.withName(name) { (from) throws(Errno) in
            try Self.withName(newName) { (to) throws(Errno) in
                try Self.check(flags.isEmpty
                    ? renameat(directory, from, newDirectory, to)
                    : berth_core_renameat2(directory, from, newDirectory, to, flags.rawValue))
            }
        }
    }

    public func readLink(_ node: Int32) throws(Errno) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlinkat(node, "", &buffer, Int(PATH_MAX))
        if count < 0 {
            // readlinkat(fd, "") of anything but a link answers ENOENT; readlink(2) of a path, EINVAL.
            let code = errno
            if code == ENOENT, let attributes = try? attributes(of: node), attributes.type != .symbolicLink { throw Errno(EINVAL) }
            throw Errno(code)
        }
        return buffer[0..<count].map { UInt8(bitPattern: $0) }
    }

    // MARK: - Files

    public func open(_ node: Int32, flags: Int32) throws(Errno) -> Int32 {
        let fd = Self.withProcPath(node) { Glibc.open($0, (flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL)) | O_CLOEXEC) }
        if fd < 0 { throw Errno.last }
        return fd
    }

    public func read(_ handle: Int32, offset: UInt64, count: Int) throws(Errno) -> [UInt8] {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { pread(handle, $0.baseAddress, count, off_t(truncatingIfNeeded: offset)) }
        if got < 0 { throw Errno.last }
        return Array(buffer[0..<got])
    }

    public func write(_ handle: Int32, offset: UInt64, bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        guard offset <= UInt64(Int64.max) else { throw Errno(EFBIG) }
        let written = pwrite(handle, bytes.baseAddress, bytes.count, off_t(offset))
        if written < 0 { throw Errno.last }
        return written
    }

    public func truncate(_ node: Int32, to size: UInt64) throws(Errno) {
        guard size <= UInt64(Int64.max) else { throw Errno(EINVAL) }
        try Self.check(Self.withProcPath(node) { Glibc.truncate($0, off_t(size)) })
    }

    public func truncate(open handle: Int32, to size: UInt64) throws(Errno) {
        guard size <= UInt64(Int64.max) else { throw Errno(EINVAL) }
        try Self.check(ftruncate(handle, off_t(size)))
    }

    public func allocate(_ handle: Int32, mode: Int32, offset: UInt64, length: UInt64) throws(Errno) {
        guard offset <= UInt64(Int64.max), length <= UInt64(Int64.max) else { throw Errno(EFBIG) }
        try Self.check(berth_core_fallocate(handle, mode, off_t(offset), off_t(length)))
    }

    public func holes(_ handle: Int32, file: Allocation, offset: UInt64, length: UInt64) -> [Range<UInt64>]? {
        file.holes(fd: handle, offset: offset, length: length)
    }

    public func sync(_ handle: Int32, dataOnly: Bool) throws(Errno) {
        try Self.check(dataOnly ? fdatasync(handle) : fsync(handle))
    }

    public func close(_ handle: Int32) { Glibc.close(handle) }

    // MARK: - Attributes

    public func setMode(_ node: Int32, _ mode: Glibc.mode_t) throws(Errno) {
        try Self.check(Self.withProcPath(node) { chmod($0, mode) })
    }

    public func setOwner(_ node: Int32, uid: Glibc.uid_t?, gid: Glibc.gid_t?) throws(Errno) {
        try Self.check(fchownat(node, "", uid ?? uid_t.max, gid ?? gid_t.max, berth_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
    }

    public func setTimes(_ node: Int32, access: TimeChange, modification: TimeChange) throws(Errno) {
        func spec(_ change: TimeChange) -> timespec {
            switch change {
            case .omit: timespec(tv_sec: 0, tv_nsec: berth_UTIME_OMIT)
            case .now: timespec(tv_sec: 0, tv_nsec: berth_UTIME_NOW)
            case .set(let seconds, let nanoseconds): timespec(tv_sec: seconds, tv_nsec: nanoseconds)
            }
        }
        let times = [spec(access), spec(modification)]
        try Self.check(Self.withProcPath(node) { utimensat(AT_FDCWD, $0, times, 0) })
    }

    public func entries(of directory: Int32) throws(Errno) -> [[UInt8]] {
        guard let names = CaseFoldedDirectories.scan(directory) else { throw Errno.last }
        return names
    }

    // MARK: - Extended attributes (through the node's /proc/self/fd link, as the mount server does)

    public func extendedAttribute(_ name: [UInt8], of node: Int32) throws(Errno) -> [UInt8] {
        try Self.withName(name) { (cName) throws(Errno) -> [UInt8] in
            let size = Self.withProcPath(node) { berth_getxattr($0, cName, nil, 0) }
            if size < 0 { throw Errno.last }
            var value = [UInt8](repeating: 0, count: size)
            let got = value.withUnsafeMutableBytes { buffer in
                Self.withProcPath(node) { berth_getxattr($0, cName, buffer.baseAddress, size) }
            }
            if got < 0 { throw Errno.last }
            return Array(value[0..<got])
        }
    }

    public func setExtendedAttribute(_ name: [UInt8], of node: Int32, value: [UInt8], flags: Int32) throws(Errno) {
        try Self.withName(name) { (cName) throws(Errno) in
            let result = value.withUnsafeBytes { buffer in
                Self.withProcPath(node) { berth_setxattr($0, cName, buffer.baseAddress, buffer.count, flags) }
            }
            try Self.check(result)
        }
    }

    public func extendedAttributeNames(of node: Int32) throws(Errno) -> [[UInt8]] {
        let size = Self.withProcPath(node) { berth_listxattr($0, nil, 0) }
        if size < 0 { throw Errno.last }
        var list = [CChar](repeating: 0, count: size)
        let got = list.withUnsafeMutableBufferPointer { buffer in
            Self.withProcPath(node) { berth_listxattr($0, buffer.baseAddress, size) }
        }
        if got < 0 { throw Errno.last }
        return list[0..<got].split(separator: 0).map { $0.map { UInt8(bitPattern: $0) } }
    }

    public func removeExtendedAttribute(_ name: [UInt8], of node: Int32) throws(Errno) {
        try Self.withName(name) { (cName) throws(Errno) in
            try Self.check(Self.withProcPath(node) { berth_removexattr($0, cName) })
        }
    }

    public func space() throws(Errno) -> StoreSpace {
        var backing = statvfs()
        try Self.check(fstatvfs(root, &backing))
        let unit = UInt64(backing.f_frsize)
        return StoreSpace(files: UInt64(backing.f_files), freeFiles: UInt64(backing.f_ffree),
                          availableBytes: UInt64(backing.f_bavail) * unit,
                          usedBytes: UInt64(backing.f_blocks - backing.f_bfree) * unit)
    }

    // MARK: - Case-insensitive names

    public func withNameLock<T>(_ directory: Int32, _ body: () throws(Errno) -> T) throws(Errno) -> T {
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno.last }
        defer { Glibc.close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Errno.last }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    public func spelling(of name: [UInt8], in directory: Int32, matchKey: ([UInt8]) -> [UInt8]) -> [UInt8]? {
        guard let folding, let key = try? attributes(of: directory).key else {
            return scannedSpelling(of: name, in: directory, matchKey: matchKey)
        }
        return folding.spelling(of: name, in: directory, key: key)
    }

    public func namesChanged(in directory: Int32, added: [UInt8]?, removed: [UInt8]?) {
        guard let folding, let key = try? attributes(of: directory).key else { return }
        folding.recordChange(in: key, added: added, removed: removed)
    }
}
#endif
