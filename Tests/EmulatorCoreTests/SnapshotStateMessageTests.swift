import Foundation
import GRDB
import Glibc
import Testing
@testable import EmulatorCore

/// Why a snapshot failed: EC2's DescribeSnapshots gives a snapshot in state `error` a `StateMessage`
/// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html); Berth records one when
/// the copy fails and when its process is found gone, and a state made before it still opens.
@Suite(.serialized) struct SnapshotStateMessageTests {
    /// A pending snapshot whose recorded process is not running (the record names this process with
    /// another start time: a pid reused, or a process gone).
    @Test func aSnapshotWhoseCopyingProcessIsGoneSaysSo() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let (pending, _) = try store.beginSnapshot(of: volume.id, name: nil)
        #expect(try store.describeSnapshot(pending.id).stateMessage == nil, "a pending snapshot has no message")
        try store.pool.write { db in
            try db.execute(sql: "UPDATE snapshot SET creatorPid = ?, creatorStartTime = 1 WHERE id = ?",
                           arguments: [getpid(), pending.id.rawValue])
        }
        let failed = try store.describeSnapshot(pending.id)
        #expect(failed.state == .error)
        #expect(failed.stateMessage == "the process copying it (pid \(getpid())) is gone "
            + "(killed, crashed or the machine restarted); the copy was abandoned")
        // A reopened store reads it back, and a restore says why it is refused.
        #expect(try sandbox.store().describeSnapshot(pending.id).stateMessage == failed.stateMessage)
        let refusal = stateError { () throws(StateError) in
            try store.createVolume(type: .ebs, az: "us-east-1b", fromSnapshot: pending.id)
        }
        #expect(refusal?.description == "IncorrectState: \(pending.id) failed (state error): \(failed.stateMessage ?? ""); delete it and take another")
        #expect(throws: Never.self) { try store.deleteSnapshot(pending.id) }
    }

    /// A copy that fails (here: a mount could not preserve the point in time, as when the state
    /// directory's disk is full) leaves the snapshot `error` with the copy's error.
    @Test func aCopyThatFailsRecordsItsError() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        try Data(repeating: 7, count: 3 << 20).write(to: URL(fileURLWithPath: sandbox.stateDirectory.dataDirectory(volume.id) + "/big"))
        let shared = sandbox.stateDirectory.sharedDirectory(volume.id)
        var announced: Snapshot?
        let error = stateError { () throws(StateError) in
            try store.takeSnapshot(of: volume.id, allowReflink: false, whilePending: {
                // What a mount does when it cannot copy a chunk before a write.
                let table = directoryEntries(shared).first { $0.hasPrefix("pending.") && UInt64($0.dropFirst(8)) != nil }
                if let table, let pending = try? PendingSnapshotTable(path: shared + "/" + table) { pending.fail(ENOSPC) }
            }, atPointInTime: { announced = $0 }, failureLeavesError: true)
        }
        #expect(error != nil)
        let id = try #require(announced?.id)
        let failed = try store.describeSnapshot(id)
        #expect(failed.state == .error)
        #expect(failed.stateMessage == "the copy failed: a mount of the volume could not preserve the point in time's data "
            + "before changing it (No space left on device)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory.snapshotDirectory(id)), "its partial copy is gone")
    }

    /// A state directory whose database was made before snapshots had a `stateMessage` (every migration
    /// but the last) opens, gains the column, and keeps its snapshots, an `error` one without a message.
    @Test func aStateMadeBeforeStateMessagesOpensAndKeepsItsSnapshots() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let migrations = StateSchema.migrator.migrations
        try #require(migrations.last == "snapshots: why one failed (EC2's StateMessage)")
        // The layout a store makes, then a database as the previous Berth left it.
        _ = try sandbox.store()
        let database = sandbox.stateDirectory.databasePath
        for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) }
        do {
            let old = try DatabasePool(path: database)
            try StateSchema.migrator.migrate(old, upTo: migrations[migrations.count - 2])
            try old.write { db in
                try db.execute(sql: "INSERT INTO region (id, name) VALUES (1, 'us-east-1')")
                for (position, zone) in ["us-east-1a", "us-east-1b", "us-east-1c"].enumerated() {
                    try db.execute(sql: "INSERT INTO availabilityZone (name, position, status, statusChangedAt) VALUES (?, ?, 'available', 0)",
                                   arguments: [zone, position])
                }
                try db.execute(sql: """
                    INSERT INTO snapshot (id, volumeID, createdAt, state, sourceType, sourceAvailabilityZone)
                    VALUES ('snap-0123456789abcdef0', 'vol-0123456789abcdef0', 0, 'error', 'ebs', 'us-east-1a')
                    """)
                #expect(try !db.columns(in: "snapshot").map(\.name).contains("stateMessage"))
            }
        }
        let store = try sandbox.store()
        let snapshots = try store.listSnapshots()
        #expect(snapshots.map(\.id.rawValue) == ["snap-0123456789abcdef0"])
        #expect(snapshots.first?.state == .error && snapshots.first?.stateMessage == nil)
        let refusal = stateError { () throws(StateError) in
            try store.createVolume(type: .ebs, az: "us-east-1b", fromSnapshot: try SnapshotID(parsing: "snap-0123456789abcdef0"))
        }
        #expect(refusal?.description.contains("the process taking it stopped before it completed") == true, "\(String(describing: refusal))")
        // New failures get their message.
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let (pending, _) = try store.beginSnapshot(of: volume.id, name: nil)
        try store.failSnapshot(pending.id, reason: "the copy failed: test\nsecond line")
        #expect(try store.describeSnapshot(pending.id).stateMessage == "the copy failed: test second line")
    }
}
