import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A volume the path driver works in: a plain directory, or the mounts of a served volume.
public protocol PathVolume: AnyObject {
    /// Makes a fresh volume, lets `prepare` fill it through a plain directory path (its backing
    /// directory, before anything is mounted) and returns one root per mount.
    func start(prepare: (String) -> Void) throws -> [String]
    func stop()
    /// Cuts the mounts off (an AZ outage) or reconnects them.
    func setCutOff(_ on: Bool)
    /// Microseconds to wait before a step through another mount than the last one: the documented
    /// window in which the other mount's kernel may still answer from a name it cached (its server's
    /// watcher passes every 10 ms, SEMANTICS.md §Consistency and caching). 0 for a single directory.
    var settle: UInt32 { get }
}

/// Executes operations with POSIX calls under one root per mount.
public final class PathDriver: OperationTarget {
    let volume: any PathVolume
    var roots: [String] = []
    var held: [Int: Int32] = [:]
    var lastMount = 0

    public init(_ volume: any PathVolume) { self.volume = volume }

    public func reset(prepared: [FileOperation]) throws {
        close()
        roots = try volume.start { directory in
            var scratch: [Int: Int32] = [:]
            for operation in prepared { _ = Self.perform(operation, root: directory, held: &scratch) }
            for fd in scratch.values { Glibc.close(fd) }
        }
        lastMount = 0
    }

    public func apply(_ operation: FileOperation) -> Outcome {
        if case .cutOff(let on) = operation {
            volume.setCutOff(on)
            // The documented window between the flag and the watcher dropping the kernel's caches.
            usleep(50_000)
            return .ok
        }
        let mount = min(operation.mount, roots.count - 1)
        if roots.count > 1, mount != lastMount, volume.settle > 0 { usleep(volume.settle) }
        lastMount = mount
        return Self.perform(operation, root: roots[mount], held: &held)
    }

    public func close() {
        for fd in held.values { Glibc.close(fd) }
        held = [:]
        if !roots.isEmpty { volume.stop() }
        roots = []
    }

    static func failure() -> Outcome { .error(errno) }

    typealias Renameat2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

    /// renameat2 from the C library (Swift's Glibc module does not import it).
    static func renameNoReplace(_ from: String, _ to: String) -> Int32 {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "renameat2") else { return ENOSYS }
        let call = unsafeBitCast(symbol, to: Renameat2.self)
        return call(AT_FDCWD, from, AT_FDCWD, to, 1) == 0 ? 0 : errno  // RENAME_NOREPLACE
    }

    static func perform(_ operation: FileOperation, root: String, held: inout [Int: Int32]) -> Outcome {
        func full(_ path: String) -> String { path.isEmpty ? root : root + "/" + path }
        func status(_ result: Int32) -> Outcome { result == 0 ? .ok : failure() }
        switch operation {
        case .create(let path, let mode, _):
            let extra = mode == .exclusive ? O_EXCL : mode == .truncate ? O_TRUNC : 0
            let fd = open(full(path), O_WRONLY | O_CREAT | O_CLOEXEC | extra, 0o644)
            guard fd >= 0 else { return failure() }
            Glibc.close(fd)
            return .ok

        case .write(let path, let offset, let length, _):
            let fd = open(full(path), O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return failure() }
            defer { Glibc.close(fd) }
            let bytes = (offset..<(offset + length)).map { patternByte(position: $0, length: length) }
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            return n < 0 ? failure() : .count(n)

        case .read(let path, _):
            let fd = open(full(path), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return failure() }
            defer { Glibc.close(fd) }
            var contents: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n < 0 { return failure() }
                if n == 0 { break }
                contents += buffer.prefix(n)
            }
            return .data(length: contents.count, checksum: fnv1a(contents))

        case .truncate(let path, let length, _):
            return status(truncate(full(path), off_t(length)))

        case .fallocate(let path, let offset, let length, _):
            let fd = open(full(path), O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return failure() }
            defer { Glibc.close(fd) }
            let result = posix_fallocate(fd, off_t(offset), off_t(length))
            return result == 0 ? .ok : .error(result)

        case .lstat(let path, _):
            var st = stat()
            guard lstat(full(path), &st) == 0 else { return failure() }
            let type = st.st_mode & S_IFMT
            let kind: FileKind = type == S_IFREG ? .regular : type == S_IFDIR ? .directory : type == S_IFLNK ? .symlink : .other
            return .attributes(Attributes(
                kind: kind,
                size: kind == .regular || kind == .symlink ? Int(st.st_size) : nil,
                blocks: kind == .regular ? (Int(st.st_blocks) + 7) / 8 : nil,
                links: Int(st.st_nlink), permissions: Int(st.st_mode & 0o7777)))

        case .unlink(let path, _):
            return status(unlink(full(path)))
        case .mkdir(let path, _):
            return status(mkdir(full(path), 0o755))
        case .rmdir(let path, _):
            return status(rmdir(full(path)))
        case .rename(let from, let to, let noReplace, _):
            if noReplace {
                let result = renameNoReplace(full(from), full(to))
                return result == 0 ? .ok : .error(result)
            }
            return status(rename(full(from), full(to)))
        case .link(let existing, let new, _):
            return status(link(full(existing), full(new)))
        case .symlink(let target, let path, _):
            return status(symlink(target, full(path)))

        case .readlink(let path, _):
            var buffer = [CChar](repeating: 0, count: 4097)
            let n = readlink(full(path), &buffer, 4096)
            guard n >= 0 else { return failure() }
            return .target(String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self))

        case .readdir(let path, _):
            guard let directory = opendir(full(path)) else { return failure() }
            defer { closedir(directory) }
            var names: [String] = []
            errno = 0
            while let entry = readdir(directory) {
                let name = withUnsafePointer(to: &entry.pointee.d_name) {
                    String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
                }
                if name != ".", name != ".." { names.append(name) }
            }
            if errno != 0 { return failure() }
            return .listing(names.sorted())

        case .chmod(let path, let mode, _):
            return status(chmod(full(path), mode_t(mode)))

        case .lock(let path, let holder, _):
            if let fd = held.removeValue(forKey: holder) { Glibc.close(fd) }
            let fd = open(full(path), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return failure() }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let outcome = failure()
                Glibc.close(fd)
                return outcome
            }
            held[holder] = fd
            return .ok

        case .unlock(let holder):
            guard let fd = held.removeValue(forKey: holder) else { return .ok }
            let outcome = status(flock(fd, LOCK_UN))
            Glibc.close(fd)
            return outcome

        case .fsync(let path, _):
            let fd = open(full(path), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return failure() }
            defer { Glibc.close(fd) }
            return status(fsync(fd))

        case .statfs:
            var fs = statvfs()
            guard statvfs(root, &fs) == 0 else { return failure() }
            return .used(Int(fs.f_blocks - fs.f_bfree) * Int(fs.f_frsize))

        case .cutOff:
            return .ok
        }
    }
}

/// A plain directory (on tmpfs where there is one, whose blocks are exactly the pages written): what a
/// local POSIX file system answers, the harness's check of itself. Several "mounts" are the same
/// directory.
public final class PlainDirectoryVolume: PathVolume {
    let mounts: Int
    var directory: String?

    public init(mounts: Int = 1) { self.mounts = mounts }

    public static var scratchParent: String {
        FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    }

    public func start(prepare: (String) -> Void) throws -> [String] {
        stop()
        let path = Self.scratchParent + "/berth-model-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        directory = path
        prepare(path)
        return Array(repeating: path, count: mounts)
    }

    public func stop() {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        directory = nil
    }

    public func setCutOff(_ on: Bool) {}

    public var settle: UInt32 { 0 }
}
