import Foundation
import Synchronization
import Testing
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

    /// Runs `body` on a thread of its own (a blocking lock wait must not hold a test-pool thread).
    func onThread(_ body: @escaping @Sendable () throws(LockError) -> Void) -> Outcome {
        let outcome = Outcome()
        Thread {
            do throws(LockError) {
                try body()
                outcome.finish(nil)
            } catch {
                outcome.finish(error)
            }
        }.start()
        return outcome
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
        try table.set(RecordLock(kind: .write, start: 0, length: 100), file: key, owner: 1, tag: 10, wait: false, open: opener())

        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .write, start: 50, length: 10), file: key, owner: 2, tag: 20, wait: false, open: opener())
        }
        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .read, start: 99, length: 1), file: key, owner: 2, tag: 20, wait: false, open: opener())
        }
        // Outside the held range, and the holder itself re-locking, are fine.
        try table.set(RecordLock(kind: .write, start: 100, length: 10), file: key, owner: 2, tag: 20, wait: false, open: opener())
        try table.set(RecordLock(kind: .read, start: 0, length: 50), file: key, owner: 1, tag: 10, wait: false, open: opener())

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
        try table.set(RecordLock(kind: .read, start: 0, length: 0), file: key, owner: 1, tag: 1, wait: false, open: opener())
        try table.set(RecordLock(kind: .read, start: 0, length: 0), file: key, owner: 2, tag: 2, wait: false, open: opener())
        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .write, start: 10, length: 1), file: key, owner: 3, tag: 3, wait: false, open: opener())
        }
    }

    @Test func releasingTheOwnerDropsItsLocks() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, wait: false, open: opener())
        table.releaseOwner(file: key, owner: 1)
        #expect(table.ownerCount == 0)
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 2, tag: 2, wait: false, open: opener())

        // releaseTag drops the owners that locked through that handle only.
        table.releaseTag(99, file: key)
        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .write, start: 0, length: 1), file: key, owner: 3, tag: 3, wait: false, open: opener())
        }
        table.releaseTag(2, file: key)
        try table.set(RecordLock(kind: .write, start: 0, length: 1), file: key, owner: 3, tag: 3, wait: false, open: opener())
    }

    @Test func unlockingWithoutLocksOpensNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        try table.set(RecordLock(kind: .unlock, start: 0, length: 0), file: key, owner: 7, tag: 7, wait: false) {
            Issue.record("an unlock by an owner without locks opened the file")
            return -EBADF
        }
        #expect(table.ownerCount == 0)
    }

    @Test func blockingWaitWakesWhenTheHolderUnlocks() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        let key = key, open = opener()
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, wait: false, open: opener())
        let waiter = onThread { () throws(LockError) in
            try table.set(RecordLock(kind: .write, start: 0, length: 10), file: key, owner: 2, tag: 2, wait: true, open: open)
        }
        usleep(300_000)
        #expect(waiter.done == false, "the waiter must block while the lock is held")
        try table.set(RecordLock(kind: .unlock, start: 0, length: 0), file: key, owner: 1, tag: 1, wait: false, open: opener())
        #expect(waitUntil { waiter.done })
        #expect(waiter.error == nil)
        // The waiter now holds it.
        #expect(throws: LockError.wouldBlock) {
            try table.set(RecordLock(kind: .read, start: 5, length: 1), file: key, owner: 1, tag: 1, wait: false, open: opener())
        }
    }

    @Test func blockingWaitWakesWhenTheHolderIsReleased() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        let key = key, open = opener()
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, wait: false, open: opener())
        let waiter = onThread { () throws(LockError) in
            try table.set(RecordLock(kind: .read, start: 0, length: 0), file: key, owner: 2, tag: 2, wait: true, open: open)
        }
        usleep(200_000)
        #expect(waiter.done == false)
        table.releaseOwner(file: key, owner: 1)  // what flush does when the holder closes or dies
        #expect(waitUntil { waiter.done })
        #expect(waiter.error == nil)
    }

    @Test func abandonedWaitEndsWithEINTR() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = RecordLockTable()
        defer { table.releaseAll() }
        let key = key, open = opener()
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 1, tag: 1, wait: false, open: opener())
        let flag = Flag()
        let waiter = onThread { () throws(LockError) in
            try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 2, tag: 2, wait: true,
                          shouldAbandon: { flag.isSet }, open: open)
        }
        usleep(200_000)
        #expect(waiter.done == false)
        flag.set()
        #expect(waitUntil { waiter.done })
        #expect(waiter.error == LockError.interrupted)
        #expect(LockError.interrupted.errno == EINTR)
        // The abandoned waiter holds nothing.
        table.releaseOwner(file: key, owner: 1)
        try table.set(RecordLock(kind: .write, start: 0, length: 0), file: key, owner: 3, tag: 3, wait: false, open: opener())
    }

    @Test func bsdLocksConflictBetweenDescriptionsAndWake() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = open(path, O_RDONLY), second = open(path, O_RDONLY)
        defer { close(second) }
        try BSDLock.apply(.exclusive, fd: first, wait: false)
        #expect(throws: LockError.wouldBlock) { try BSDLock.apply(.shared, fd: second, wait: false) }
        let waiter = onThread { () throws(LockError) in try BSDLock.apply(.exclusive, fd: second, wait: true) }
        usleep(200_000)
        #expect(waiter.done == false)
        close(first)  // closing the description releases its flock lock
        #expect(waitUntil { waiter.done })
        #expect(waiter.error == nil)
        #expect(BSDLock.decode(LOCK_EX | LOCK_NB)?.0 == .exclusive)
        #expect(BSDLock.decode(LOCK_EX | LOCK_NB)?.wait == false)
        #expect(BSDLock.decode(LOCK_SH)?.wait == true)
        #expect(BSDLock.decode(0) == nil)
    }
}

/// What a test thread's lock call came to.
final class Outcome: Sendable {
    private let state = Mutex<(done: Bool, error: LockError?)>((false, nil))
    var done: Bool { state.withLock { $0.done } }
    var error: LockError? { state.withLock { $0.error } }
    func finish(_ error: LockError?) { state.withLock { $0 = (true, error) } }
}

final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
