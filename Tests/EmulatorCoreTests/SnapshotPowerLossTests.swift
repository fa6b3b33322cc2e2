import Foundation
import Glibc
import StorageCatalog
import Synchronization
import Testing
@testable import EmulatorCore

/// A power loss while a snapshot is `pending` does not change the snapshot: the undo journal
/// (`PowerLossJournal.apply`) changes the volume as a mount's own changes do, preserving for the pending
/// snapshot first (`SnapshotPreservation`), so the snapshot holds what was written before it, synced or
/// not, while the volume loses what was not synced. Without mounting; `SnapshotPowerLossMountTests`
/// does the same through real mounts.
@Suite(.serialized) struct SnapshotPowerLossTests {
    static let megabyte = 1 << 20

    final class Log: Sendable {
        let entries = Mutex<[String]>([])
        let stopped = Atomic<Bool>(false)
        func add(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    /// The undo runs as one change of the mount (`WriteFreeze.asOneChange`): it waits while a snapshot
    /// captures its point in time, and a snapshot's freeze requested while it runs waits for it.
    @Test func theUndoIsNeverHalfWayThroughASnapshotsPointInTime() throws {
        let shared = NSTemporaryDirectory() + "berth-freeze-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shared) }
        let freeze = try WriteFreeze(sharedStateDirectory: shared)
        let log = Log()
        let frozen = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        Thread {
            try? WriteFreeze.whileFrozen(sharedStateDirectory: shared, servers: []) {
                frozen.signal()
                usleep(300_000)
                log.add("captured")
            }
            done.signal()
        }.start()
        frozen.wait()
        freeze.asOneChange { log.add("undo") }
        done.wait()
        #expect(log.all == ["captured", "undo"], "the undo waited for the thaw")

        // This process as the volume's one mount server: a watcher acknowledges freezes.
        let undoing = DispatchSemaphore(value: 0), undone = DispatchSemaphore(value: 0)
        let watcher = Thread {
            while !log.stopped.load(ordering: .acquiring) {
                freeze.acknowledgeIfRequested()
                usleep(1000)
            }
        }
        watcher.start()
        defer { log.stopped.store(true, ordering: .releasing) }
        Thread {
            freeze.asOneChange {
                undoing.signal()
                usleep(300_000)
                log.add("undo 2")
            }
            undone.signal()
        }.start()
        undoing.wait()
        try WriteFreeze.whileFrozen(sharedStateDirectory: shared, servers: [getpid()]) { log.add("captured 2") }
        undone.wait()
        #expect(log.all.suffix(2) == ["undo 2", "captured 2"], "the freeze waited for the undo")
    }

    static func key(_ fd: Int32) -> InodeKey {
        var st = stat()
        fstat(fd, &st)
        return InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    static func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map(Array.init) }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    @Test func theUndoOfAPowerLossPreservesForAPendingSnapshot() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 1)
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        let shared = sandbox.stateDirectory.sharedDirectory(volume.id)
        // Durable before the journal starts: A (3 MiB), a file to rename, a directory.
        let a = (0..<(3 * Self.megabyte)).map { UInt8(truncatingIfNeeded: $0 % 251) }
        try Data(a).write(to: URL(fileURLWithPath: data + "/file"))
        try Data("renamed's data".utf8).write(to: URL(fileURLWithPath: data + "/old"))
        #expect(mkdir(data + "/d", 0o755) == 0)
        let journal = try PowerLossJournal(sharedStateDirectory: shared, name: PowerLossJournal.nextName(),
                                           rules: .forService(.ebs),
                                           preservation: try SnapshotPreservation(sharedStateDirectory: shared))
        let root = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let directory = open(data + "/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(root); close(directory) }

        // B, not synced: an overwrite across two chunks and an append; a new file with data in a
        // directory not synced; a rename.
        let file = open(data + "/file", O_RDWR | O_CLOEXEC)
        defer { close(file) }
        for (offset, length) in [(Self.megabyte - 100, Self.megabyte), (3 * Self.megabyte, 5000)] {
            let bytes = [UInt8](repeating: 0xBB, count: length)
            journal.willWrite(file, key: Self.key(file), offset: UInt64(offset), length: UInt64(length))
            #expect(pwrite(file, bytes, length, off_t(offset)) == length)
        }
        let mark = journal.beginCreate(Array("new".utf8), in: directory, key: Self.key(directory), flags: O_CREAT | O_EXCL)
        let new = openat(directory, "new", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        journal.finish(mark, succeeded: new >= 0)
        defer { close(new) }
        let newData = [UInt8](repeating: 0x4E, count: 2 * Self.megabyte + 1)
        journal.willWrite(new, key: Self.key(new), offset: 0, length: UInt64(newData.count))
        #expect(pwrite(new, newData, newData.count, 0) == newData.count)
        let rename = journal.beginRename(Array("old".utf8), in: root, key: Self.key(root), to: Array("renamed".utf8),
                                         in: root, newKey: Self.key(root), flags: [])
        journal.finish(rename, succeeded: renameat(root, "old", root, "renamed") == 0)
        let b = try #require(Self.contents(data + "/file"))
        #expect(b != a && b.count == a.count + 5000)

        var outcome: PowerLossJournal.Outcome?
        let taken = try store.takeSnapshot(of: volume.id, allowReflink: false, whilePending: { outcome = journal.apply() })
        #expect(taken.mode == .copyBeforeWrite, "the copy ran while pending, after the power loss")
        #expect(outcome?.filesReverted == 2 && outcome?.namesReverted == 2 && outcome?.failures == 0, "\(String(describing: outcome))")
        #expect(taken.snapshot.state == .completed)

        // The volume lost what was not synced.
        #expect(contentDifference(Self.contents(data + "/file"), a) == "same")
        #expect(!Self.exists(data + "/d/new"))
        #expect(Self.contents(data + "/old") == Array("renamed's data".utf8) && !Self.exists(data + "/renamed"))
        // The snapshot, and a volume restored from it, hold the point in time.
        let restored = try store.createVolume(type: .ebs, az: "us-east-1b", fromSnapshot: taken.snapshot.id)
        for copy in [sandbox.stateDirectory.snapshotDirectory(taken.snapshot.id) + "/data", sandbox.stateDirectory.dataDirectory(restored.id)] {
            #expect(contentDifference(Self.contents(copy + "/file"), b) == "same", "\(copy)")
            #expect(contentDifference(Self.contents(copy + "/d/new"), newData) == "same", "\(copy)")
            #expect(Self.contents(copy + "/renamed") == Array("renamed's data".utf8) && !Self.exists(copy + "/old"), "\(copy)")
        }
    }
}

/// How `actual` differs from `expected`, in a line (a failed `#expect(a == b)` would print megabytes):
/// "same", "absent", or the lengths and the first differing offset.
private func contentDifference(_ actual: [UInt8]?, _ expected: [UInt8]) -> String {
    guard let actual else { return "absent" }
    if actual == expected { return "same" }
    let first = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(actual.count, expected.count)
    return "\(actual.count) bytes, \(expected.count) expected; first difference at offset \(first)"
}
