import EmulatorCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One user of a shared mount cannot make it unusable for the others (issue 10, item 9): lock waits
/// hold no server thread and can be interrupted or killed.
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct TenantIsolationMountTests {
    /// A python3 driver: this process holds an exclusive lock on `path` (flock or lockf) while `waiters`
    /// children block waiting for it, plus one more that is SIGKILLed while it waits. It reports, one
    /// line each: how many were granted before the unlock, whether another process could still open
    /// `probe`, whether the killed waiter exited, and how many waiters got the lock after the unlock.
    static let waitersScript = """
        import fcntl, os, signal, sys, time
        path, kind, n, probe = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
        def lock(f):
            if kind == "flock": fcntl.flock(f, fcntl.LOCK_EX)
            else: fcntl.lockf(f, fcntl.LOCK_EX)
        def say(*words): print(*words, flush=True)
        def reaped(pid, timeout):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if os.waitpid(pid, os.WNOHANG)[0]: return True
                time.sleep(0.01)
            return False
        holder = open(path, "r+")
        lock(holder)
        r, w = os.pipe()
        def waiter(report):
            holder.close()
            f = open(path, "r+")
            lock(f)
            if report: os.write(w, b"x")
            os._exit(0)
        pids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0: waiter(True)
            pids.append(pid)
        victim = os.fork()
        if victim == 0: waiter(False)
        os.close(w)
        time.sleep(1.5)
        os.set_blocking(r, False)
        try: early = len(os.read(r, 100000))
        except BlockingIOError: early = 0
        say("early", early)
        prober = os.fork()
        if prober == 0:
            with open(probe) as f: f.read()
            os._exit(0)
        say("probe", "ok" if reaped(prober, 5) else "hung")
        os.kill(victim, signal.SIGKILL)
        say("killed", "exited" if reaped(victim, 5) else "hung")
        os.set_blocking(r, True)
        start = time.monotonic()
        holder.close()
        granted = 0
        import select
        while granted < n and time.monotonic() - start < 25:
            if select.select([r], [], [], 0.5)[0]:
                chunk = os.read(r, 100000)
                if not chunk: break
                granted += len(chunk)
        say("granted", granted, "%.3f" % (time.monotonic() - start))
        for pid in pids: reaped(pid, 1)
        """

    /// Runs python3 with `script` and `arguments`; returns its stdout lines, or nil when it did not
    /// finish within `timeout` seconds (then `onTimeout` runs, and the output so far is ignored).
    static func python(_ script: String, _ arguments: [String], timeout: Double,
                       onTimeout: () -> Void) throws -> [String]? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var finished = true
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                finished = false
                onTimeout()
                break
            }
            usleep(20_000)
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard finished else { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// ~300 blocked waiters used to take every server thread (256): the holder's unlock was never
    /// served, nothing else on the mount was, and a waiter could not even be killed.
    @Test(arguments: ["flock", "fcntl"])
    func threeHundredWaitersNeitherBlockTheMountNorResistKill(kind: String) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try ServedMount(scratch, at: "a")
        defer { mount.stop() }
        let m = mount.mountpoint
        #expect(writeFile(m + "/locked", [1]) == 0)
        #expect(writeFile(m + "/other", [2]) == 0)
        let waiters = 300
        let lines = try Self.python(Self.waitersScript, [m + "/locked", kind, "\(waiters)", m + "/other"],
                                    timeout: 50, onTimeout: { mount.stop() })
        guard let lines else {
            Issue.record("the waiters did not finish within 50 s; the server had to be stopped")
            return
        }
        let fields = Dictionary(lines.map { line in
            let words = line.split(separator: " ").map(String.init)
            return (words.first ?? "", Array(words.dropFirst()))
        }, uniquingKeysWith: { first, _ in first })
        #expect(fields["early"] == ["0"], "no waiter may get the lock while it is held: \(lines)")
        #expect(fields["probe"] == ["ok"], "another process could not read a file on the mount: \(lines)")
        #expect(fields["killed"] == ["exited"], "a waiter killed with SIGKILL did not exit: \(lines)")
        #expect(fields["granted"]?.first == "\(waiters)", "not every waiter got the lock: \(lines)")
        if let seconds = fields["granted"]?.last { print("\(waiters) \(kind) waiters granted one after another in \(seconds) s") }
    }

    /// A lock wait that gets a signal whose handler is installed without SA_RESTART fails with EINTR,
    /// holds nothing afterwards, and the lock can be taken once the holder is gone.
    @Test(arguments: ["fcntl", "flock"])
    func aSignalInterruptsALockWaitWithEINTR(kind: String) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try ServedMount(scratch, at: "a")
        defer { mount.stop() }
        let path = mount.mountpoint + "/f"
        #expect(writeFile(path, [1]) == 0)
        let holder = try LockHolder(path: path, kind: kind)
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        LockWaits.installWakeHandler()  // a no-op handler without SA_RESTART
        let result = Atomicish()
        let thread = ThreadID()
        Thread {
            var unblock = sigset_t()
            sigemptyset(&unblock)
            sigaddset(&unblock, LockWaits.wakeSignal)
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
            thread.set(pthread_self())
            let code = kind == "fcntl" ? recordLock(fd, F_WRLCK, command: F_SETLKW) : bsdLock(fd, LOCK_EX)
            result.set(code == 0 ? -1 : Int(code))
        }.start()
        #expect(waitUntil { thread.value != nil })
        usleep(300_000)
        #expect(result.value == 0, "the wait must block while another process holds the lock")
        if let waiting = thread.value { pthread_kill(waiting, LockWaits.wakeSignal) }
        #expect(waitUntil(timeout: 3) { result.value != 0 })
        #expect(result.value == Int(EINTR))
        holder.kill9()
        let lock = { kind == "fcntl" ? recordLock(fd, F_WRLCK) : bsdLock(fd, LOCK_EX | LOCK_NB) }
        #expect(waitUntil { lock() == 0 }, "the lock is free once its holder died")
    }
}

/// The pthread of a test thread, once it has started.
final class ThreadID: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: pthread_t?
    var value: pthread_t? { lock.withLock { stored } }
    func set(_ value: pthread_t) { lock.withLock { stored = value } }
}
