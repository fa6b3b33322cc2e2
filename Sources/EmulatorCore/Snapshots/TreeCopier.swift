import CBerthShims
#if canImport(Glibc)
import Glibc
#endif

/// Copies a directory tree for snapshots and restores: each regular file by reflink (FICLONE) where the
/// backing filesystem shares extents (XFS with reflink, Btrfs), else by `copy_file_range`, else by
/// read/write. Keeps modes, times, symlinks and `user.` extended attributes (FSx for Windows keeps a
/// name's original case in one). Reports which method it used, since the cost differs by orders of
/// magnitude.
public struct TreeCopier: Sendable {
    public enum Method: String, Sendable, Codable {
        case reflink, copy
    }

    public struct Report: Sendable, Equatable {
        public var files = 0
        public var directories = 0
        public var bytes: UInt64 = 0
        public var reflinkedFiles = 0
        public var copiedFiles = 0
        /// With `linkRegularFiles`: the inode numbers of the files now shared through hard links.
        public var linkedInodes: [UInt64] = []

        /// `reflink` when every file with data was shared, otherwise `copy`.
        public var method: Method { copiedFiles == 0 && reflinkedFiles > 0 ? .reflink : .copy }
    }

    public struct CopyError: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var operation: String
        public var errno: Int32
        public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
    }

    /// Whether to share extents at all; false copies every byte with read and write (`--no-reflink`, and
    /// a benchmark's comparison).
    public var allowReflink: Bool

    /// Hard-links regular files instead of copying them (an FSx for OpenZFS clone shares its snapshot's
    /// files until first use: `CloneSharing`). Directories and symbolic links are still made anew.
    public var linkRegularFiles: Bool

    public init(allowReflink: Bool = true, linkRegularFiles: Bool = false) {
        self.allowReflink = allowReflink
        self.linkRegularFiles = linkRegularFiles
    }

    /// Copies one regular file `source` to the new file `destination` (data, mode, owner, times, `user.`
    /// extended attributes).
    public func copyFile(from source: String, to destination: String) throws {
        var info = stat()
        guard lstat(source, &info) == 0 else { throw CopyError(path: source, operation: "stat", errno: errno) }
        var report = Report()
        try copyFile(source, destination, info, &report)
    }

    /// Copies the contents of `source` into `destination`, which must not exist yet.
    public func copyTree(from source: String, to destination: String) throws -> Report {
        var report = Report()
        try copyDirectory(source, destination, &report)
        return report
    }

    private func copyDirectory(_ source: String, _ destination: String, _ report: inout Report) throws {
        var info = stat()
        guard lstat(source, &info) == 0 else { throw CopyError(path: source, operation: "stat", errno: errno) }
        guard mkdir(destination, 0o700) == 0 else { throw CopyError(path: destination, operation: "mkdir", errno: errno) }
        report.directories += 1
        guard let dir = opendir(source) else { throw CopyError(path: source, operation: "opendir", errno: errno) }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let from = source + "/" + name, to = destination + "/" + name
            var child = stat()
            guard lstat(from, &child) == 0 else { throw CopyError(path: from, operation: "stat", errno: errno) }
            switch child.st_mode & S_IFMT {
            case S_IFDIR: try copyDirectory(from, to, &report)
            case S_IFREG where linkRegularFiles:
                guard link(from, to) == 0 else { throw CopyError(path: to, operation: "link", errno: errno) }
                report.files += 1
                report.bytes += UInt64(max(child.st_size, 0))
                report.linkedInodes.append(UInt64(child.st_ino))
            case S_IFREG: try copyFile(from, to, child, &report)
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = readlink(from, &buffer, buffer.count - 1)
                guard length >= 0 else { throw CopyError(path: from, operation: "readlink", errno: errno) }
                buffer[length] = 0
                guard symlink(buffer, to) == 0 else { throw CopyError(path: to, operation: "symlink", errno: errno) }
                report.files += 1
            default:
                continue  // sockets, FIFOs and devices have no data to snapshot
            }
        }
        try copyAttributes(source, destination, info)
    }

    private func copyFile(_ from: String, _ to: String, _ info: stat, _ report: inout Report) throws {
        let input = open(from, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw CopyError(path: from, operation: "open", errno: errno) }
        defer { close(input) }
        let output = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw CopyError(path: to, operation: "create", errno: errno) }
        defer { close(output) }
        report.files += 1
        report.bytes += UInt64(max(info.st_size, 0))
        if info.st_size > 0 {
            // FICLONE = _IOW(0x94, 9, int): share the extents, copy nothing.
            if allowReflink, ioctl(output, 0x4004_9409, input) == 0 {
                report.reflinkedFiles += 1
            } else if allowReflink {
                try copyData(input, output, size: Int(info.st_size), path: to)
                report.copiedFiles += 1
            } else {
                // Not copy_file_range: on XFS and Btrfs it shares extents much as a reflink does.
                try readWrite(input, output, path: to)
                report.copiedFiles += 1
            }
        }
        try copyAttributes(from, to, info, fd: output)
    }

    private func copyData(_ input: Int32, _ output: Int32, size: Int, path: String) throws {
        var remaining = size
        while remaining > 0 {
            let copied = berth_copy_file_range(input, output, remaining)
            if copied > 0 {
                remaining -= copied
                continue
            }
            if copied == 0 { return }  // the file shrank while we copied; snapshots freeze writers first
            if errno == EINTR { continue }
            if errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL {
                return try readWrite(input, output, path: path)
            }
            throw CopyError(path: path, operation: "copy_file_range", errno: errno)
        }
    }

    private func readWrite(_ input: Int32, _ output: Int32, path: String) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n == 0 { return }
            if n < 0 {
                if errno == EINTR { continue }
                throw CopyError(path: path, operation: "read", errno: errno)
            }
            var offset = 0
            while offset < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + offset, n - offset) }  // non-nil: count > 0
                if w < 0 {
                    if errno == EINTR { continue }
                    throw CopyError(path: path, operation: "write", errno: errno)
                }
                offset += w
            }
        }
    }

    private func copyAttributes(_ from: String, _ to: String, _ info: stat, fd: Int32? = nil) throws {
        copyUserXattrs(from, to)
        chmod(to, info.st_mode & 0o7777)
        chown(to, info.st_uid, info.st_gid)
        var times = [info.st_atim, info.st_mtim]
        if let fd { futimens(fd, &times) } else { utimensat(AT_FDCWD, to, &times, AT_SYMLINK_NOFOLLOW) }
    }

    private func copyUserXattrs(_ from: String, _ to: String) {
        let size = berth_llistxattr(from, nil, 0)
        guard size > 0 else { return }
        var names = [CChar](repeating: 0, count: size)
        let got = berth_llistxattr(from, &names, size)
        guard got > 0 else { return }
        var start = 0
        for index in 0..<got where names[index] == 0 {
            let name = String(decoding: names[start..<index].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            start = index + 1
            guard name.hasPrefix("user.") else { continue }
            let valueSize = berth_lgetxattr(from, name, nil, 0)
            guard valueSize >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: max(valueSize, 1))
            let read = berth_lgetxattr(from, name, &value, valueSize)
            guard read >= 0 else { continue }
            berth_lsetxattr(to, name, value, read, 0)
        }
    }
}
