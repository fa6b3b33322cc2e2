#if canImport(Glibc)
import CBerthShims
import Glibc

/// A snapshot's point in time, taken while writers are held back (`WriteFreeze`): every name of the
/// volume's tree with its metadata (mode, owner, times, extended attributes, a symbolic link's target, a
/// device's number), and for each regular file a handle (`name_to_handle_at`) by which the copy reopens
/// it later wherever it has moved. No data is read: the pause is one walk of the names — a `stat`, a
/// listing of extended attributes and a handle per name — whatever the bytes. The data of the point is
/// then preserved by `PendingSnapshotTable` while `PointInTimeCopier` copies it.
///
/// Walked as `TreeCopier` walks (descriptors and `*at` calls, never following a symbolic link, not
/// crossing into another mount), since the tree is made by processes Berth does not trust.
struct PointInTimeCapture {
    enum Kind {
        case directory
        case regular(file: Int)
        case symbolicLink(target: [CChar])
        case special
    }

    struct Entry {
        /// 0 for the root, 1 for its entries, …
        var depth: Int
        var name: [CChar]
        var info: stat
        var kind: Kind
        var extendedAttributes: [(name: [CChar], value: [UInt8])]
    }

    struct File {
        var inode: UInt64
        var info: stat
        var handle: [UInt8]
        /// The entry of its first name (in walk order).
        var entry: Int
    }

    /// The file system cannot make handles (`name_to_handle_at` refused): the caller copies under the
    /// freeze instead.
    struct HandlesUnsupported: Error {
        var errno: Int32
    }

    var device: UInt64 = 0
    var entries: [Entry] = []
    var files: [File] = []
    var totalBytes: UInt64 = 0

    /// Captures the tree under `root`.
    static func capture(root: String) throws -> PointInTimeCapture {
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootFD >= 0 else { throw TreeCopier.CopyError(path: root, operation: "open", errno: errno) }
        var rootInfo = stat()
        guard fstat(rootFD, &rootInfo) == 0 else {
            let code = errno
            close(rootFD)
            throw TreeCopier.CopyError(path: root, operation: "stat", errno: code)
        }
        var capture = PointInTimeCapture()
        capture.device = UInt64(rootInfo.st_dev)
        let mount = MountIdentity(rootFD, rootInfo)
        var chain = DirectoryChain()
        chain.push(rootFD, rootInfo)
        defer { chain.closeAll() }
        capture.entries.append(Entry(depth: 0, name: [], info: rootInfo, kind: .directory,
                                     extendedAttributes: Self.attributes(fd: rootFD)))
        guard let rootEntries = DirectoryListing.read(rootFD) else {
            throw TreeCopier.CopyError(path: root, operation: "read directory", errno: errno)
        }
        var listings = [rootEntries]
        var names: [[CChar]] = []
        var fileByInode: [UInt64: Int] = [:]
        var handle = [UInt8](repeating: 0, count: 136)
        func path(_ name: [CChar]) -> String { PathDisplay.join(root, names + [name]) }
        while !listings.isEmpty {
            guard let name = listings[listings.count - 1].next() else {
                listings.removeLast()
                if !names.isEmpty { names.removeLast() }
                if !listings.isEmpty {
                    let code = chain.pop()
                    guard code == 0 else { throw TreeCopier.CopyError(path: path([]), operation: "reopen", errno: code) }
                }
                continue
            }
            let directory = chain.top
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw TreeCopier.CopyError(path: path(name), operation: "stat", errno: errno)
            }
            let depth = listings.count
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { throw TreeCopier.CopyError(path: path(name), operation: "open", errno: errno) }
                var opened = stat()
                guard fstat(fd, &opened) == 0, opened.st_ino == info.st_ino, opened.st_dev == info.st_dev else {
                    close(fd)
                    throw TreeCopier.CopyError(path: path(name), operation: "open", errno: ESTALE)
                }
                capture.entries.append(Entry(depth: depth, name: name, info: info, kind: .directory,
                                             extendedAttributes: Self.attributes(fd: fd)))
                chain.push(fd, opened)
                // A mount point is copied as the directory it is, without what is mounted on it.
                let listing = mount.contains(fd, opened) ? DirectoryListing.read(fd) : DirectoryListing()
                guard let listing else { throw TreeCopier.CopyError(path: path(name), operation: "read directory", errno: errno) }
                listings.append(listing)
                names.append(name)
            case S_IFREG:
                let inode = UInt64(info.st_ino)
                if let file = fileByInode[inode] {
                    capture.entries.append(Entry(depth: depth, name: name, info: info, kind: .regular(file: file), extendedAttributes: []))
                    continue
                }
                let length = handle.withUnsafeMutableBufferPointer { buffer in
                    berth_name_to_handle(directory, name, buffer.baseAddress, Int32(buffer.count))
                }
                guard length > 0 else {
                    let code = errno
                    if code == EOPNOTSUPP || code == EPERM || code == ENOSYS || code == EOVERFLOW { throw HandlesUnsupported(errno: code) }
                    throw TreeCopier.CopyError(path: path(name), operation: "name_to_handle_at", errno: code)
                }
                let file = capture.files.count
                fileByInode[inode] = file
                capture.files.append(File(inode: inode, info: info, handle: Array(handle.prefix(Int(length))), entry: capture.entries.count))
                capture.totalBytes += UInt64(max(info.st_size, 0))
                capture.entries.append(Entry(depth: depth, name: name, info: info, kind: .regular(file: file),
                                             extendedAttributes: Self.attributes(directory: directory, name: name)))
            case S_IFLNK:
                var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = readlinkat(directory, name, &target, target.count - 1)
                guard length >= 0 else { throw TreeCopier.CopyError(path: path(name), operation: "readlink", errno: errno) }
                capture.entries.append(Entry(depth: depth, name: name, info: info,
                                             kind: .symbolicLink(target: Array(target.prefix(length)) + [0]), extendedAttributes: []))
            case S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK:
                capture.entries.append(Entry(depth: depth, name: name, info: info, kind: .special, extendedAttributes: []))
            default:
                continue
            }
        }
        return capture
    }

    /// The extended attributes of an open file or directory.
    static func attributes(fd: Int32) -> [(name: [CChar], value: [UInt8])] {
        read(list: { berth_flistxattr(fd, $0, $1) }, get: { berth_fgetxattr(fd, $0, $1, $2) })
    }

    /// The extended attributes of the entry `name` in `directory`, without opening it or following a
    /// symbolic link: through `/proc/self/fd/N/name`, where N is the directory's descriptor.
    static func attributes(directory: Int32, name: [CChar]) -> [(name: [CChar], value: [UInt8])] {
        let path = Array("/proc/self/fd/\(directory)/".utf8CString.dropLast()) + name
        return path.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return [] }
            return read(list: { berth_llistxattr(base, $0, $1) }, get: { berth_lgetxattr(base, $0, $1, $2) })
        }
    }

    private static func read(list: (UnsafeMutablePointer<CChar>?, Int) -> Int,
                             get: (UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int) -> [(name: [CChar], value: [UInt8])] {
        let size = list(nil, 0)
        guard size > 0 else { return [] }
        var names = [CChar](repeating: 0, count: size)
        let got = names.withUnsafeMutableBufferPointer { list($0.baseAddress, size) }
        guard got > 0 else { return [] }
        var result: [(name: [CChar], value: [UInt8])] = []
        var start = 0
        for index in 0..<min(got, names.count) where names[index] == 0 {
            let name = Array(names[start...index])
            start = index + 1
            guard name.count > 1 else { continue }
            let length = name.withUnsafeBufferPointer { pointer in pointer.baseAddress.map { get($0, nil, 0) } ?? -1 }
            guard length >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: max(length, 1))
            let read = name.withUnsafeBufferPointer { namePointer in
                value.withUnsafeMutableBytes { raw in namePointer.baseAddress.map { get($0, raw.baseAddress, length) } ?? -1 }
            }
            guard read >= 0 else { continue }
            result.append((name, Array(value.prefix(read))))
        }
        return result
    }
}

/// A mount of the volume could not copy what the point in time held before changing it (say, the state
/// directory's disk was full): the snapshot cannot hold its point in time, so it fails.
struct PreservationFailed: Error, CustomStringConvertible {
    var errno: Int32
    var description: String {
        "a mount of the volume could not preserve the point in time's data before changing it (\(String(cString: strerror(errno))))"
    }
}

/// Copies a captured point in time (`PointInTimeCapture`) into a snapshot's directory while the volume
/// is in use: each regular file's chunks not yet preserved by a mount (`PendingSnapshotTable`) are read
/// from the file (opened by its handle) into `<snapshot>/objects/<inode>`, or a file unchanged since the
/// volume's previous snapshot is linked from it; then `data/` is made from the captured names (each name
/// of a file a hard link to its object, so hard links stay links), with the captured metadata.
struct PointInTimeCopier {
    let capture: PointInTimeCapture
    let table: PendingSnapshotTable
    /// The snapshot's directory: `objects/` and `hold/` exist; `data/` does not yet.
    let snapshotPath: String
    let volumeRoot: String
    let baseline: TreeCopier.Baseline?

    typealias CopyError = TreeCopier.CopyError

    func run(progress: (UInt64, UInt64) -> Void) throws -> TreeCopier.Report {
        var report = TreeCopier.Report()
        report.manifest.device = capture.device
        let objects = open(snapshotPath + "/objects", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard objects >= 0 else { throw CopyError(path: snapshotPath + "/objects", operation: "open", errno: errno) }
        defer { close(objects) }
        let mountFD = open(volumeRoot, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard mountFD >= 0 else { throw CopyError(path: volumeRoot, operation: "open", errno: errno) }
        defer { close(mountFD) }
        try copyFiles(objects: objects, mountFD: mountFD, &report, progress: progress)
        if table.failure != 0 { throw PreservationFailed(errno: table.failure) }
        try assemble(objects: objects, &report)
        for file in capture.files { _ = unlinkat(objects, String(file.inode), 0) }
        return report
    }

    /// The data of every file, into `objects/`.
    private func copyFiles(objects: Int32, mountFD: Int32, _ report: inout TreeCopier.Report,
                           progress: (UInt64, UInt64) -> Void) throws {
        // The baseline's directory at each depth of the walk (-1: none), to link unchanged files from.
        var previous: [Int32] = []
        defer { for fd in previous where fd >= 0 { close(fd) } }
        let followsBaseline = baseline.map { $0.manifest.device == capture.device } ?? false
        var copied: UInt64 = 0
        progress(0, capture.totalBytes)
        for (index, entry) in capture.entries.enumerated() {
            while previous.count > entry.depth, let fd = previous.popLast() { if fd >= 0 { close(fd) } }
            switch entry.kind {
            case .directory:
                let parent = previous.last ?? -1
                if entry.depth == 0 {
                    previous.append(followsBaseline ? open(baseline?.root ?? "", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1)
                } else {
                    previous.append(parent >= 0 && previous.count < TreeCopier.baselineDepth
                        ? openat(parent, entry.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1)
                }
            case .regular(let fileIndex):
                let file = capture.files[fileIndex]
                guard file.entry == index else { continue }  // a further name of a file already copied
                guard let slot = table.slot(of: file.inode) else {
                    throw CopyError(path: volumeRoot, operation: "find \(file.inode) in the pending table", errno: EINVAL)
                }
                let size = UInt64(max(file.info.st_size, 0))
                if let baseline, let entryBefore = baseline.manifest.entries[file.inode], entryBefore.matches(file.info),
                   let parent = previous.last, parent >= 0,
                   table.adoptWhole(slot, { linkBaseline(parent, entry.name, objects, file.inode, entryBefore) }) {
                    report.sharedFiles += 1
                    report.manifest.entries[file.inode] = entryBefore
                } else {
                    var source: Int32 = -1
                    defer { if source >= 0 { close(source) } }
                    var openError: Int32 = 0
                    var offset: UInt64 = 0
                    repeat {
                        let code = table.preserve(slot, from: offset, to: offset + UInt64(PendingSnapshotTable.chunkSize),
                                                  objects: objects, inode: file.inode) {
                            if source < 0 { source = openByHandle(mountFD, file, &openError) }
                            return source
                        }
                        guard code == 0 else {
                            throw CopyError(path: PathDisplay.join(volumeRoot, [entry.name]), operation: "copy", errno: openError != 0 ? openError : code)
                        }
                        // Written to disk chunk by chunk, outside the file's lock: dirty data left behind
                        // would be written out by the next journal commit, which on ext4 (data=ordered) a
                        // writer's fdatasync waits for — a stall as long as the backlog.
                        let object = openat(objects, String(file.inode), O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
                        if object >= 0 {
                            _ = fdatasync(object)
                            close(object)
                        }
                        copied += min(UInt64(PendingSnapshotTable.chunkSize), size - min(size, offset))
                        offset += UInt64(PendingSnapshotTable.chunkSize)
                        progress(min(copied, capture.totalBytes), capture.totalBytes)
                    } while offset < size
                    table.markComplete(slot)
                    try finishObject(objects, file, &report)
                }
                report.bytes += size
            default:
                continue
            }
        }
        progress(capture.totalBytes, capture.totalBytes)
    }

    private func openByHandle(_ mountFD: Int32, _ file: PointInTimeCapture.File, _ failure: inout Int32) -> Int32 {
        let fd = file.handle.withUnsafeBufferPointer { berth_open_by_handle(mountFD, $0.baseAddress, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else {
            failure = errno
            return -1
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, UInt64(info.st_ino) == file.inode else {
            close(fd)
            failure = ESTALE
            errno = ESTALE
            return -1
        }
        return fd
    }

    /// The baseline's copy `name` in `directory`, if it is still the copy the manifest names, linked as
    /// the object of `inode`.
    private func linkBaseline(_ directory: Int32, _ name: [CChar], _ objects: Int32, _ inode: UInt64,
                              _ entry: SnapshotManifest.Entry) -> Bool {
        var copy = stat()
        guard fstatat(directory, name, &copy, AT_SYMLINK_NOFOLLOW) == 0, copy.st_mode & S_IFMT == S_IFREG,
              UInt64(copy.st_ino) == entry.copyInode else { return false }
        return linkat(directory, name, objects, String(inode), 0) == 0
    }

    /// The object of a copied file gets its length and its metadata of the point in time.
    private func finishObject(_ objects: Int32, _ file: PointInTimeCapture.File, _ report: inout TreeCopier.Report) throws {
        let name = String(file.inode)
        let fd = openat(objects, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CopyError(path: snapshotPath + "/objects/" + name, operation: "create", errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(file.info.st_size)) == 0 else {
            throw CopyError(path: snapshotPath + "/objects/" + name, operation: "ftruncate", errno: errno)
        }
        let entry = capture.entries[file.entry]
        try Self.apply(entry, to: fd, path: snapshotPath + "/objects/" + name)
        var copy = stat()
        if fstat(fd, &copy) == 0 {
            report.ownBytes += UInt64(max(copy.st_blocks, 0)) * 512
            report.manifest.entries[file.inode] = SnapshotManifest.Entry(file.info, copyInode: UInt64(copy.st_ino))
        }
        if file.info.st_size > 0 { report.copiedFiles += 1 }
    }

    /// Owner, extended attributes, mode and times, in that order (as `TreeCopier` applies them).
    static func apply(_ entry: PointInTimeCapture.Entry, to fd: Int32, path: String) throws {
        _ = fchown(fd, entry.info.st_uid, entry.info.st_gid)
        for (name, value) in entry.extendedAttributes {
            _ = berth_fsetxattr(fd, name, value, value.count, 0)
        }
        guard fchmod(fd, entry.info.st_mode & 0o7777) == 0 else { throw CopyError(path: path, operation: "chmod", errno: errno) }
        var times = [entry.info.st_atim, entry.info.st_mtim]
        _ = futimens(fd, &times)
    }

    /// `data/` from the captured names.
    private func assemble(objects: Int32, _ report: inout TreeCopier.Report) throws {
        let parent = open(snapshotPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard parent >= 0 else { throw CopyError(path: snapshotPath, operation: "open", errno: errno) }
        defer { close(parent) }
        guard mkdirat(parent, "data", 0o700) == 0 else { throw CopyError(path: snapshotPath + "/data", operation: "mkdir", errno: errno) }
        let root = openat(parent, "data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        var rootInfo = stat()
        guard root >= 0, fstat(root, &rootInfo) == 0 else {
            throw CopyError(path: snapshotPath + "/data", operation: "open", errno: errno)
        }
        var chain = DirectoryChain()
        chain.push(root, rootInfo)
        defer { chain.closeAll() }
        // The captured entry of each open directory, to apply its metadata once its contents are in.
        var openDirectories: [Int] = [0]
        var names: [[CChar]] = []
        report.directories += 1
        func leave() throws {
            guard let index = openDirectories.popLast() else { return }
            try Self.apply(capture.entries[index], to: chain.top, path: PathDisplay.join(snapshotPath + "/data", names))
            if !names.isEmpty { names.removeLast() }
            if !openDirectories.isEmpty {
                let code = chain.pop()
                guard code == 0 else { throw CopyError(path: snapshotPath + "/data", operation: "reopen", errno: code) }
            }
        }
        var linked = Set<Int>()
        for (index, entry) in capture.entries.enumerated().dropFirst() {
            while openDirectories.count > entry.depth { try leave() }
            let directory = chain.top
            func path() -> String { PathDisplay.join(snapshotPath + "/data", names + [entry.name]) }
            switch entry.kind {
            case .directory:
                guard mkdirat(directory, entry.name, 0o700) == 0 else { throw CopyError(path: path(), operation: "mkdir", errno: errno) }
                let fd = openat(directory, entry.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                var info = stat()
                guard fd >= 0, fstat(fd, &info) == 0 else { throw CopyError(path: path(), operation: "open", errno: errno) }
                chain.push(fd, info)
                openDirectories.append(index)
                names.append(entry.name)
                report.directories += 1
            case .regular(let file):
                guard linkat(objects, String(capture.files[file].inode), directory, entry.name, 0) == 0 else {
                    throw CopyError(path: path(), operation: "link", errno: errno)
                }
                report.files += 1
                if !linked.insert(file).inserted { report.hardLinks += 1 }
            case .symbolicLink(let target):
                guard symlinkat(target, directory, entry.name) == 0 else { throw CopyError(path: path(), operation: "symlink", errno: errno) }
                _ = fchownat(directory, entry.name, entry.info.st_uid, entry.info.st_gid, AT_SYMLINK_NOFOLLOW)
                var times = [entry.info.st_atim, entry.info.st_mtim]
                _ = utimensat(directory, entry.name, &times, AT_SYMLINK_NOFOLLOW)
                report.files += 1
            case .special:
                guard mknodat(directory, entry.name, entry.info.st_mode, entry.info.st_rdev) == 0 else {
                    if errno == EPERM { continue }
                    throw CopyError(path: path(), operation: "mknod", errno: errno)
                }
                _ = fchownat(directory, entry.name, entry.info.st_uid, entry.info.st_gid, AT_SYMLINK_NOFOLLOW)
                _ = fchmodat(directory, entry.name, entry.info.st_mode & 0o7777, 0)
                var times = [entry.info.st_atim, entry.info.st_mtim]
                _ = utimensat(directory, entry.name, &times, AT_SYMLINK_NOFOLLOW)
                report.specialFiles += 1
            }
        }
        while !openDirectories.isEmpty { try leave() }
    }
}
#endif
