#if os(Linux)
import Dispatch
import Glibc
import Synchronization

/// The no-op wake signal: sent to a server thread to make a blocking call it is in return EINTR (the
/// mount server uses it to end its loop's wait when asked to stop).
public enum LockWaits {
    /// SIGUSR2: neither the Swift runtime nor libfuse uses it.
    public static let wakeSignal = SIGUSR2

    /// Installs the no-op handler for `wakeSignal` (once per process), without `SA_RESTART`, so that a
    /// thread sent the signal returns EINTR from the blocking call it is in.
    public static func installWakeHandler() { installHandler }

    private static let installHandler: Void = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: the blocked call must return EINTR
        sigaction(wakeSignal, &action, nil)
    }()
}

/// What one non-blocking try of a waiting lock request came to.
public enum LockAttempt: Sendable, Equatable {
    case granted
    /// Still held by another owner: try again later.
    case blocked
    /// Failed for good; the request is answered with this errno.
    case failed(Int32)
}

/// Lock requests that wait (F_SETLKW, `flock` without LOCK_NB) without holding the thread that
/// received them: the request is parked here unanswered, and one thread per queue tries the parked
/// requests again, without blocking, whenever `wake` says a lock was released or a request was
/// interrupted, and otherwise on a timer (a release through another mount or process is seen only by
/// trying). So any number of waits costs no server thread, and a wait whose caller is interrupted or
/// killed is answered at once instead of holding the caller in an uninterruptible sleep.
///
/// Each waiter is answered exactly once: by this queue's thread (granted, failed, abandoned) or by
/// `close`, never by two. Requests are tried in arrival order, so among waiters that can all proceed
/// the oldest gets the lock first.
public final class LockWaitQueue: Sendable {
    public struct Waiter: Sendable {
        /// Tries the lock without blocking.
        public var attempt: @Sendable () -> LockAttempt
        /// nil while the wait may go on; the errno to answer once it must end ungranted (EINTR for an
        /// interrupted caller, EIO for a mount cut off by an outage).
        public var abandonment: @Sendable () -> Int32?
        /// Answers the request: 0 when granted, an errno otherwise. Called exactly once.
        public var answer: @Sendable (Int32) -> Void

        public init(attempt: @escaping @Sendable () -> LockAttempt,
                    abandonment: @escaping @Sendable () -> Int32?,
                    answer: @escaping @Sendable (Int32) -> Void) {
            self.attempt = attempt
            self.abandonment = abandonment
            self.answer = answer
        }
    }

    struct State {
        /// Arrived since the thread last took them; appended to the end of its list (arrival order).
        var arrived: [Waiter] = []
        var waiting = 0
        var threadRunning = false
        var closing: Int32?
        var closed = false
        /// Set by `wake`: the next pass tries every waiter, whatever its due time.
        var woken = false
    }

    private let state = Mutex(State())
    private let signal = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Nanoseconds between passes (see `run`).
    let fastestRetry: UInt64
    let slowestRetry: UInt64

    /// `fastestRetry`, `slowestRetry`: how soon blocked requests are tried again (in microseconds) when
    /// nothing wakes the queue: first after `fastestRetry`, then twice as long each time nothing was
    /// granted, up to `slowestRetry`. A release through another mount or process is noticed within
    /// that time, and so is an abandonment nobody woke the queue for (an outage).
    public init(fastestRetry: UInt64 = 1_000, slowestRetry: UInt64 = 8_000) {
        self.fastestRetry = fastestRetry * 1_000
        self.slowestRetry = max(fastestRetry, slowestRetry) * 1_000
    }

    /// Waiters parked and not answered yet.
    public var count: Int { state.withLock { $0.waiting + $0.arrived.count } }

    /// Parks `waiter` (after a first try found the lock held). After `close` it is answered at once
    /// with the errno `close` was given.
    public func add(_ waiter: Waiter) {
        let (refusal, start) = state.withLock { state -> (Int32?, Bool) in
            if let closing = state.closing { return (closing, false) }
            state.arrived.append(waiter)
            let start = !state.threadRunning
            state.threadRunning = true
            return (nil, start)
        }
        if let refusal { return waiter.answer(refusal) }
        if start { startThread() }
        signal.signal()
    }

    /// Something may have changed for the parked waiters (a lock was released on this mount, a request
    /// was interrupted): they are all tried again now.
    public func wake() {
        let running = state.withLock { state -> Bool in
            state.woken = true
            return state.threadRunning
        }
        if running { signal.signal() }
    }

    /// Answers every parked waiter with `errno` (the mount is going away), and every later one too;
    /// returns once no answer is being given any more.
    public func close(answering errno: Int32) {
        let (running, orphans) = state.withLock { state -> (Bool, [Waiter]) in
            if state.closing != nil { return (false, []) }
            state.closing = errno
            if state.threadRunning { return (true, []) }
            defer { state.arrived.removeAll() }
            return (false, state.arrived)
        }
        for waiter in orphans { waiter.answer(errno) }
        if running {
            signal.signal()
            finished.wait()
        }
    }

    private func startThread() {
        // Signals are for the threads that serve requests (and their stop handlers), not this one.
        if let thread = ServiceThread.start(blockingSignals: true, { [self] in run() }) {
            pthread_detach(thread)
        } else {
            // No thread: nobody could ever answer them, so they are answered now.
            let stranded = state.withLock { state -> [Waiter] in
                state.threadRunning = false
                defer { state.arrived.removeAll() }
                return state.arrived
            }
            for waiter in stranded { waiter.answer(EAGAIN) }
        }
    }

    /// The queue's thread: a pass tries every waiter, oldest first, so that among waiters that can
    /// all proceed the oldest gets the lock; passes follow each other after `fastestRetry`, twice as
    /// long each time nothing was granted, up to `slowestRetry`, and at once after a `wake`.
    private func run() {
        var parked: [Waiter] = []
        var interval = fastestRetry
        while true {
            let (arrived, woken, closing) = state.withLock { state -> ([Waiter], Bool, Int32?) in
                defer {
                    state.arrived.removeAll()
                    state.woken = false
                }
                state.waiting = parked.count + state.arrived.count
                return (state.arrived, state.woken, state.closing)
            }
            parked += arrived
            if let closing {
                for waiter in parked { waiter.answer(closing) }
                state.withLock { state in
                    state.waiting = 0
                    state.threadRunning = false
                }
                finished.signal()
                return
            }
            var granted = false
            parked = parked.filter { waiter in
                if let errno = waiter.abandonment() {
                    waiter.answer(errno)
                    return false
                }
                switch waiter.attempt() {
                case .granted:
                    waiter.answer(0)
                    granted = true
                    return false
                case .failed(let errno):
                    waiter.answer(errno)
                    return false
                case .blocked:
                    return true
                }
            }
            interval = woken || granted || !arrived.isEmpty ? fastestRetry : min(interval * 2, slowestRetry)
            state.withLock { $0.waiting = parked.count }
            if parked.isEmpty {
                _ = signal.wait(timeout: .distantFuture)
            } else {
                _ = signal.wait(timeout: .now() + .nanoseconds(Int(interval)))
            }
        }
    }
}
#endif
