#if canImport(Glibc)
public import Glibc

/// A plain POSIX thread for the mount server's helpers (lock-wait queue, descriptor reclaimer, shutdown
/// watcher): they block in system calls and sleeps, which have no place on Swift's cooperative pool.
public enum ServiceThread {
    /// Starts `body` on a new thread; nil when no thread could be made. `blockingSignals`: the thread
    /// takes no signals, which are for the threads that serve requests and their stop handlers.
    public static func start(blockingSignals: Bool, _ body: @escaping @Sendable () -> Void) -> pthread_t? {
        let context = Unmanaged.passRetained(Body(run: body, blockingSignals: blockingSignals)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
            if body.blockingSignals {
                var all = sigset_t()
                sigfillset(&all)
                pthread_sigmask(SIG_BLOCK, &all, nil)
            }
            body.run()
            return nil
        }, context)
        guard started == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            return nil
        }
        return thread
    }

    private final class Body: Sendable {
        let run: @Sendable () -> Void
        let blockingSignals: Bool

        init(run: @escaping @Sendable () -> Void, blockingSignals: Bool) {
            self.run = run
            self.blockingSignals = blockingSignals
        }
    }
}
#endif
