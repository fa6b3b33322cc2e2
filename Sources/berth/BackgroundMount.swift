import ArgumentParser
import CBerthShims
import EmulatorCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Mount servers run as their own processes: `berth mount --background` and `berth drill` start them here
/// and stop them through their attachment.
enum BackgroundMount {
    /// In the started server, once its mount answers: stops holding the caller's stdout and stderr open
    /// (a shell's `$(berth mount --background …)` would wait for them), writes to the mount log instead,
    /// and tells the waiting `start` through `readyFD`.
    static func signalReady(_ readyFD: Int32, logPath: String) {
        var log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if log < 0 { log = open("/dev/null", O_WRONLY | O_CLOEXEC) }
        if log >= 0 {
            dup2(log, STDOUT_FILENO)
            dup2(log, STDERR_FILENO)
            close(log)
        }
        _ = "ready\n".withCString { write(readyFD, $0, 6) }
        close(readyFD)
    }

    /// Starts `berth <arguments> --ready-fd 3` detached (a new process, never fork: libfuse and the Swift
    /// runtime's threads do not survive it; a new session; only fds 0-3), returning its pid and the read
    /// end of the pipe whose write end it has as fd 3 (the caller closes it).
    static func spawn(arguments: [String], what: String) throws -> (pid_t, Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            printError("berth: cannot create a pipe: \(String(cString: strerror(errno)))")
            throw ExitStatus.invalidInput
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        // The server gets the pipe's write end as fd 3 and no other descriptor of ours: one it inherited
        // (say our caller's stdout pipe, which Foundation's Process leaks into its children) would keep the
        // caller waiting for EOF for as long as the mount lives.
        let serverReadyFD: Int32 = 3
        let argv0 = CommandLine.arguments.first ?? "berth"
        let argumentVector = [argv0] + arguments + ["--ready-fd", String(serverReadyFD)]
        let executable = "/proc/self/exe"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, serverReadyFD)
        // Everything above fd 3 is closed in the child at the spawn itself: a list taken beforehand would
        // miss a descriptor another thread opens meanwhile without O_CLOEXEC. (Seen: the socket pair with
        // which Foundation's Process learns that the container engine exited, inherited by a run's
        // watcher, so the engine was never reaped and `berth run` waited for it for ever.)
        guard berth_spawn_close_from(&actions, serverReadyFD + 1) == 0 else {
            printError("berth: cannot prepare the \(what)'s descriptors: \(String(cString: strerror(errno)))")
            throw ExitStatus.invalidInput
        }
        // A new session, so that the terminal's Ctrl-C for this shell does not reach the server.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The stop signals start at their defaults and unblocked: a caller that ignores SIGTERM (a shell's
        // background job, a test runner, a drill before its own handlers are in place) would otherwise
        // pass that on, libfuse would leave the ignored signal alone, and `berth unmount` could not stop
        // the server.
        var defaults = sigset_t(), mask = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&defaults, signal) }
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, berth_POSIX_SPAWN_SETSID | berth_POSIX_SPAWN_SETSIGMASK | berth_POSIX_SPAWN_SETSIGDEF)
        let argv: [UnsafeMutablePointer<CChar>?] = argumentVector.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        close(writeEnd)
        guard spawned == 0 else {
            close(readEnd)
            printError("berth: cannot start the \(what): \(String(cString: strerror(spawned)))")
            throw ExitStatus.invalidInput
        }
        return (child, readEnd)
    }

    /// Starts `berth <arguments> --ready-fd 3` as a new process (never fork: libfuse and the Swift
    /// runtime's threads do not survive it) and waits until it says the mount is ready. Returns the
    /// server's pid; when the server exits without a mount it has said why on the stderr we share, and
    /// this throws its exit status.
    static func start(arguments: [String]) throws -> pid_t {
        let (child, readEnd) = try spawn(arguments: arguments, what: "mount server")
        defer { close(readEnd) }
        var buffer = [UInt8](repeating: 0, count: 16)
        var got = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            got = max(n, 0)
            break
        }
        if got >= 5, String(decoding: buffer.prefix(5), as: UTF8.self) == "ready" { return child }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        let code = max(berth_exit_status(status), 1)
        throw ExitCode(code == 0 ? 1 : code)
    }

    /// Asks the server of `attachment` to unmount (SIGTERM, as Ctrl-C in the foreground) and waits until
    /// it has released the attachment. False when it did not within `timeout` seconds.
    static func stop(_ attachment: VolumeAttachment, store: StateStore, timeout: Double) -> Bool {
        // The pid comes from the database: signal it only while it is still the berth server recorded.
        guard attachment.server.isBerthProcess else { return false }
        kill(attachment.server.pid, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let still = (try? store.listAttachments())?.contains { $0.id == attachment.id } ?? false
            if !still { return true }
            usleep(10_000)
        }
        return false
    }
}
