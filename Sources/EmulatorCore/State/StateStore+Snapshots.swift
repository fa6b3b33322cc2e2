public import Foundation
import GRDB
import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// Snapshots: begin, complete, list, delete, and what a restore may become.
extension StateStore {
    public func listSnapshots() throws(StateError) -> [Snapshot] {
        try decide { db throws(StateError) in
            try Self.attempt { try SnapshotRecord.order(Column("createdAt"), Column.rowID).fetchAll(db) }.map(\.snapshot)
        }
    }

    public func describeSnapshot(_ id: SnapshotID) throws(StateError) -> Snapshot {
        try decide { db throws(StateError) in try Self.snapshot(db, id) }
    }

    /// Records a `pending` snapshot of a volume whose data is reachable (not while every AZ holding it is
    /// down: AWS cannot read it either), with the volume's live attachments, whose servers must pause their
    /// changes before the copy (`takeSnapshot`).
    public func beginSnapshot(of volumeID: VolumeID, name: String?) throws(StateError) -> (Snapshot, [VolumeAttachment]) {
        let name = try VolumeOptions.validateName(name)
        return try decide { db throws(StateError) in
            let volume = try Self.volume(db, volumeID)
            let zones = try Self.zones(db)
            try AttachmentRules.checkAvailable(
                volume, regionZones: zones.map(\.name), failedZones: Set(zones.filter { $0.status == .failed }.map(\.name)))
            if let lustre = volume.lustre, !lustre.hasBackups {
                throw .unsupportedOperation(
                    "\(volume.id) is a \(lustre.deployment.rawValue) FSx for Lustre file system, which has no backups (\(LustreOptionFacts.backedUp.source))")
            }
            let snapshot = Snapshot(
                id: SnapshotID.generate(), volumeID: volumeID, name: name, createdAt: Self.now(), state: .pending,
                sourceType: volume.type, sourceAvailabilityZone: volume.availabilityZone, sizeGiB: volume.sizeGiB,
                storageClass: volume.storageClass, deployment: volume.deployment, creator: ServerProcess.current)
            try Self.attempt { try SnapshotRecord(snapshot).insert(db) }
            return (snapshot, try Self.attachments(db, of: volumeID))
        }
    }

    /// Marks a pending snapshot completed, with when changes were paused and how the copy went.
    public func completeSnapshot(_ id: SnapshotID, pausedAt: Date, copy: TreeCopier.Report,
                                 durationSeconds: Double, incrementalFrom: SnapshotID? = nil) throws(StateError) -> Snapshot {
        try decide { db throws(StateError) in
            var snapshot = try Self.snapshot(db, id)
            snapshot.state = .completed
            snapshot.createdAt = pausedAt
            snapshot.copyMethod = copy.method
            snapshot.bytes = copy.bytes
            snapshot.files = copy.files
            snapshot.durationSeconds = durationSeconds
            snapshot.incrementalFrom = incrementalFrom
            snapshot.ownBytes = copy.ownBytes
            try Self.attempt { try SnapshotRecord(snapshot).update(db) }
            try StateMetadata.write(SnapshotMetadata(snapshot: SnapshotRecord(snapshot).snapshot),
                                    to: StateMetadata.snapshotPath(directory, id))
            return snapshot
        }
    }

    /// Marks a pending snapshot `error` (its taking failed) with why (`stateMessage`, EC2's StateMessage)
    /// and removes its partial data; the record stays until deleted, as EC2 keeps a snapshot that failed.
    public func failSnapshot(_ id: SnapshotID, reason: String) throws(StateError) {
        try directory.checkSnapshotDirectories(id)
        try decide { db throws(StateError) in
            var snapshot = try Self.snapshot(db, id)
            guard snapshot.state == .pending else { return }
            snapshot.state = .error
            snapshot.stateMessage = reason.split(whereSeparator: \.isNewline).joined(separator: " ")
            try Self.attempt { try SnapshotRecord(snapshot).update(db) }
        }
        try? TreeRemover.removeTree(at: directory.snapshotDirectory(id))
    }

    /// Deletes a snapshot and its data. Refused while it is still being taken (`IncorrectState`).
    @discardableResult
    public func deleteSnapshot(_ id: SnapshotID, evenIfPending: Bool = false) throws(StateError) -> Snapshot {
        try directory.checkSnapshotDirectories(id)
        let snapshot = try decide { db throws(StateError) in
            let snapshot = try Self.snapshot(db, id)
            if snapshot.state == .pending && !evenIfPending { throw .snapshotPending(id) }
            let clones = try Self.attempt { try VolumeRecord.order(Column("id")).fetchAll(db) }.map(\.volume)
                .filter { $0.cloneOf == id }.map(\.id)
            if !clones.isEmpty { throw .snapshotHasClones(id, clones: clones) }
            _ = try Self.attempt { try SnapshotRecord.deleteOne(db, key: id.rawValue) }
            try Self.insertIntent(db, id.rawValue, .snapshot, .deleting)
            return snapshot
        }
        try removeAndDropIntent(directory.snapshotDirectory(id), id: id.rawValue)
        return snapshot
    }

    /// The volume's latest completed snapshot with a manifest: what the next one is incremental over.
    func incrementalBaseline(of volumeID: VolumeID) throws(StateError) -> (SnapshotID, TreeCopier.Baseline)? {
        let snapshots = try decide { db throws(StateError) in
            try Self.attempt {
                try SnapshotRecord.filter(Column("volumeID") == volumeID.rawValue && Column("state") == SnapshotState.completed.rawValue)
                    .order(Column("createdAt").desc).fetchAll(db)
            }.map(\.snapshot)
        }
        for snapshot in snapshots {
            let path = directory.snapshotDirectory(snapshot.id)
            if let manifest = SnapshotManifest.read(path: path + "/" + SnapshotManifest.fileName) {
                return (snapshot.id, TreeCopier.Baseline(root: path + "/data", manifest: manifest))
            }
        }
        return nil
    }

    static func snapshot(_ db: Database, _ id: SnapshotID) throws(StateError) -> Snapshot {
        guard let record = try attempt({ try SnapshotRecord.fetchOne(db, key: id.rawValue) }) else {
            throw .snapshotNotFound(id)
        }
        return record.snapshot
    }

    /// Fills a new volume's data directory from a snapshot: a restore copies (reflinks where it can); an
    /// FSx for OpenZFS clone links the snapshot's files and copies each on first use (`CloneSharing`),
    /// so it is ready at once whatever the data's size. Where links cannot be made (another file
    /// system), the clone is a copy.
    static func fill(_ data: String, from snapshotData: String, clone: Bool, sharedDirectory: String) throws {
        if clone {
            do {
                let report = try TreeCopier(linkRegularFiles: true).copyTree(from: snapshotData, to: data)
                var info = stat()
                guard stat(snapshotData, &info) == 0 else {
                    throw TreeCopier.CopyError(path: snapshotData, operation: "stat", errno: errno)
                }
                try CloneSharing.record(device: UInt64(info.st_dev), inodes: report.linkedInodes,
                                        sharedStateDirectory: sharedDirectory)
                return
            } catch let error as TreeCopier.CopyError where error.errno == EXDEV || error.errno == EPERM || error.errno == EMLINK {
                try? TreeRemover.removeTree(at: data)
            }
        }
        _ = try TreeCopier().copyTree(from: snapshotData, to: data)
    }

    /// A restore makes a volume of the snapshot's type (EBS snapshots restore to EBS volumes; FSx and EFS
    /// backups to file systems of their type: AWS docs ebs/latest/userguide/ebs-restoring-volume.html,
    /// fsx/latest/WindowsGuide/using-backups.html), at least as big as the source, by default its size.
    static func restoredSize(_ snapshot: Snapshot, type: ServiceID, requested: Int?) throws(StateError) -> Int? {
        guard snapshot.state == .completed else {
            throw snapshot.state == .error ? .snapshotFailed(snapshot.id, reason: snapshot.stateMessage) : .snapshotPending(snapshot.id)
        }
        guard snapshot.sourceType == type else {
            throw .invalidParameter("\(snapshot.id) is a snapshot of a \(snapshot.sourceType.rawValue) volume; it restores to \(snapshot.sourceType.rawValue), not \(type.rawValue)")
        }
        guard let source = snapshot.sizeGiB else { return requested }
        guard let requested else { return source }
        guard requested >= source else {
            throw .invalidParameter("--size-gib \(requested) is smaller than \(snapshot.id)'s source volume (\(source) GiB)")
        }
        return requested
    }
}
