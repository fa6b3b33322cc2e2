import Foundation
import GRDB
import StorageCatalog

// The database rows, one record type per table. Internal: the public model (Model.swift) carries typed
// values (placement, platform, server process) and keeps GRDB out of EmulatorCore's public interface.
// Times are stored as whole milliseconds since 1970 (an INTEGER), and every `Date` the store hands out is
// made from such a count, so a value reads back exactly equal to the one returned when it was written.

func milliseconds(since1970 date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
func date(milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

struct RegionRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "region"
    var id = 1
    var name: String
}

struct ZoneRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "availabilityZone"
    var name: String
    var position: Int
    var status: AvailabilityZoneStatus
    var statusChangedAt: Int64

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let position = Column(CodingKeys.position)
    }
}

struct VolumeRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "volume"
    var id: VolumeID
    var type: ServiceID
    var name: String?
    var availabilityZone: String
    var standbyAvailabilityZone: String?
    var sizeGiB: Int?
    var storageClass: EFSStorageClass?
    var deployment: Deployment?
    var createdAt: Int64
    var fromSnapshot: SnapshotID?
    /// A JSON object (GRDB encodes a dictionary property as JSON text).
    var options: [String: String]

    init(_ volume: Volume) {
        id = volume.id
        type = volume.type
        name = volume.name
        availabilityZone = volume.availabilityZone
        standbyAvailabilityZone = volume.standbyAvailabilityZone
        sizeGiB = volume.sizeGiB
        storageClass = volume.storageClass
        deployment = volume.deployment
        createdAt = milliseconds(since1970: volume.createdAt)
        fromSnapshot = volume.fromSnapshot
        options = volume.options
    }

    var volume: Volume {
        Volume(id: id, type: type, name: name, availabilityZone: availabilityZone,
               standbyAvailabilityZone: standbyAvailabilityZone, sizeGiB: sizeGiB, storageClass: storageClass,
               deployment: deployment, createdAt: date(milliseconds: createdAt), fromSnapshot: fromSnapshot, options: options)
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
    }
}

struct AttachmentRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "attachment"
    var id: AttachmentID
    var volumeID: VolumeID
    var task: String
    var availabilityZone: String
    var readOnly: Bool
    var launchType: LaunchType
    var os: OperatingSystem
    var pid: Int32
    /// `/proc/<pid>/stat` field 22; fits an Int64 (clock ticks since boot).
    var processStartTime: Int64
    var mountpoint: String
    var createdAt: Int64

    init(_ attachment: VolumeAttachment) {
        id = attachment.id
        volumeID = attachment.volumeID
        task = attachment.task
        availabilityZone = attachment.availabilityZone
        readOnly = attachment.readOnly
        launchType = attachment.platform.launchType
        os = attachment.platform.os
        pid = attachment.server.pid
        processStartTime = Int64(clamping: attachment.server.startTime)
        mountpoint = attachment.mountpoint
        createdAt = milliseconds(since1970: attachment.createdAt)
    }

    var attachment: VolumeAttachment {
        VolumeAttachment(id: id, volumeID: volumeID, task: task, availabilityZone: availabilityZone, readOnly: readOnly,
                   platform: Platform(os: os, launchType: launchType),
                   server: ServerProcess(pid: pid, startTime: UInt64(clamping: processStartTime)),
                   mountpoint: mountpoint, createdAt: date(milliseconds: createdAt))
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let volumeID = Column(CodingKeys.volumeID)
        static let mountpoint = Column(CodingKeys.mountpoint)
        static let createdAt = Column(CodingKeys.createdAt)
    }
}

struct SnapshotRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "snapshot"
    var id: SnapshotID
    /// No foreign key: snapshots are regional and outlive their volume (emulator.md §Model).
    var volumeID: VolumeID
    var name: String?
    var createdAt: Int64
    var state: SnapshotState
    // v2: what a restore needs to know of the source volume, and how the copy was made.
    var sourceType: ServiceID?
    var sourceAvailabilityZone: String?
    var sizeGiB: Int?
    var storageClass: EFSStorageClass?
    var deployment: Deployment?
    var copyMethod: String?
    var bytes: Int64?
    var files: Int?
    var durationMilliseconds: Int64?
    // v3: the process taking it.
    var creatorPid: Int32?
    var creatorStartTime: Int64?
    // snapshots: incremental
    var incrementalFrom: SnapshotID?
    var ownBytes: Int64?
    // snapshots: why one failed
    var stateMessage: String?

    init(_ snapshot: Snapshot) {
        id = snapshot.id
        volumeID = snapshot.volumeID
        name = snapshot.name
        createdAt = milliseconds(since1970: snapshot.createdAt)
        state = snapshot.state
        sourceType = snapshot.sourceType
        sourceAvailabilityZone = snapshot.sourceAvailabilityZone
        sizeGiB = snapshot.sizeGiB
        storageClass = snapshot.storageClass
        deployment = snapshot.deployment
        copyMethod = snapshot.copyMethod?.rawValue
        bytes = snapshot.bytes.map { Int64(clamping: $0) }
        files = snapshot.files
        durationMilliseconds = snapshot.durationSeconds.map { Int64(($0 * 1000).rounded()) }
        creatorPid = snapshot.creator?.pid
        creatorStartTime = snapshot.creator.map { Int64(clamping: $0.startTime) }
        incrementalFrom = snapshot.incrementalFrom
        ownBytes = snapshot.ownBytes.map { Int64(clamping: $0) }
        stateMessage = snapshot.stateMessage
    }

    var snapshot: Snapshot {
        Snapshot(id: id, volumeID: volumeID, name: name, createdAt: date(milliseconds: createdAt), state: state,
                 sourceType: sourceType ?? .ebs, sourceAvailabilityZone: sourceAvailabilityZone ?? "", sizeGiB: sizeGiB,
                 storageClass: storageClass, deployment: deployment,
                 copyMethod: copyMethod.flatMap(TreeCopier.Method.init(rawValue:)),
                 bytes: bytes.map { UInt64(max(0, $0)) }, files: files,
                 durationSeconds: durationMilliseconds.map { Double($0) / 1000 },
                 creator: creatorPid.flatMap { pid in
                     creatorStartTime.map { ServerProcess(pid: pid, startTime: UInt64(clamping: $0)) }
                 },
                 incrementalFrom: incrementalFrom, ownBytes: ownBytes.map { UInt64(max(0, $0)) },
                 stateMessage: stateMessage)
    }
}

/// A directory being made or removed, recorded (and committed) before the change starts: the evidence the
/// next command needs to finish or undo what a killed process left half-way. Directories are removed only
/// when such a row says so and its process is gone (`StateStore.finishInterruptedChanges`).
struct DirectoryIntentRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "directoryIntent"
    enum Kind: String, Codable { case volume, snapshot }
    enum Action: String, Codable { case creating, deleting }
    /// The volume's or snapshot's id.
    var id: String
    var kind: Kind
    var action: Action
    var pid: Int32
    var processStartTime: Int64
    var createdAt: Int64

    var process: ServerProcess { ServerProcess(pid: pid, startTime: UInt64(clamping: processStartTime)) }
}

enum StateSchema {
    /// Append migrations; never edit one that has shipped.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: region, zones, volumes, attachments, snapshots") { db in
            try db.create(table: "region") { t in
                t.primaryKey("id", .integer).check { $0 == 1 }
                t.column("name", .text).notNull()
            }
            try db.create(table: "availabilityZone") { t in
                t.primaryKey("name", .text)
                t.column("position", .integer).notNull()
                t.column("status", .text).notNull().defaults(to: AvailabilityZoneStatus.available.rawValue)
                    .check { AvailabilityZoneStatus.allCases.map(\.rawValue).contains($0) }
                t.column("statusChangedAt", .integer).notNull()
            }
            try db.create(table: "volume") { t in
                t.primaryKey("id", .text)
                t.column("type", .text).notNull().check { ServiceID.allCases.map(\.rawValue).contains($0) }
                t.column("name", .text)
                t.column("availabilityZone", .text).notNull().references("availabilityZone")
                t.column("standbyAvailabilityZone", .text).references("availabilityZone")
                t.column("sizeGiB", .integer)
                t.column("storageClass", .text)
                t.column("deployment", .text)
                t.column("createdAt", .integer).notNull()
                t.column("fromSnapshot", .text)
                t.column("options", .jsonText).notNull().defaults(to: "{}")
            }
            try db.create(table: "attachment") { t in
                t.primaryKey("id", .text)
                // RESTRICT: a volume with attachments cannot be deleted, even by a buggy caller.
                t.column("volumeID", .text).notNull().indexed().references("volume", onDelete: .restrict)
                t.column("task", .text).notNull()
                t.column("availabilityZone", .text).notNull().references("availabilityZone")
                t.column("readOnly", .boolean).notNull()
                t.column("launchType", .text).notNull()
                t.column("os", .text).notNull()
                t.column("pid", .integer).notNull()
                t.column("processStartTime", .integer).notNull()
                // One mount per mount point.
                t.column("mountpoint", .text).notNull().unique()
                t.column("createdAt", .integer).notNull()
            }
            try db.create(table: "snapshot") { t in
                t.primaryKey("id", .text)
                t.column("volumeID", .text).notNull().indexed()
                t.column("name", .text)
                t.column("createdAt", .integer).notNull()
                t.column("state", .text).notNull()
            }
        }
        migrator.registerMigration("v2: snapshot source and copy details") { db in
            try db.alter(table: "snapshot") { t in
                t.add(column: "sourceType", .text)
                t.add(column: "sourceAvailabilityZone", .text)
                t.add(column: "sizeGiB", .integer)
                t.add(column: "storageClass", .text)
                t.add(column: "deployment", .text)
                t.add(column: "copyMethod", .text)
                t.add(column: "bytes", .integer)
                t.add(column: "files", .integer)
                t.add(column: "durationMilliseconds", .integer)
            }
        }
        migrator.registerMigration("v3: the process taking a snapshot") { db in
            try db.alter(table: "snapshot") { t in
                t.add(column: "creatorPid", .integer)
                t.add(column: "creatorStartTime", .integer)
            }
        }
        migrator.registerMigration("v4: directories being created or deleted") { db in
            try db.create(table: "directoryIntent") { t in
                t.primaryKey("id", .text)
                t.column("kind", .text).notNull()
                t.column("action", .text).notNull()
                t.column("pid", .integer).notNull()
                t.column("processStartTime", .integer).notNull()
                t.column("createdAt", .integer).notNull()
            }
        }
        FaultRecord.registerMigration(&migrator)
        migrator.registerMigration("snapshots: incremental over the previous one") { db in
            try db.alter(table: "snapshot") { t in
                t.add(column: "incrementalFrom", .text)
                t.add(column: "ownBytes", .integer)
            }
        }
        RunSchema.register(into: &migrator)
        // A state directory made before it gets the column, NULL for every snapshot it holds
        // (`SnapshotStateMessageTests.aStateMadeBeforeStateMessagesOpensAndKeepsItsSnapshots`).
        migrator.registerMigration("snapshots: why one failed (EC2's StateMessage)") { db in
            try db.alter(table: "snapshot") { t in
                t.add(column: "stateMessage", .text)
            }
        }
        return migrator
    }
}
