import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A process `berth run` starts (a mount server, its watcher, a detached run) may inherit the write end
/// of a pipe another thread of `berth run` had just made for the container engine: posix_spawn's list of
/// descriptors to close is taken a moment before the spawn. Holding it would keep that engine call's
/// output open, and `berth run` would wait for its end for as long as the server lives (seen: a run that
/// never ended after its container exited). So these processes close every pipe they did not ask for
/// before doing anything else.
public enum InheritedPipes {
    public static func close(keeping keep: Set<Int32>) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in entries.compactMap(Int32.init) where fd > 2 && !keep.contains(fd) {
            var info = stat()
            // Sockets too: Foundation's Process watches its child through a socket pair.
            if fstat(fd, &info) == 0, [S_IFIFO, S_IFSOCK].contains(info.st_mode & S_IFMT) { Glibc.close(fd) }
        }
    }
}
