#if canImport(Glibc)
import Foundation
import Glibc

/// An FSx for OpenZFS clone that starts instantly: its data directory is made of new directories and
/// hard links to the snapshot's files, and a file is copied out of the snapshot ("copied up") the first
/// time a mount looks it up or creates over it, before anyone can change it. So the clone is ready in
/// the time it takes to link its files, whatever their size, and the snapshot never changes (AWS docs
/// fsx/latest/OpenZFSGuide/snapshots-openzfs.html: a clone starts as the snapshot's data; OpenZFS does it
/// block by block, copy-on-write; Berth does it file by file, on first use).
///
/// The shared files are listed by inode number in `<shared>/clone-inodes` (the snapshot cannot be
/// deleted while a clone exists, so the numbers stay valid). A file is still shared while its inode is
/// listed and has more than one link.
public final class CloneSharing: Sendable {
    static let fileName = "clone-inodes"
    public let device: UInt64
    private let inodes: Set<UInt64>

    /// Reads the list a clone's creation wrote; nil for volumes that are not clones.
    public init?(sharedStateDirectory: String) {
        let path = sharedStateDirectory + "/" + Self.fileName
        guard let data = FileManager.default.contents(atPath: path), data.count >= 8, data.count % 8 == 0 else { return nil }
        var words: [UInt64] = []
        words.reserveCapacity(data.count / 8)
        data.withUnsafeBytes { raw in
            for index in 0..<(raw.count / 8) {
                words.append(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)))
            }
        }
        device = words[0]
        inodes = Set(words.dropFirst())
    }

    /// Writes the list for a new clone whose files on `device` are the hard links `inodes`.
    public static func record(device: UInt64, inodes: [UInt64], sharedStateDirectory: String) throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity((inodes.count + 1) * 8)
        for word in [device] + inodes { withUnsafeBytes(of: word.littleEndian) { bytes += $0 } }
        let path = sharedStateDirectory + "/" + fileName
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw TreeCopier.CopyError(path: path, operation: "create", errno: errno)
        }
    }

    /// Whether a file is still shared with the snapshot, from its `stat`.
    @inline(__always)
    public func isShared(device: UInt64, inode: UInt64, links: UInt64, isRegular: Bool) -> Bool {
        links > 1 && isRegular && device == self.device && inodes.contains(inode)
    }

    @inline(__always)
    func isShared(_ st: stat) -> Bool {
        isShared(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), links: UInt64(st.st_nlink),
                 isRegular: st.st_mode & S_IFMT == S_IFREG)
    }

    /// Copies `name` in `directory` (a descriptor of the backing directory) out of the snapshot if it is
    /// still shared, replacing the link with a copy of its own. Mounts of the clone take turns (`flock` on
    /// the directory), so two of them never copy the same file at once. Returns 0 or an errno.
    public func copyUpIfShared(in directory: Int32, name: UnsafePointer<CChar>) -> Int32 {
        var st = stat()
        guard fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) == 0, isShared(st) else { return 0 }
        let lock = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lock >= 0 else { return errno }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            if errno != EINTR { return errno }
        }
        defer { flock(lock, LOCK_UN) }
        // Another mount may have copied it while this one waited.
        guard fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) == 0, isShared(st) else { return 0 }
        // Relative to the directory's descriptor, following no symlink: `name` is whatever bytes the
        // mount was given, and a regular file is all that is ever shared.
        let temporaryName = ".berth-copy-up-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try TreeCopier().copyFile(named: name, in: directory, to: temporaryName, in: directory)
        } catch {
            _ = unlinkat(directory, temporaryName, 0)
            return error.errno
        }
        guard renameat(directory, temporaryName, directory, name) == 0 else {
            let code = errno
            _ = unlinkat(directory, temporaryName, 0)
            return code
        }
        return 0
    }
}
#endif
