import BerthTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Mounting needs root and /dev/fuse; elsewhere the suite is reported as skipped, never as passed.
let canMount = geteuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse")

enum MountTestError: Error, CustomStringConvertible {
    case notReady(String)

    var description: String {
        switch self {
        case .notReady(let detail): "the mount did not become ready: \(detail)"
        }
    }
}

/// A scratch area for one test: a volume's backing and state directories and mountpoints.
struct Scratch {
    let root: String
    var backing: String { root + "/backing" }
    var state: String { root + "/state" }

    /// `parent`: where the scratch area goes (tmpfs counts blocks exactly as written; /tmp is ext4 here).
    init(under parent: String = "/tmp") throws {
        root = parent + "/berth-mount-\(UUID().uuidString.prefix(8))"
        for dir in ["backing", "state", "a", "b", "outside"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
    }

    func mountpoint(_ name: String) -> String { root + "/" + name }
    /// A directory beside the volume that nothing done through a mount may change.
    var outside: String { root + "/outside" }

    func remove() {
        for name in ["a", "b"] { ServedMount.forceUnmount(mountpoint(name)) }
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// One `berth _serve-mount` child process serving one mount.
final class ServedMount {
    let process: Process
    let mountpoint: String
    private let stderrPipe = Pipe()

    static let root = BuiltBinary.packageRoot

    static func berthBinary() throws -> URL { try BuiltBinary.berth() }

    /// Starts serving and returns once the mount answers (the server writes "ready" to its stdout).
    /// `softOpenFileLimit`: start the server with that soft RLIMIT_NOFILE, as a shell with `ulimit -S -n` would.
    /// `openFileLimit`: soft and hard (`ulimit -n`); root without CAP_SYS_RESOURCE cannot raise it.
    /// `umask`: start the server with that umask, as a shell would pass its own on.
    init(_ scratch: Scratch, at name: String, type: String = "efs", volumeID: String = "fs-test",
         extra: [String] = [], softOpenFileLimit: Int? = nil, openFileLimit: Int? = nil, umask: String? = nil) throws {
        mountpoint = scratch.mountpoint(name)
        process = Process()
        let arguments = ["_serve-mount", "--backing", scratch.backing, "--mountpoint", mountpoint,
                         "--volume-id", volumeID, "--type", type, "--shared-state", scratch.state,
                         "--ready-fd", "1"] + extra
        if softOpenFileLimit != nil || openFileLimit != nil || umask != nil {
            let limit = (softOpenFileLimit.map { "ulimit -S -n \($0) && " } ?? "")
                + (openFileLimit.map { "ulimit -n \($0) && " } ?? "")
            let mask = umask.map { "umask \($0) && " } ?? ""
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", limit + mask + "exec \"$0\" \"$@\"", try Self.berthBinary().path] + arguments
        } else {
            process.executableURL = try Self.berthBinary()
            process.arguments = arguments
        }
        let stdoutPipe = Pipe()
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        try process.run()
        let fd = stdoutPipe.fileHandleForReading.fileDescriptor
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var text = ""
        let deadline = Date().addingTimeInterval(10)
        while !text.contains("ready"), Date() < deadline {
            guard poll(&poller, 1, 200) >= 0 else { break }
            if poller.revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 64)
                let n = read(fd, &buffer, 64)
                if n <= 0 { break }
                text += String(decoding: buffer.prefix(n), as: UTF8.self)
            }
        }
        guard text.contains("ready") else {
            stop()
            let err = String(decoding: stderrPipe.fileHandleForReading.availableData, as: UTF8.self)
            throw MountTestError.notReady("stdout \"\(text)\", stderr \"\(err)\"")
        }
    }

    /// SIGTERM, then wait for the process; unmounts by force if it did not clean up.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        Self.forceUnmount(mountpoint)
        return process.terminationStatus
    }

    static func isMounted(_ path: String) -> Bool {
        let mounts = (FileHandle(forReadingAtPath: "/proc/mounts").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }) ?? ""
        return mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first == Substring(path) }
    }

    static func forceUnmount(_ path: String) {
        guard isMounted(path) else { return }
        let unmount = Process()
        unmount.executableURL = URL(fileURLWithPath: "/bin/fusermount3")
        unmount.arguments = ["-u", "-z", path]
        try? unmount.run()
        unmount.waitUntilExit()
    }
}

/// A python3 child that takes a lock on `path` and holds it until killed. Swift cannot fork, and a
/// lock owned by another process is what these tests are about.
final class LockHolder {
    let process = Process()

    /// `kind`: "fcntl" (POSIX record lock on the whole file) or "flock".
    init(path: String, kind: String) throws {
        let take = kind == "flock" ? "fcntl.flock(f, fcntl.LOCK_EX)" : "fcntl.lockf(f, fcntl.LOCK_EX)"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import fcntl, sys, time
            f = open(sys.argv[1], "r+")
            \(take)
            print("locked", flush=True)
            time.sleep(600)
            """, path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let line = out.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).contains("locked") else {
            kill(process.processIdentifier, SIGKILL)
            throw MountTestError.notReady("lock holder did not lock \(path)")
        }
    }

    /// Idempotent: a holder already gone is not signalled again (its pid may be another process's now).
    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

// MARK: - Small system-call helpers that report errno

@discardableResult
func writeFile(_ path: String, _ bytes: [UInt8]) -> Int32 {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return errno }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 { return errno }
        offset += n
    }
    return 0
}

func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n < 0 { return nil }
        if n == 0 { return result }
        result += buffer.prefix(n)
    }
}

/// fcntl F_SETLK / F_SETLKW / F_GETLK on the whole file; returns 0 or errno.
func recordLock(_ fd: Int32, _ type: Int32, command: Int32 = F_SETLK) -> Int32 {
    var fl = flock()
    fl.l_type = Int16(type)
    fl.l_whence = Int16(SEEK_SET)
    return fcntl(fd, command, &fl) == 0 ? 0 : errno
}

/// flock(2) `operation` on `fd`; 0 or the errno, as `recordLock` answers.
func bsdLock(_ fd: Int32, _ operation: Int32) -> Int32 {
    flock(fd, operation) == 0 ? 0 : errno
}

func lockHolderType(_ fd: Int32) -> Int32 {
    var fl = flock()
    fl.l_type = Int16(F_WRLCK)
    fl.l_whence = Int16(SEEK_SET)
    guard fcntl(fd, F_GETLK, &fl) == 0 else { return -errno }
    return Int32(fl.l_type)
}

func waitUntil(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// Runs `python3 -c script args…` and returns its exit status and standard output. With `coveringOutside`,
/// in a mount namespace of its own where that directory is covered by an empty tmpfs: whatever the child
/// reaches there by following a link is not the real directory, so a change to the real one can only have
/// come from a mount server.
func runPython(_ script: String, _ arguments: [String], coveringOutside outside: String? = nil) throws -> (Int32, String) {
    let process = Process()
    if let outside {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                             "mount -t tmpfs berth-cover \"$0\" && script=\"$1\" && shift && exec python3 -c \"$script\" \"$@\"",
                             outside, script]
            + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
    }
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Every entry below `path` with its type, size, mode and modification time: what "unchanged" compares.
func treeFingerprint(_ path: String) -> [String] {
    var result: [String] = []
    let enumerator = FileManager.default.enumerator(atPath: path)
    while let name = enumerator?.nextObject() as? String {
        var st = stat()
        guard lstat(path + "/" + name, &st) == 0 else { continue }
        result.append("\(name) \(st.st_mode) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_nlink)")
    }
    return result.sorted()
}

/// All of process `pid`'s open descriptors; -1 when /proc has none for it.
func descriptorCount(of pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}

/// How many of process `pid`'s descriptors lead into `directory` (the files a mount server holds of its
/// volume). Its pipes, /dev/fuse clones and eventfds are left out: they come with each new worker thread,
/// whenever the loop starts one.
func heldDescriptors(of pid: Int32, under directory: String) -> Int {
    let root = (directory as NSString).resolvingSymlinksInPath
    let prefix = root.hasSuffix("/") ? root : root + "/"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
    return names.filter { name in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(name)") else { return false }
        return target == root || target.hasPrefix(prefix)
    }.count
}
