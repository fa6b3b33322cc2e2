import Foundation
import Synchronization
import Testing
import StorageCatalog
@testable import EmulatorCore

/// Record and BSD locks between two owners on one temp file, without mounting: the conflicts the
/// FUSE layer relies on to make locks hold across mounts.
@Suite struct LockTableTests {
    let directory: String
    let path: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-locks-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/file"
        try Data(repeating: 1, count: 4096).write(to: URL(fileURLWithPath: path))
    }

    var key: InodeKey {
        var st = stat()
        stat(path, &st)
        return InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    func opener() -> @Sendable () -> Int32 {
        let path = path
        return { let fd = open(path, O_RDWR | O_CLOEXEC); return fd >= 0 ? fd : -errno }
    }

    /// Parks a write (or `kind`) lock request of `owner` for the whole file in `table.waits`, as the
    /// FUSE layer does for F_SETLKW; its answer lands in `answers` under `owner`.
    func park(_ table: RecordLockTable, owner: UInt64, kind: RecordLock.Kind = .write, answers: Answers,
              abandonment: @escaping @Sendable () -> Int32? = { nil }) {
        let key = key, open = opener()
        let attempt: @Sendable () -> LockAttempt = {
            do throws(LockError) {
                try table.set(RecordLock(kind: kind, start: 0, length: 0), file: key, owner: owner, tag: owner, open: open)
                return .granted
            } catch .wouldBlock {
                return .blocked
            } catch {
                return .failed(error.errno)
            }
        }
        #expect(attempt() == .blocked, "parked only after a first try found the lock held")
        table.waits.add(LockWaitQueue.Waiter(attempt: attempt, abandonment: abandonment,
                                             answer: { answers.record(owner, $0) }))
    }

    func waitUntil(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test func secondOwnerConflictsAndSeesTheHolder() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        try table.set(RecordLock(kind: .write, start: 0, length: 100), file: key, owner: 1, tag: 10, open: opener())

        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .write, start: 50, length: 10), file: key, owner: 2, tag: 20, open: opener())
        }
        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .read, start: 99, length: 1), file: key, owner: 2, tag: 20, open: opener())
        }
        // Outside the held range, and the holder itself re-locking, are fine.
        try table.set(RecordLock(kind: .write, start: 100, length: 10), file: key, owner: 2, tag: 20, open: opener())
        try table.set(RecordLock(kind: .read, start: 0, length: 50), file: key, owner: 1, tag: 10, open: opener())

        let holder = try table.conflict(with: RecordLock(kind: .write, start: 60, length: 1), file: key, owner: 2, open: opener())
        #expect(holder?.kind == .write)
        #expect(holder?.start == 50 && holder?.length == 50)
        #expect(try table.conflict(with: RecordLock(kind: .write, start: 60, length: 1), file: key, owner: 1, open: opener()) == nil)
        #expect(table.ownerCount == 2)
    }

    @Test func readLocksShareAndBlockWriters() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        try table.set(RecordLock(kind: .read, start: 0, length: 0), file: key, owner: 1, tag: 1, open: opener())
        try table.set(RecordLock(kind: .read, start: 0, length: 0), file: key, owner: 2, tag: 2, open: opener())
        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .write, start: 10, length: 1), file: key, owner: 3, tag: 3, open: opener())
        }
    }

    @Test func releasingTheOwnerDropsItsLocks() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, open: opener())
        table.releaseOwner(file: key, owner: 1)
        #expect(table.ownerCount == 0)
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 2, tag: 2, open: opener())

        // releaseTag drops the owners that locked through that handle only.
        table.releaseTag(99, file: key)
        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .write, start: 0, length: 1), file: key, owner: 3, tag: 3, open: opener())
        }
        table.releaseTag(2, file: key)
        try table.set(RecordLock(kind: .write, start: 0, length: 1), file: key, owner: 3, tag: 3, open: opener())
    }

    @Test func unlockingWithoutLocksOpensNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        try table.set(RecordLock(kind: .unlock, start: 0, length: 0), file: key, owner: 7, tag: 7) {
            Issue.record("an unlock by an owner without locks opened the file")
            return -EBADF
        }
        #expect(table.ownerCount == 0)
    }

    @Test func parkedWaitIsGrantedWhenTheHolderUnlocks() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        let answers = Answers()
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, open: opener())
        park(table, owner: 2, answers: answers)
        usleep(200_000)
        #expect(answers.all.isEmpty, "the waiter must wait while the lock is held")
        #expect(table.waits.count == 1)
        try table.set(RecordLock(kind: .unlock, start: 0, length: 0), file: key, owner: 1, tag: 1, open: opener())
        #expect(waitUntil(timeout: 1) { answers.all.count == 1 })
        #expect(answers.all.first?.errno == 0)
        #expect(table.waits.count == 0)
        // The waiter now holds it.
        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .read, start: 5, length: 1), file: key, owner: 1, tag: 1, open: opener())
        }
    }

    @Test func parkedWaitIsGrantedWhenTheHolderIsReleased() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        let answers = Answers()
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, open: opener())
        park(table, owner: 2, kind: .read, answers: answers)
        usleep(100_000)
        #expect(answers.all.isEmpty)
        table.releaseOwner(file: key, owner: 1)  // what flush does when the holder closes or dies
        #expect(waitUntil(timeout: 1) { answers.all.count == 1 })
        #expect(answers.all.first?.errno == 0)
    }

    /// A lock released where this table cannot see it (another mount's server, another process) wakes
    /// nobody: the queue finds it by trying again on its own.
    @Test func aReleaseElsewhereIsFoundByRetrying() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        let answers = Answers()
        let elsewhere = open(path, O_RDWR)
        var fl = RecordLock(kind: .write, start: 0, length: 0).flock()
        #expect(fcntl(elsewhere, RecordLock.F_OFD_SETLK, &fl) == 0)
        park(table, owner: 2, answers: answers)
        usleep(100_000)
        #expect(answers.all.isEmpty)
        close(elsewhere)
        // No wake reaches the queue: only its own retries can find the release.
        #expect(waitUntil(timeout: 10) { answers.all.count == 1 })
        #expect(answers.all.first?.errno == 0)
    }

    @Test func abandonedWaitIsAnsweredItsErrnoAndHoldsNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        let answers = Answers()
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, open: opener())
        let interrupted = Flag(), cutOff = Flag()
        park(table, owner: 2, answers: answers, abandonment: { interrupted.isSet ? EINTR : nil })
        park(table, owner: 3, answers: answers, abandonment: { cutOff.isSet ? EIO : nil })
        usleep(100_000)
        #expect(answers.all.isEmpty)
        interrupted.set()
        table.waits.wake()  // what libfuse's interrupt callback does
        #expect(waitUntil(timeout: 1) { answers.all.count == 1 })
        cutOff.set()  // noticed without a wake, within the slowest retry interval
        #expect(waitUntil(timeout: 1) { answers.all.count == 2 })
        #expect(answers.all.map(\.owner) == [2, 3])
        #expect(answers.all.map(\.errno) == [EINTR, EIO])
        usleep(50_000)
        #expect(answers.all.count == 2, "answered once each")
        // The abandoned waiters hold nothing.
        table.releaseOwner(file: key, owner: 1)
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 4, tag: 4, open: opener())
    }

    @Test func closingAnswersEveryWaiterOnceAndLaterOnesAtOnce() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        let answers = Answers()
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, open: opener())
        for owner in 2...4 { park(table, owner: UInt64(owner), answers: answers) }
        usleep(50_000)
        table.releaseAll()  // unmount: closes the queue, answering ENOLCK
        #expect(answers.all.map(\.errno) == [ENOLCK, ENOLCK, ENOLCK], "answered before releaseAll returns")
        #expect(table.waits.count == 0)
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, open: opener())
        defer { table.releaseAll() }
        park(table, owner: 5, answers: answers)
        #expect(answers.all.last?.owner == 5 && answers.all.last?.errno == ENOLCK)
        usleep(50_000)
        #expect(answers.all.count == 4)
    }

    /// Waiters that could all proceed get the lock in the order they came (round robin); 300 of them
    /// need no thread each (they used to hold one server thread each, and 256 exhausted the mount).
    @Test func threeHundredWaitersAreGrantedInArrivalOrder() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queue = LockWaitQueue()
        defer { queue.close(answering: EINTR) }
        let answers = Answers()
        let holder = open(path, O_RDONLY)
        try BSDLock.apply(.exclusive, fd: holder)
        let count = 300
        let fds = (0..<count).map { _ in open(path, O_RDONLY) }
        defer { fds.forEach { close($0) } }
        for (index, fd) in fds.enumerated() {
            let attempt: @Sendable () -> LockAttempt = {
                do throws(LockError) {
                    try BSDLock.apply(.exclusive, fd: fd)
                    return .granted
                } catch .wouldBlock {
                    return .blocked
                } catch {
                    return .failed(error.errno)
                }
            }
            #expect(attempt() == .blocked)
            // Each, once granted, releases at once (as a process that locks, works and exits).
            queue.add(LockWaitQueue.Waiter(attempt: attempt, abandonment: { nil }, answer: { code in
                answers.record(UInt64(index), code)
                _ = try? BSDLock.apply(.unlock, fd: fd)
                queue.wake()
            }))
        }
        usleep(100_000)
        #expect(answers.all.isEmpty)
        let start = Date()
        close(holder)  // released without a wake: found by retrying
        #expect(waitUntil(timeout: 10) { answers.all.count == count })
        print("\(count) parked flock waiters granted in \(Date().timeIntervalSince(start)) s")
        // In arrival order, starting wherever the pass that first found the lock free had got to (the
        // holder's release races with it): no waiter is passed over twice.
        let order = answers.all.map(\.owner)
        #expect(Set(order).count == count)
        #expect(zip(order, order.dropFirst()).allSatisfy { ($0 + 1) % UInt64(count) == $1 }, "\(order)")
        #expect(answers.all.allSatisfy { $0.errno == 0 })
    }

    @Test func bsdLocksConflictBetweenDescriptions() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = open(path, O_RDONLY), second = open(path, O_RDONLY)
        defer { close(second) }
        try BSDLock.apply(.exclusive, fd: first)
        #expect(throws: LockError.wouldBlock) { try BSDLock.apply(.shared, fd: second) }
        close(first)  // closing the description releases its flock lock
        try BSDLock.apply(.exclusive, fd: second)
        #expect(BSDLock.decode(LOCK_EX | LOCK_NB)?.0 == .exclusive)
        #expect(BSDLock.decode(LOCK_EX | LOCK_NB)?.wait == false)
        #expect(BSDLock.decode(LOCK_SH)?.wait == true)
        #expect(BSDLock.decode(0) == nil)
    }
}

/// The answers parked lock requests got, in the order given.
final class Answers: Sendable {
    private let state = Mutex<[(owner: UInt64, errno: Int32)]>([])
    var all: [(owner: UInt64, errno: Int32)] { state.withLock { $0 } }
    func record(_ owner: UInt64, _ errno: Int32) { state.withLock { $0.append((owner, errno)) } }
}

final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// Who holds each service's locks (`LockScope`): the servers, across mounts, by default on every type
/// (the contract's EIO for every operation during an outage); the attachment's kernel on ebs with
/// `--local-locks`, refused elsewhere.
@Suite struct LockScopeTests {
    @Test func everyServiceDefaultsToServerHeldLocksAndOnlyEBSMayLeaveThemToItsKernel() {
        for service in ServiceID.allCases {
            #expect(LockScope.byService[service] != nil, "\(service) has no row")
            #expect(LockScope.default(forServiceType: service) == .volume, "\(service)")
            let configuration = MountConfiguration(volumeID: "v", serviceType: service, backingDirectory: "/b",
                                                   mountpoint: "/m", sharedStateDirectory: "/s")
            #expect(configuration.lockScope == .volume)
            #expect(configuration.lockScope.serverHoldsLocks)
            #expect(LockScope.local(forServiceType: service) == (service == .ebs ? .attachment : nil), "\(service)")
        }
        #expect(!LockScope.attachment.serverHoldsLocks)
    }
}
