import CFuse3
import EmulatorCore
import Glibc

extension Operations {
    /// Answers a lock request (setlk, flock) whose non-blocking try is `attempt`: at once when it is
    /// granted, fails, or conflicts without `wait`; otherwise the request is parked in the mount's
    /// `LockWaitQueue` and this worker thread returns unanswered (libfuse's low-level API lets a
    /// request be answered from any thread, later: it lives until its reply). The queue answers it when
    /// the lock is granted, EINTR when the caller is interrupted (the registered interrupt callback
    /// wakes the queue at once), ENOLCK when the session ends, EIO when an outage cuts the mount off. So no
    /// number of waiters takes a server thread, and a waiter can be killed. `taking`: a lock is being
    /// taken, and the kernel's cache of the file is dropped before the grant is answered.
    static func answerLock(_ req: fuse_req_t?, _ fs: MountFileSystem, _ ino: fuse_ino_t, wait: Bool, taking: Bool,
                           attempt: @escaping @Sendable () -> LockAttempt) {
        let request = UInt(bitPattern: req)
        let answer: @Sendable (Int32) -> Void = { code in
            if code == 0 && taking { dropKernelCache(fs, ino, .pagesAndAttributes) }
            fuse_reply_err(OpaquePointer(bitPattern: request), code)
        }
        switch attempt() {
        case .granted: answer(0)
        case .failed(let code): answer(code)
        case .blocked:
            guard wait else { return answer(LockError.wouldBlock.errno) }
            let waits = fs.locks.waits
            // Registered before parking: once parked, the request may be answered (and freed) at any time.
            fuse_req_interrupt_func(req, lockWaitInterrupted, Unmanaged.passUnretained(waits).toOpaque())
            waits.add(LockWaitQueue.Waiter(attempt: attempt, abandonment: abandonment(req, fs), answer: answer))
        }
    }

    /// libfuse calls this when the kernel interrupts a parked lock request (from the thread that reads
    /// the INTERRUPT); `data` is the mount's queue, which outlives the session. The queue then checks
    /// its waiters' `fuse_req_interrupted` and answers EINTR; it never answers here, so each request
    /// is answered once.
    static let lockWaitInterrupted: @convention(c) (fuse_req_t?, UnsafeMutableRawPointer?) -> Void = { _, data in
        guard let data else { return }
        Unmanaged<LockWaitQueue>.fromOpaque(data).takeUnretainedValue().wake()
    }
}
