/// One step of a random-operation sequence: a system call (or a short open–call–close) on a path
/// relative to the volume's root, through mount `on` (0 or 1; shared types use both).
///
/// `description` is the Swift literal of the step, so a printed sequence pastes into a regression test.
public enum FileOperation: Hashable, Sendable, CustomStringConvertible {
    /// open(O_WRONLY | O_CREAT [| O_EXCL] [| O_TRUNC], 0644), close.
    case create(String, CreateMode = .plain, on: Int = 0)
    /// open(O_WRONLY), pwrite of `length` pattern bytes at `offset`, close: the byte count written.
    case write(String, offset: Int, length: Int, on: Int = 0)
    /// open(O_RDONLY), read to the end, close: the length and a checksum of the contents.
    case read(String, on: Int = 0)
    case truncate(String, length: Int, on: Int = 0)
    /// open(O_WRONLY), fallocate(mode 0), close.
    case fallocate(String, offset: Int, length: Int, on: Int = 0)
    /// lstat: type, size, allocated 4 KiB blocks (regular files), links, permission bits.
    case lstat(String, on: Int = 0)
    case unlink(String, on: Int = 0)
    case mkdir(String, on: Int = 0)
    case rmdir(String, on: Int = 0)
    case rename(String, String, noReplace: Bool = false, on: Int = 0)
    /// link(existing, new).
    case link(String, String, on: Int = 0)
    /// symlink(target, path).
    case symlink(String, String, on: Int = 0)
    case readlink(String, on: Int = 0)
    /// opendir/readdir: the names, sorted, without `.` and `..`.
    case readdir(String, on: Int = 0)
    case chmod(String, mode: Int, on: Int = 0)
    /// Holder `holder` (0 or 1) lets go of what it held, then opens `path` (O_RDONLY) and takes
    /// flock(LOCK_EX | LOCK_NB) on it, keeping the descriptor open.
    case lock(String, holder: Int, on: Int = 0)
    /// Holder `holder` unlocks and closes what it held (nothing to do when it holds nothing).
    case unlock(holder: Int)
    /// open(O_RDONLY), fsync, close.
    case fsync(String, on: Int = 0)
    /// statvfs: bytes used ((f_blocks − f_bfree) × f_frsize).
    case statfs(on: Int = 0)
    /// Cuts every mount off (an AZ outage) or reconnects them.
    case cutOff(Bool)

    public enum CreateMode: String, Hashable, Sendable, CaseIterable {
        case plain, exclusive, truncate
    }

    /// The mount the step goes through.
    public var mount: Int {
        switch self {
        case .create(_, _, let m), .write(_, _, _, let m), .read(_, let m), .truncate(_, _, let m),
             .fallocate(_, _, _, let m), .lstat(_, let m), .unlink(_, let m), .mkdir(_, let m), .rmdir(_, let m),
             .rename(_, _, _, let m), .link(_, _, let m), .symlink(_, _, let m), .readlink(_, let m),
             .readdir(_, let m), .chmod(_, _, let m), .lock(_, _, let m), .fsync(_, let m), .statfs(let m):
            m
        case .unlock, .cutOff: 0
        }
    }

    /// Whether the step can change the volume (names, data, attributes, locks).
    public var changes: Bool {
        switch self {
        case .read, .lstat, .readlink, .readdir, .fsync, .statfs: false
        default: true
        }
    }

    /// The same step with every path (and link target) rewritten by `f`.
    public func mapPaths(_ f: (String) -> String) -> FileOperation {
        switch self {
        case .create(let p, let mode, let m): .create(f(p), mode, on: m)
        case .write(let p, let o, let l, let m): .write(f(p), offset: o, length: l, on: m)
        case .read(let p, let m): .read(f(p), on: m)
        case .truncate(let p, let l, let m): .truncate(f(p), length: l, on: m)
        case .fallocate(let p, let o, let l, let m): .fallocate(f(p), offset: o, length: l, on: m)
        case .lstat(let p, let m): .lstat(f(p), on: m)
        case .unlink(let p, let m): .unlink(f(p), on: m)
        case .mkdir(let p, let m): .mkdir(f(p), on: m)
        case .rmdir(let p, let m): .rmdir(f(p), on: m)
        case .rename(let a, let b, let n, let m): .rename(f(a), f(b), noReplace: n, on: m)
        case .link(let a, let b, let m): .link(f(a), f(b), on: m)
        case .symlink(let t, let p, let m): .symlink(f(t), f(p), on: m)
        case .readlink(let p, let m): .readlink(f(p), on: m)
        case .readdir(let p, let m): .readdir(f(p), on: m)
        case .chmod(let p, let mode, let m): .chmod(f(p), mode: mode, on: m)
        case .lock(let p, let h, let m): .lock(f(p), holder: h, on: m)
        case .fsync(let p, let m): .fsync(f(p), on: m)
        case .unlock, .statfs, .cutOff: self
        }
    }

    /// Path components the step names.
    public var components: Set<String> {
        var found: Set<String> = []
        _ = mapPaths { path in
            found.formUnion(path.split(separator: "/").map(String.init))
            return path
        }
        return found
    }

    /// Simpler forms of the step, simplest first: smaller offsets and lengths, mount 0, plain modes.
    public var simplerForms: [FileOperation] {
        switch self {
        case .write(let p, let o, let l, let m), .fallocate(let p, let o, let l, let m):
            let make: (Int, Int, Int) -> FileOperation = {
                if case .write = self { return .write(p, offset: $0, length: $1, on: $2) }
                return .fallocate(p, offset: $0, length: $1, on: $2)
            }
            return [make(0, 1, m), make(0, l, m), make(o, 1, m), make(o, l, 0)].filter { $0 != self }
        case .truncate(let p, let l, let m):
            return [.truncate(p, length: 0, on: m), .truncate(p, length: 1, on: m), .truncate(p, length: l, on: 0)].filter { $0 != self }
        case .create(let p, let mode, let m):
            return [.create(p, .plain, on: m), .create(p, mode, on: 0)].filter { $0 != self }
        case .rename(let a, let b, let n, let m):
            return [.rename(a, b, noReplace: false, on: m), .rename(a, b, noReplace: n, on: 0)].filter { $0 != self }
        default:
            let onZero = mapPaths { $0 }
            return mount == 0 ? [] : [onZero.withMount(0)]
        }
    }

    func withMount(_ mount: Int) -> FileOperation {
        switch self {
        case .create(let p, let mode, _): .create(p, mode, on: mount)
        case .write(let p, let o, let l, _): .write(p, offset: o, length: l, on: mount)
        case .read(let p, _): .read(p, on: mount)
        case .truncate(let p, let l, _): .truncate(p, length: l, on: mount)
        case .fallocate(let p, let o, let l, _): .fallocate(p, offset: o, length: l, on: mount)
        case .lstat(let p, _): .lstat(p, on: mount)
        case .unlink(let p, _): .unlink(p, on: mount)
        case .mkdir(let p, _): .mkdir(p, on: mount)
        case .rmdir(let p, _): .rmdir(p, on: mount)
        case .rename(let a, let b, let n, _): .rename(a, b, noReplace: n, on: mount)
        case .link(let a, let b, _): .link(a, b, on: mount)
        case .symlink(let t, let p, _): .symlink(t, p, on: mount)
        case .readlink(let p, _): .readlink(p, on: mount)
        case .readdir(let p, _): .readdir(p, on: mount)
        case .chmod(let p, let mode, _): .chmod(p, mode: mode, on: mount)
        case .lock(let p, let h, _): .lock(p, holder: h, on: mount)
        case .fsync(let p, _): .fsync(p, on: mount)
        case .statfs: .statfs(on: mount)
        case .unlock, .cutOff: self
        }
    }

    public var description: String {
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        func on(_ m: Int) -> String { m == 0 ? "" : ", on: \(m)" }
        switch self {
        case .create(let p, let mode, let m): return ".create(\(q(p))\(mode == .plain ? "" : ", .\(mode.rawValue)")\(on(m)))"
        case .write(let p, let o, let l, let m): return ".write(\(q(p)), offset: \(o), length: \(l)\(on(m)))"
        case .read(let p, let m): return ".read(\(q(p))\(on(m)))"
        case .truncate(let p, let l, let m): return ".truncate(\(q(p)), length: \(l)\(on(m)))"
        case .fallocate(let p, let o, let l, let m): return ".fallocate(\(q(p)), offset: \(o), length: \(l)\(on(m)))"
        case .lstat(let p, let m): return ".lstat(\(q(p))\(on(m)))"
        case .unlink(let p, let m): return ".unlink(\(q(p))\(on(m)))"
        case .mkdir(let p, let m): return ".mkdir(\(q(p))\(on(m)))"
        case .rmdir(let p, let m): return ".rmdir(\(q(p))\(on(m)))"
        case .rename(let a, let b, let n, let m): return ".rename(\(q(a)), \(q(b))\(n ? ", noReplace: true" : "")\(on(m)))"
        case .link(let a, let b, let m): return ".link(\(q(a)), \(q(b))\(on(m)))"
        case .symlink(let t, let p, let m): return ".symlink(\(q(t)), \(q(p))\(on(m)))"
        case .readlink(let p, let m): return ".readlink(\(q(p))\(on(m)))"
        case .readdir(let p, let m): return ".readdir(\(q(p))\(on(m)))"
        case .chmod(let p, let mode, let m): return ".chmod(\(q(p)), mode: 0o\(String(mode, radix: 8))\(on(m)))"
        case .lock(let p, let h, let m): return ".lock(\(q(p)), holder: \(h)\(on(m)))"
        case .unlock(let h): return ".unlock(holder: \(h))"
        case .fsync(let p, let m): return ".fsync(\(q(p))\(on(m)))"
        case .statfs(let m): return ".statfs(\(m == 0 ? "" : "on: \(m)"))"
        case .cutOff(let on): return ".cutOff(\(on))"
        }
    }
}

/// What a step answered, normalised so that a model and a real file system compare.
public enum Outcome: Hashable, Sendable, CustomStringConvertible {
    case ok
    case error(Int32)
    /// Bytes a write wrote.
    case count(Int)
    /// A read's length and FNV-1a checksum of the contents.
    case data(length: Int, checksum: UInt64)
    case attributes(Attributes)
    case listing([String])
    case target(String)
    /// Bytes `statfs` counts as used.
    case used(Int)

    public var description: String {
        switch self {
        case .ok: "ok"
        case .error(let e): ErrnoName.of(e)
        case .count(let n): "wrote \(n)"
        case .data(let length, let checksum): "data(\(length) bytes, fnv \(String(checksum, radix: 16)))"
        case .attributes(let a): a.description
        case .listing(let names): "[" + names.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        case .target(let t): "-> \"\(t)\""
        case .used(let n): "used \(n)"
        }
    }
}

public enum FileKind: String, Hashable, Sendable {
    case regular, directory, symlink, other
}

/// What `lstat` shows that a model can know: size only for regular files and links, allocated blocks
/// (4 KiB units) only for regular files.
public struct Attributes: Hashable, Sendable, CustomStringConvertible {
    public var kind: FileKind
    public var size: Int?
    public var blocks: Int?
    public var links: Int
    public var permissions: Int

    public init(kind: FileKind, size: Int?, blocks: Int?, links: Int, permissions: Int) {
        self.kind = kind
        self.size = size
        self.blocks = blocks
        self.links = links
        self.permissions = permissions
    }

    public var description: String {
        var parts = [kind.rawValue]
        if let size { parts.append("size \(size)") }
        if let blocks { parts.append("\(blocks) blocks") }
        parts.append("nlink \(links)")
        parts.append("0o" + String(permissions, radix: 8))
        return "(" + parts.joined(separator: ", ") + ")"
    }
}

/// errno names for readable reports.
public enum ErrnoName {
    static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 4: "EINTR", 5: "EIO", 9: "EBADF", 11: "EAGAIN", 13: "EACCES", 16: "EBUSY",
        17: "EEXIST", 18: "EXDEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 24: "EMFILE", 27: "EFBIG",
        28: "ENOSPC", 30: "EROFS", 31: "EMLINK", 36: "ENAMETOOLONG", 37: "ENOLCK", 39: "ENOTEMPTY",
        40: "ELOOP", 95: "EOPNOTSUPP", 107: "ENOTCONN", 116: "ESTALE",
    ]

    public static func of(_ code: Int32) -> String { names[code] ?? "errno \(code)" }
}

/// FNV-1a, 64 bits: the checksum reads report.
public func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return hash
}

/// The byte a write of `length` bytes puts at file position `position`: different writes leave
/// different data, so a read tells which write a byte came from.
public func patternByte(position: Int, length: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: position &* 31 &+ length &* 7 &+ 1)
}
