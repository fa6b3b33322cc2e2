import CBerthShims
#if canImport(Glibc)
import Glibc
#endif

/// Copies a directory tree for snapshots and restores: each regular file by reflink (FICLONE) where the
/// backing filesystem shares extents (XFS with reflink, Btrfs), else by `copy_file_range`, else by
/// read/write. Exact as a file system keeps it: holes stay holes, hard links stay links (a file with
/// several names in the tree is copied once), modes with set-user-ID and set-group-ID, owners (of symbolic
/// links too), times, symbolic links, device nodes, FIFOs and sockets, and every extended attribute the
/// backing file system lets root copy (`user.`, `trusted.`, `security.`, POSIX ACLs; FSx for Windows keeps a
/// name's original case in one). Reports which method it used, since the cost differs by orders of
/// magnitude.
///
/// The tree is a volume's, made by processes Berth does not trust, so the copy is a walk of directory
/// descriptors (`DirectoryChain`): every entry is reached with `openat`/`fstatat` relative to its
/// directory, never following a symbolic link (a symlink is copied as one, the root of the tree
/// included: a root that is a symlink is refused with `ELOOP`); names are copied as bytes, whatever
/// they are; any depth the file system allows is copied with a bounded number of descriptors and no
/// recursion; and nothing mounted inside the tree is copied (`MountIdentity`).
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
        /// Names made as hard links to a file already copied (no data of their own).
        public var hardLinks = 0
        /// Device nodes, FIFOs and sockets, made anew with their mode, owner and device number.
        public var specialFiles = 0
        /// With a `baseline`: files linked from the previous snapshot instead of copied.
        public var sharedFiles = 0
        /// Bytes allocated to the files this copy made (not those it linked): what it holds of its own.
        public var ownBytes: UInt64 = 0
        /// What each regular file was copied from, for the next snapshot (`SnapshotManifest`).
        public var manifest = SnapshotManifest()
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

    /// The previous snapshot of the same volume: its data directory and manifest. A file unchanged since
    /// it is linked from there instead of copied (`SnapshotManifest`).
    public struct Baseline: Sendable {
        public var root: String
        public var manifest: SnapshotManifest
        public init(root: String, manifest: SnapshotManifest) {
            self.root = root
            self.manifest = manifest
        }
    }

    public var baseline: Baseline?

    public init(allowReflink: Bool = true, linkRegularFiles: Bool = false, baseline: Baseline? = nil) {
        self.allowReflink = allowReflink
        self.linkRegularFiles = linkRegularFiles
        self.baseline = baseline
    }

    /// How deep the walk follows the baseline's directories alongside (one descriptor each); deeper
    /// files are copied.
    static let baselineDepth = 64

    #if canImport(Glibc)
    /// Copies the regular file `name` in the directory `sourceDirectory` to the new file `newName` in
    /// `destinationDirectory` (data, mode, owner, times, `user.` extended attributes). Neither name is
    /// followed if it is a symbolic link: a source that is not a regular file is refused.
    public func copyFile(named name: UnsafePointer<CChar>, in sourceDirectory: Int32,
                         to newName: UnsafePointer<CChar>, in destinationDirectory: Int32) throws(CopyError) {
        var report = Report()
        let shown = PathDisplay.show(Array(UnsafeBufferPointer(start: name, count: strlen(name) + 1)))
        try copyFile(sourceDirectory, name, destinationDirectory, newName, expected: nil, &report, path: { shown })
    }

    /// Copies the contents of `source` into `destination`, which must not exist yet. `source` itself
    /// must be a directory, not a symbolic link to one; `destination`'s parent directory is taken as
    /// given.
    public func copyTree(from source: String, to destination: String) throws(CopyError) -> Report {
        let sourceFD = open(source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard sourceFD >= 0 else { throw CopyError(path: source, operation: "open", errno: errno) }
        var sourceInfo = stat()
        guard fstat(sourceFD, &sourceInfo) == 0 else {
            let code = errno
            close(sourceFD)
            throw CopyError(path: source, operation: "stat", errno: code)
        }
        guard let (parentPath, name) = splitLastName(destination) else {
            close(sourceFD)
            throw CopyError(path: destination, operation: "mkdir", errno: EINVAL)
        }
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else {
            let code = errno
            close(sourceFD)
            throw CopyError(path: parentPath, operation: "open", errno: code)
        }
        defer { close(parent) }
        guard mkdirat(parent, name, 0o700) == 0 else {
            let code = errno
            close(sourceFD)
            throw CopyError(path: destination, operation: "mkdir", errno: code)
        }
        let destinationFD = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        var destinationInfo = stat()
        guard destinationFD >= 0, fstat(destinationFD, &destinationInfo) == 0 else {
            let code = errno
            if destinationFD >= 0 { close(destinationFD) }
            close(sourceFD)
            throw CopyError(path: destination, operation: "open", errno: code)
        }
        var report = Report()
        report.directories += 1
        try walk(sourceFD, sourceInfo, destinationFD, destinationInfo, &report, root: source)
        return report
    }

    /// One directory being copied: its names not yet copied, its `stat` (applied to the copy once its
    /// contents are in, so a read-only directory can be filled), and its name in its parent.
    private struct Frame {
        var entries: DirectoryListing
        let info: stat
        let name: [CChar]
    }

    /// Copies the tree under `sourceRoot` into the empty directory `destinationRoot`, depth first with
    /// an explicit stack. Takes ownership of both descriptors.
    private func walk(_ sourceRoot: Int32, _ sourceInfo: stat, _ destinationRoot: Int32, _ destinationInfo: stat,
                      _ report: inout Report, root: String) throws(CopyError) {
        let rootMount = MountIdentity(sourceRoot, sourceInfo)
        var sources = DirectoryChain(), destinations = DirectoryChain()
        sources.push(sourceRoot, sourceInfo)
        destinations.push(destinationRoot, destinationInfo)
        defer {
            sources.closeAll()
            destinations.closeAll()
        }
        guard let rootEntries = DirectoryListing.read(sourceRoot) else {
            throw CopyError(path: root, operation: "read directory", errno: errno)
        }
        var frames = [Frame(entries: rootEntries, info: sourceInfo, name: [])]
        var links = HardLinks(destinationRoot: destinationRoot)
        defer { links.closeRoot() }
        report.manifest.device = UInt64(sourceInfo.st_dev)
        // The baseline's directory at each depth, -1 where it has none (or is too deep to follow).
        var previous: [Int32] = []
        if let baseline, baseline.manifest.device == UInt64(sourceInfo.st_dev) {
            previous.append(open(baseline.root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
        } else {
            previous.append(-1)
        }
        defer { for fd in previous where fd >= 0 { close(fd) } }
        func path(_ name: [CChar]?) -> String {
            PathDisplay.join(root, frames.dropFirst().map(\.name) + (name.map { [$0] } ?? []))
        }
        while let depth = frames.indices.last {
            guard let name = frames[depth].entries.next() else {
                let done = frames.removeLast()
                if let fd = previous.popLast(), fd >= 0 { close(fd) }
                try copyAttributes(from: sources.top, to: destinations.top, done.info, path: { path(done.name) })
                guard !frames.isEmpty else { break }
                var code = sources.pop()
                if code == 0 { code = destinations.pop() }
                guard code == 0 else { throw CopyError(path: path(nil), operation: "reopen", errno: code) }
                continue
            }
            let from = sources.top, to = destinations.top
            var child = stat()
            guard fstatat(from, name, &child, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw CopyError(path: path(name), operation: "stat", errno: errno)
            }
            switch child.st_mode & S_IFMT {
            case S_IFDIR:
                let (sourceFD, sourceChild) = try openDirectory(from, name, expected: child, path: { path(name) })
                guard mkdirat(to, name, 0o700) == 0 else {
                    let code = errno
                    close(sourceFD)
                    throw CopyError(path: path(name), operation: "mkdir", errno: code)
                }
                let destinationFD: Int32
                let destinationChild: stat
                do {
                    (destinationFD, destinationChild) = try openDirectory(to, name, expected: nil, path: { path(name) })
                } catch {
                    close(sourceFD)
                    throw error
                }
                report.directories += 1
                sources.push(sourceFD, sourceChild)
                destinations.push(destinationFD, destinationChild)
                // A mount point is copied as the directory it is, without what is mounted on it.
                let entries = rootMount.contains(sourceFD, sourceChild) ? DirectoryListing.read(sourceFD) : DirectoryListing()
                guard let entries else {
                    throw CopyError(path: path(name), operation: "read directory", errno: errno)
                }
                frames.append(Frame(entries: entries, info: sourceChild, name: name))
                let previousTop = previous.last ?? -1
                previous.append(previousTop >= 0 && previous.count < Self.baselineDepth
                    ? openat(previousTop, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1)
            case S_IFREG where linkRegularFiles:
                guard linkat(from, name, to, name, 0) == 0 else {
                    throw CopyError(path: path(name), operation: "link", errno: errno)
                }
                report.files += 1
                report.bytes += UInt64(max(child.st_size, 0))
                report.linkedInodes.append(UInt64(child.st_ino))
            case S_IFREG:
                if child.st_nlink > 1, links.link(child, to, name) {
                    report.files += 1
                    report.hardLinks += 1
                    continue
                }
                if let baseline, let previousTop = previous.last, previousTop >= 0,
                   let entry = baseline.manifest.entries[UInt64(child.st_ino)], entry.matches(child),
                   linkUnchanged(previousTop, name, to, entry) {
                    report.files += 1
                    report.sharedFiles += 1
                    report.bytes += UInt64(max(child.st_size, 0))
                    report.manifest.entries[UInt64(child.st_ino)] = entry
                } else {
                    try copyFile(from, name, to, name, expected: child, &report, path: { path(name) })
                    var copy = stat()
                    if fstatat(to, name, &copy, AT_SYMLINK_NOFOLLOW) == 0 {
                        report.ownBytes += UInt64(max(copy.st_blocks, 0)) * 512
                        report.manifest.entries[UInt64(child.st_ino)] = SnapshotManifest.Entry(child, copyInode: UInt64(copy.st_ino))
                    }
                }
                if child.st_nlink > 1 { links.remember(child, names: frames.dropFirst().map(\.name) + [name]) }
            case S_IFLNK:
                var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = readlinkat(from, name, &target, target.count - 1)
                guard length >= 0 else { throw CopyError(path: path(name), operation: "readlink", errno: errno) }
                target[length] = 0
                guard symlinkat(target, to, name) == 0 else {
                    throw CopyError(path: path(name), operation: "symlink", errno: errno)
                }
                // The link's own owner and times (its mode is always 0777 on Linux).
                _ = fchownat(to, name, child.st_uid, child.st_gid, AT_SYMLINK_NOFOLLOW)
                var times = [child.st_atim, child.st_mtim]
                _ = utimensat(to, name, &times, AT_SYMLINK_NOFOLLOW)
                report.files += 1
            case S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK:
                // Made anew, not opened: a FIFO's open would wait and a device's would reach the device.
                guard mknodat(to, name, child.st_mode, child.st_rdev) == 0 else {
                    if errno == EPERM { continue }  // not root: devices cannot be made; nothing to copy
                    throw CopyError(path: path(name), operation: "mknod", errno: errno)
                }
                _ = fchownat(to, name, child.st_uid, child.st_gid, AT_SYMLINK_NOFOLLOW)
                _ = fchmodat(to, name, child.st_mode & 0o7777, 0)
                var times = [child.st_atim, child.st_mtim]
                _ = utimensat(to, name, &times, AT_SYMLINK_NOFOLLOW)
                report.specialFiles += 1
            default:
                continue
            }
        }
    }

    /// Links the baseline's copy `name` in `previousDirectory` as `name` in `destination` when it is still
    /// the copy the manifest names (a regular file with that inode number).
    private func linkUnchanged(_ previousDirectory: Int32, _ name: UnsafePointer<CChar>, _ destination: Int32,
                               _ entry: SnapshotManifest.Entry) -> Bool {
        var copy = stat()
        guard fstatat(previousDirectory, name, &copy, AT_SYMLINK_NOFOLLOW) == 0, copy.st_mode & S_IFMT == S_IFREG,
              UInt64(copy.st_ino) == entry.copyInode else { return false }
        return linkat(previousDirectory, name, destination, name, 0) == 0
    }

    /// Opens the directory `name` in `directory` without following a symlink, checking it is (still)
    /// the directory `expected` describes when given.
    private func openDirectory(_ directory: Int32, _ name: [CChar], expected: stat?,
                               path: () -> String) throws(CopyError) -> (Int32, stat) {
        let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw CopyError(path: path(), operation: "open", errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw CopyError(path: path(), operation: "stat", errno: code)
        }
        if let expected, info.st_dev != expected.st_dev || info.st_ino != expected.st_ino {
            close(fd)
            throw CopyError(path: path(), operation: "open", errno: ESTALE)  // replaced while being copied
        }
        return (fd, info)
    }

    private func copyFile(_ fromDirectory: Int32, _ fromName: UnsafePointer<CChar>,
                          _ toDirectory: Int32, _ toName: UnsafePointer<CChar>, expected: stat?,
                          _ report: inout Report, path: () -> String) throws(CopyError) {
        // O_NONBLOCK: if the name became a FIFO since it was looked at, the open must not wait for a
        // writer; the fstat below then refuses it.
        let input = openat(fromDirectory, fromName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard input >= 0 else { throw CopyError(path: path(), operation: "open", errno: errno) }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw CopyError(path: path(), operation: "stat", errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CopyError(path: path(), operation: "open", errno: info.st_mode & S_IFMT == S_IFDIR ? EISDIR : EINVAL)
        }
        if let expected, info.st_dev != expected.st_dev || info.st_ino != expected.st_ino {
            throw CopyError(path: path(), operation: "open", errno: ESTALE)  // replaced while being copied
        }
        let output = openat(toDirectory, toName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw CopyError(path: path(), operation: "create", errno: errno) }
        defer { close(output) }
        report.files += 1
        report.bytes += UInt64(max(info.st_size, 0))
        if info.st_size > 0 {
            // FICLONE = _IOW(0x94, 9, int): share the extents, copy nothing.
            if allowReflink, ioctl(output, 0x4004_9409, input) == 0 {
                report.reflinkedFiles += 1
            } else {
                // Only the ranges that hold data: holes stay holes, so a copy never takes more room
                // than the file does (copy_file_range on ext4 fills them in).
                for (start, end) in dataRanges(input, size: Int(info.st_size)) {
                    guard lseek(input, off_t(start), SEEK_SET) >= 0, lseek(output, off_t(start), SEEK_SET) >= 0 else {
                        throw CopyError(path: path(), operation: "lseek", errno: errno)
                    }
                    if allowReflink {
                        try copyData(input, output, size: end - start, path: path)
                    } else {
                        // Not copy_file_range: on XFS and Btrfs it shares extents much as a reflink does.
                        try readWrite(input, output, limit: end - start, path: path)
                    }
                }
                // A trailing hole, and the length whatever the ranges were.
                guard ftruncate(output, info.st_size) == 0 else {
                    throw CopyError(path: path(), operation: "ftruncate", errno: errno)
                }
                report.copiedFiles += 1
            }
        }
        try copyAttributes(from: input, to: output, info, path: path)
    }

    private func copyData(_ input: Int32, _ output: Int32, size: Int, path: () -> String) throws(CopyError) {
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
                return try readWrite(input, output, limit: remaining, path: path)
            }
            throw CopyError(path: path(), operation: "copy_file_range", errno: errno)
        }
    }

    /// The ranges of `fd` (length `size`) that hold data, by SEEK_DATA and SEEK_HOLE; the whole file
    /// where the file system cannot tell.
    private func dataRanges(_ fd: Int32, size: Int) -> [(Int, Int)] {
        var ranges: [(Int, Int)] = []
        var position = 0
        while position < size {
            let data = lseek(fd, off_t(position), berth_SEEK_DATA)
            if data < 0 {
                if errno == ENXIO { break }  // nothing but a hole up to the end
                return [(0, size)]
            }
            let hole = lseek(fd, data, berth_SEEK_HOLE)
            if hole < 0 { return [(0, size)] }
            let end = min(Int(hole), size)
            if Int(data) < end { ranges.append((Int(data), end)) }
            position = max(end, Int(data) + 1)
        }
        return ranges
    }

    /// Copies up to `limit` bytes from `input`'s position to `output`'s.
    private func readWrite(_ input: Int32, _ output: Int32, limit: Int, path: () -> String) throws(CopyError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var left = limit
        while left > 0 {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, min($0.count, left)) }
            if n == 0 { return }
            if n < 0 {
                if errno == EINTR { continue }
                throw CopyError(path: path(), operation: "read", errno: errno)
            }
            var offset = 0
            while offset < n {
                let w = buffer.withUnsafeBytes { raw in
                    write(output, raw.baseAddress.map { $0 + offset }, n - offset)
                }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw CopyError(path: path(), operation: "write", errno: errno)
                }
                offset += w
            }
            left -= n
        }
    }

    /// Owner, extended attributes, mode and times, from one open file or directory to another, in that
    /// order: a change of owner clears set-user-ID and set-group-ID bits and `security.capability`, and a
    /// POSIX ACL sets the group bits of the mode.
    private func copyAttributes(from source: Int32, to destination: Int32, _ info: stat,
                                path: () -> String) throws(CopyError) {
        _ = fchown(destination, info.st_uid, info.st_gid)
        copyXattrs(source, destination)
        guard fchmod(destination, info.st_mode & 0o7777) == 0 else {
            throw CopyError(path: path(), operation: "chmod", errno: errno)
        }
        var times = [info.st_atim, info.st_mtim]
        _ = futimens(destination, &times)
    }

    /// Every extended attribute the file system lists and lets root set; one it refuses (a `security.`
    /// label the policy does not allow, a namespace the destination lacks) is left out.
    private func copyXattrs(_ source: Int32, _ destination: Int32) {
        let size = berth_flistxattr(source, nil, 0)
        guard size > 0 else { return }
        var names = [CChar](repeating: 0, count: size)
        let got = berth_flistxattr(source, &names, size)
        guard got > 0 else { return }
        var start = 0
        for index in 0..<min(got, names.count) where names[index] == 0 {
            let name = Array(names[start...index])  // NUL-terminated, bytes as listed
            start = index + 1
            guard name.count > 1 else { continue }
            let valueSize = berth_fgetxattr(source, name, nil, 0)
            guard valueSize >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: max(valueSize, 1))
            let read = berth_fgetxattr(source, name, &value, valueSize)
            guard read >= 0 else { continue }
            _ = berth_fsetxattr(destination, name, value, read, 0)
        }
    }
    #endif
}

#if canImport(Glibc)
/// The files with several names met so far in a copy: for each, where its first copy is (its names from
/// the destination's root), so that later names become links to it. Paths, not descriptors: a snapshot's
/// files may have names in other snapshots and clones too, and however many there are, every link inside
/// the tree is kept. The destination is the copy's own new tree, which nothing else changes meanwhile; it is
/// still walked without following a symbolic link.
struct HardLinks {
    struct Key: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private var firstCopies: [Key: (names: [[CChar]], namesLeft: Int)] = [:]
    /// The destination's root, held for the whole copy (the walk's own chain closes deep levels).
    private let root: Int32

    init(destinationRoot: Int32) { root = fcntl(destinationRoot, F_DUPFD_CLOEXEC, 0) }

    /// Links `name` in `directory` to the copy of the file `info` describes; false when there is none yet.
    mutating func link(_ info: stat, _ directory: Int32, _ name: UnsafePointer<CChar>) -> Bool {
        let key = Key(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        guard root >= 0, let copy = firstCopies[key], let last = copy.names.last else { return false }
        var parent = root
        defer { if parent != root { close(parent) } }
        for component in copy.names.dropLast() {
            let next = openat(parent, component, berth_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if parent != root { close(parent) }
            parent = next
            guard parent >= 0 else { return false }
        }
        guard linkat(parent, last, directory, name, 0) == 0 else { return false }
        firstCopies[key] = copy.namesLeft <= 1 ? nil : (copy.names, copy.namesLeft - 1)
        return true
    }

    /// Keeps where the new copy of the file `info` describes is, for its other names.
    mutating func remember(_ info: stat, names: [[CChar]]) {
        firstCopies[Key(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))] = (names, Int(info.st_nlink) - 1)
    }

    func closeRoot() { if root >= 0 { Glibc.close(root) } }
}
#endif
