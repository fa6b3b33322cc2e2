#if os(Linux)
import Glibc
import Synchronization

/// Lets a thread blocked in a lock wait (`F_OFD_SETLKW`, `flock` without `LOCK_NB`) be abandoned: when
/// the process waiting on the mount is interrupted, or the mount is shutting down. A watchdog thread,
/// running only while someone waits, asks each waiter's `shouldAbandon` every `tick` and, when it says
/// yes, sends the waiting thread a signal whose handler does nothing and is installed without
/// `SA_RESTART`, so the blocking call returns EINTR. The watchdog keeps signalling until the waiter
/// leaves, which closes the race of a signal arriving just before the thread enters the call.
public final class LockWaits: Sendable {
    /// SIGUSR2: neither the Swift runtime nor libfuse uses it.
    public static let wakeSignal = SIGUSR2
    public static let shared = LockWaits()

    struct Waiter {
        var thread: pthread_t
        var shouldAbandon: @Sendable () -> Bool
    }

    struct State {
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
        var watchdogRunning = false
    }

    private let state = Mutex(State())
    let tickMicroseconds: UInt32

    init(tickMicroseconds: UInt32 = 20_000) {
        self.tickMicroseconds = tickMicroseconds
        Self.installWakeHandler()
    }

    /// Installs the no-op handler for `wakeSignal` (once per process): a thread sent the signal
    /// returns EINTR from the blocking call it is in.
    public static func installWakeHandler() { installHandler }

    private static let installHandler: Void = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: the blocked call must return EINTR
        sigaction(wakeSignal, &action, nil)
    }()

    /// Runs `body` (which blocks) while registered, so that the watchdog signals this thread once
    /// `shouldAbandon` returns true.
    func whileRegistered<T>(shouldAbandon: @escaping @Sendable () -> Bool, _ body: () -> T) -> T {
        let me = pthread_self()
        let (id, startWatchdog) = state.withLock { state -> (UInt64, Bool) in
            state.nextID += 1
            state.waiters[state.nextID] = Waiter(thread: me, shouldAbandon: shouldAbandon)
            let start = !state.watchdogRunning
            state.watchdogRunning = true
            return (state.nextID, start)
        }
        if startWatchdog { startWatchdogThread() }
        // Dispatch's worker threads block most signals; the wake signal must get through here.
        var unblock = sigset_t(), previous = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, Self.wakeSignal)
        pthread_sigmask(SIG_UNBLOCK, &unblock, &previous)
        defer {
            _ = state.withLock { $0.waiters.removeValue(forKey: id) }
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        return body()
    }

    var waiterCount: Int { state.withLock { $0.waiters.count } }

    private func startWatchdogThread() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let waits = Unmanaged<LockWaits>.fromOpaque(raw).takeRetainedValue()
            waits.watch()
            return nil
        }, context)
        if started == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<LockWaits>.fromOpaque(context).release()
            state.withLock { $0.watchdogRunning = false }
        }
    }

    private func watch() {
        while true {
            usleep(tickMicroseconds)
            let keepRunning = state.withLock { state -> Bool in
                if state.waiters.isEmpty {
                    state.watchdogRunning = false
                    return false
                }
                // Signalled under the lock: a registered waiter has not returned yet, so its thread is
                // alive.
                for waiter in state.waiters.values where waiter.shouldAbandon() {
                    pthread_kill(waiter.thread, Self.wakeSignal)
                }
                return true
            }
            if !keepRunning { return }
        }
    }
}
#endif
