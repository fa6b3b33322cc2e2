#if canImport(Glibc)
import CBerthShims
import Glibc

// What every walk of a volume's tree (snapshot, restore, clone, delete, capacity scan) is made of. A
// volume's contents come from processes Berth does not trust, so a walk never resolves a path inside
// it: each step is an `openat`/`fstatat`/`unlinkat` relative to the descriptor of the directory above,
// with `O_NOFOLLOW`/`AT_SYMLINK_NOFOLLOW`, so a symbolic link is an entry like any other and never a way
// out; names are the bytes the file system stores, never decoded; and depth costs no path length.

/// The names in one directory, read all at once (then the walk needs no directory stream, and so no
/// read position to keep, while it works below it): NUL-terminated byte strings, `.` and `..` left out.
struct DirectoryListing {
    private var bytes: [CChar] = []
    private var cursor = 0

    /// Reads the directory `fd` through a descriptor of its own (`fd`'s position is left alone).
    /// Returns nil with `errno` set when it cannot be read.
    static func read(_ fd: Int32) -> DirectoryListing? {
        let own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard own >= 0 else { return nil }
        guard let stream = fdopendir(own) else {
            let code = errno
            close(own)
            errno = code
            return nil
        }
        defer { closedir(stream) }
        var listing = DirectoryListing()
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { return nil }
                return listing
            }
            withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let name = raw.prefix { $0 != 0 }
                if name.count == 1 && name[name.startIndex] == UInt8(ascii: ".") { return }
                if name.count == 2 && name.allSatisfy({ $0 == UInt8(ascii: ".") }) { return }
                for byte in name { listing.bytes.append(CChar(bitPattern: byte)) }
                listing.bytes.append(0)
            }
        }
    }

    /// The next name, NUL-terminated, or nil when every name has been taken.
    mutating func next() -> [CChar]? {
        guard cursor < bytes.count else { return nil }
        var end = cursor
        while bytes[end] != 0 { end += 1 }  // every name ends in a NUL
        let name = Array(bytes[cursor...end])
        cursor = end + 1
        return name
    }
}

/// The directories from a walk's root down to where it is, each as a descriptor, of which only the
/// deepest `openLevels` stay open: a tree 2,100 levels deep (or any depth the file system allows) is
/// walked with a bounded number of descriptors, whatever `RLIMIT_NOFILE` is. Going back up to a
/// directory whose descriptor was closed reopens it as `..` of the one below, and checks that it is
/// the same directory (device and inode) it was on the way down; if it is not (the tree was moved
/// meanwhile), the walk stops with `ESTALE` rather than go on somewhere else.
struct DirectoryChain {
    static let openLevels = 96

    private struct Level {
        var fd: Int32
        let device: UInt64
        let inode: UInt64
    }

    private var levels: [Level] = []
    /// `levels[firstOpen...]` hold open descriptors.
    private var firstOpen = 0

    var isEmpty: Bool { levels.isEmpty }

    /// The deepest directory's descriptor (always open). Only called while the chain is not empty.
    var top: Int32 { levels[levels.count - 1].fd }

    /// Takes ownership of `fd`, the directory `info` describes, one level below the current top.
    mutating func push(_ fd: Int32, _ info: stat) {
        levels.append(Level(fd: fd, device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
        if levels.count - firstOpen > Self.openLevels {
            close(levels[firstOpen].fd)
            levels[firstOpen].fd = -1
            firstOpen += 1
        }
    }

    /// Closes the deepest directory; the one above it is open afterwards. Returns 0, or the errno of
    /// reopening it (`ESTALE` when `..` is no longer that directory), after which the chain is empty.
    mutating func pop() -> Int32 {
        guard let child = levels.popLast() else { return 0 }
        defer { close(child.fd) }
        guard let parent = levels.indices.last, parent < firstOpen else {
            if levels.isEmpty { firstOpen = 0 }
            return 0
        }
        let fd = openat(child.fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        var info = stat()
        var code: Int32 = 0
        if fd < 0 {
            code = errno
        } else if fstat(fd, &info) != 0 {
            code = errno
        } else if UInt64(info.st_dev) != levels[parent].device || UInt64(info.st_ino) != levels[parent].inode {
            code = ESTALE
        }
        guard code == 0 else {
            if fd >= 0 { close(fd) }
            closeAll()
            return code
        }
        levels[parent].fd = fd
        firstOpen = parent
        return 0
    }

    /// Closes every descriptor still open.
    mutating func closeAll() {
        for level in levels[firstOpen...] { close(level.fd) }
        levels.removeAll()
        firstOpen = 0
    }
}

/// The mount a walk started on, to tell a directory with something mounted on it (another file
/// system, or a bind mount of this one, told apart by `statx`'s mount id where the kernel gives it)
/// from one of the tree's own. A walk does not cross into another mount: a volume's tree never
/// legitimately holds one, and what is mounted there is not the volume's to copy, count or delete.
struct MountIdentity {
    let device: UInt64
    let mount: UInt64?

    init(_ fd: Int32, _ info: stat) {
        device = UInt64(info.st_dev)
        mount = Self.mountID(fd)
    }

    /// Whether the directory `fd` (described by `info`) is on this same mount.
    func contains(_ fd: Int32, _ info: stat) -> Bool {
        guard UInt64(info.st_dev) == device else { return false }
        guard let mount else { return true }
        return Self.mountID(fd) == mount
    }

    private static func mountID(_ fd: Int32) -> UInt64? {
        var id: UInt64 = 0
        return berth_mount_id(fd, &id) == 0 ? id : nil
    }
}

/// How a walk names an entry in a message: the walk's root path, then the names below it, each shown
/// as UTF-8 where it is, its other bytes as `\xNN`; a very deep path keeps its first and last names.
enum PathDisplay {
    static func join(_ root: String, _ names: [[CChar]]) -> String {
        let limit = 24
        var parts = names.count <= limit ? names.map(show)
            : names.prefix(limit / 2).map(show) + ["…(\(names.count - limit) more)…"] + names.suffix(limit / 2).map(show)
        parts.insert(root, at: 0)
        return parts.joined(separator: "/")
    }

    /// One name (with or without its terminating NUL) as text.
    static func show(_ name: [CChar]) -> String {
        let bytes = name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var text = ""
        for byte in bytes {
            if byte < 0x80 {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: false)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return text
    }
}

/// Splits a path into the directory it is in and its last name, which must be a real name (not empty,
/// `.` or `..`): the walks open the directory by path (it belongs to Berth's state directory) and the
/// tree itself relative to it, without following a symlink.
func splitLastName(_ path: String) -> (directory: String, name: String)? {
    var trimmed = Substring(path)
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else {
        return trimmed.isEmpty || trimmed == "." || trimmed == ".." ? nil : (".", String(trimmed))
    }
    let name = trimmed[trimmed.index(after: slash)...]
    guard !name.isEmpty, name != ".", name != ".." else { return nil }
    let directory = trimmed[..<slash]
    return (directory.isEmpty ? "/" : String(directory), String(name))
}
#endif
