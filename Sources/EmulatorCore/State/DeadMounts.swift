import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What is at a mount point, as far as `stat` can tell without asking the FUSE server anything.
public enum MountpointState: Sendable, Equatable {
    /// A file system is mounted there and answers.
    case mounted
    /// A FUSE mount whose server has gone: `stat` fails with ENOTCONN ("Transport endpoint is not
    /// connected") until someone detaches it; ECONNABORTED for a moment before, while the kernel takes
    /// down the rings of a server that served through io_uring.
    case disconnected
    /// An ordinary directory on its parent's file system.
    case notMounted
    case missing
    /// `stat` failed otherwise; the errno.
    case unknown(Int32)
}

/// Finding and clearing the mount points of attachments whose server died (the reaper reports them).
public enum DeadMounts {
    public static func state(of path: String) -> MountpointState {
        // statvfs first: FUSE sends it to the server every time, while stat may be answered from the
        // kernel's attribute cache (a day long on exclusive volumes) well after the server died.
        var usage = statvfs()
        if statvfs(path, &usage) != 0 && (errno == ENOTCONN || errno == ECONNABORTED) { return .disconnected }
        var info = stat()
        if stat(path, &info) != 0 {
            switch errno {
            case ENOTCONN, ECONNABORTED: return .disconnected
            case ENOENT: return .missing
            case let code: return .unknown(code)
            }
        }
        var parent = stat()
        let parentPath = path == "/" ? "/" : (path as NSString).deletingLastPathComponent
        guard stat(parentPath.isEmpty ? "." : parentPath, &parent) == 0 else { return .unknown(errno) }
        // A mount point's device differs from its parent directory's; the root is always mounted.
        return info.st_dev != parent.st_dev || path == "/" ? .mounted : .notMounted
    }

    /// Lazily detaches `path` while it is a disconnected FUSE mount: `fusermount3 -u -z` (what an
    /// unprivileged user may run), else `umount -l`. Dead mounts can be stacked on one path (each a server
    /// that died), so it detaches up to `maximumStacked` of them. True when the mount point is usable again.
    @discardableResult
    public static func clear(_ path: String) -> Bool {
        guard state(of: path) == .disconnected else { return false }
        for _ in 0..<maximumStacked {
            let detached = [("fusermount3", ["-u", "-z", path]), ("umount", ["-l", path])].contains { tool, arguments in
                findExecutable(tool).map { run($0, arguments) } ?? false
            }
            guard detached else { return false }
            if state(of: path) != .disconnected { return true }
        }
        return false
    }

    /// How many dead mounts on one path `clear` detaches before giving up.
    public static let maximumStacked = 8

    /// The first executable called `name` on PATH or in the system directories.
    static func findExecutable(_ name: String) -> String? {
        let searchPath = ProcessInfo.processInfo.environment["PATH"].map { $0.split(separator: ":").map(String.init) } ?? []
        for directory in searchPath + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] where directory.hasPrefix("/") {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs a program (Foundation's Process spawns it; no fork in this process) and waits for it.
    private static func run(_ executable: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
