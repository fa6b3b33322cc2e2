import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `<state>/volumes/<id>/volume.json` holds: the volume's record and the region it was made in,
/// written when the volume is created, so that `berth state repair` can rebuild a lost record.
struct VolumeMetadata: Codable, Equatable {
    var format = 1
    var region: String
    var zones: [String]
    var volume: Volume
}

/// What `<state>/snapshots/<id>/snapshot.json` holds: the snapshot's record, written when its directory is
/// made (state `pending`) and again when it completes.
struct SnapshotMetadata: Codable, Equatable {
    var format = 1
    var snapshot: Snapshot
}

enum StateMetadata {
    static let volumeFile = "volume.json"
    static let snapshotFile = "snapshot.json"

    static func volumePath(_ directory: StateDirectory, _ id: VolumeID) -> String {
        directory.volumeDirectory(id) + "/" + volumeFile
    }

    static func snapshotPath(_ directory: StateDirectory, _ id: SnapshotID) -> String {
        directory.snapshotDirectory(id) + "/" + snapshotFile
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }

    /// Writes `value` as JSON to `path`: to a temporary file beside it (never following a symbolic link),
    /// synced, then renamed over it, so a reader sees the old or the new file, never half of one.
    static func write<T: Encodable>(_ value: T, to path: String) throws(StateError) {
        let data: Data
        do { data = try encoder().encode(value) } catch { throw .storage("cannot encode \(path): \(error)") }
        let temporary = path + ".new"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .storage("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var failure: Int32 = 0
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw .storage("cannot write \(path): \(String(cString: strerror(failure)))")
        }
    }

    /// The decoded file; nil when it does not exist. A file that is not a regular file, or does not decode,
    /// throws.
    static func read<T: Decodable>(_ type: T.Type, from path: String) throws(StateError) -> T? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .storage("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size < 1 << 20 else {
            throw .storage("\(path) is not a metadata file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var got = 0
        while got < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress.map { $0 + got }, $0.count - got) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            got += count
        }
        do {
            return try decoder().decode(T.self, from: Data(bytes.prefix(got)))
        } catch {
            throw .storage("\(path) does not hold Berth metadata: \(error)")
        }
    }
}
