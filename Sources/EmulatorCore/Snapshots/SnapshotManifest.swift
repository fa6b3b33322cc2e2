#if canImport(Glibc)
import Glibc

/// What each regular file of a snapshot was copied from: the source file's inode number on the volume's
/// backing file system, its change time, modification time and length then, and the inode number of the
/// copy in the snapshot. The next snapshot of the same volume links a file's copy from this one instead of
/// copying it again when the source is still that inode with the same change time, modification time and
/// length (any write, truncate, chmod, chown, link or rename moves its change time, which no program
/// can set), and its copy is still at the same place in this snapshot. So a snapshot is incremental over
/// the volume's previous one, as EBS snapshots are
/// (https://docs.aws.amazon.com/ebs/latest/userguide/how_snapshots_work.html), at file granularity.
/// Kept in `<snapshot>/manifest` beside the data, never inside it.
public struct SnapshotManifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        var changedSeconds: Int64
        var changedNanoseconds: Int64
        var modifiedSeconds: Int64
        var modifiedNanoseconds: Int64
        var size: Int64
        var copyInode: UInt64

        init(_ source: stat, copyInode: UInt64) {
            changedSeconds = Int64(source.st_ctim.tv_sec)
            changedNanoseconds = Int64(source.st_ctim.tv_nsec)
            modifiedSeconds = Int64(source.st_mtim.tv_sec)
            modifiedNanoseconds = Int64(source.st_mtim.tv_nsec)
            size = Int64(source.st_size)
            self.copyInode = copyInode
        }

        init(words: ArraySlice<UInt64>) {
            let w = Array(words)
            changedSeconds = Int64(bitPattern: w[0])
            changedNanoseconds = Int64(bitPattern: w[1])
            modifiedSeconds = Int64(bitPattern: w[2])
            modifiedNanoseconds = Int64(bitPattern: w[3])
            size = Int64(bitPattern: w[4])
            copyInode = w[5]
        }

        var words: [UInt64] {
            [UInt64(bitPattern: changedSeconds), UInt64(bitPattern: changedNanoseconds),
             UInt64(bitPattern: modifiedSeconds), UInt64(bitPattern: modifiedNanoseconds),
             UInt64(bitPattern: size), copyInode]
        }

        /// The source file is as it was when copied.
        func matches(_ source: stat) -> Bool {
            changedSeconds == Int64(source.st_ctim.tv_sec) && changedNanoseconds == Int64(source.st_ctim.tv_nsec)
                && modifiedSeconds == Int64(source.st_mtim.tv_sec) && modifiedNanoseconds == Int64(source.st_mtim.tv_nsec)
                && size == Int64(source.st_size)
        }
    }

    static let fileName = "manifest"
    /// 'BMANIF01'
    static let magic: UInt64 = 0x424D_414E_4946_3031  // 'BMANIF01'
    static let entryWords = 7

    /// The source's file system: inode numbers mean nothing on another.
    public var device: UInt64 = 0
    /// By source inode number.
    var entries: [UInt64: Entry] = [:]

    public init() {}

    public var count: Int { entries.count }

    /// Reads a manifest; nil when there is none or it is not one (then the next snapshot copies everything).
    public static func read(path: String) -> SnapshotManifest? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size >= 24,
              (Int(info.st_size) - 24) % (entryWords * 8) == 0 else { return nil }
        var words = [UInt64](repeating: 0, count: Int(info.st_size) / 8)
        let got = words.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard got == Int(info.st_size), words[0] == magic, Int(words[2]) == (words.count - 3) / entryWords else { return nil }
        var manifest = SnapshotManifest()
        manifest.device = words[1]
        var index = 3
        while index + entryWords <= words.count {
            manifest.entries[words[index]] = Entry(words: words[(index + 1)..<(index + entryWords)])
            index += entryWords
        }
        return manifest
    }

    /// Writes the manifest to `path` (a new file; replaced through a temporary name).
    public func write(path: String) -> Int32 {
        var words: [UInt64] = [Self.magic, device, UInt64(entries.count)]
        words.reserveCapacity(3 + entries.count * Self.entryWords)
        for (inode, entry) in entries {
            words.append(inode)
            words.append(contentsOf: entry.words)
        }
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return errno }
        let written = words.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let code: Int32 = written == words.count * 8 && fsync(fd) == 0 ? 0 : (errno == 0 ? EIO : errno)
        close(fd)
        guard code == 0 else { unlink(temporary); return code }
        return rename(temporary, path) == 0 ? 0 : errno
    }
}
#endif
