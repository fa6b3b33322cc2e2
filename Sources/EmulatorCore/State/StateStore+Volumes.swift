import Foundation
import GRDB
public import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// Volumes: create (empty or from a snapshot), list, describe, delete.
extension StateStore {
    // MARK: Volumes

    /// Creates a volume of `type` in `az` and its directories; returns it with its new id.
    ///
    /// Sizes: `sizeGiB` must lie in the catalogue's range for the service (`Catalog.facts(type).capacityGiB`);
    /// when absent, EBS gets 20 GiB (Berth's choice: ECS-managed EBS has no default size, AWS docs
    /// AmazonECS/latest/developerguide/ebs-volumes.html) and each FSx type its catalogue minimum. EFS is
    /// elastic and takes no size. EFS defaults to the Standard storage class; FSx for Windows, OpenZFS and
    /// ONTAP to a single-AZ deployment. A multi-AZ deployment's standby is `standbyAZ`, else the next
    /// available AZ after `az` in the region's order.
    public func createVolume(
        type: ServiceID, az: String, sizeGiB: Int? = nil, name: String? = nil,
        storageClass: EFSStorageClass? = nil, deployment: Deployment? = nil, fromSnapshot: SnapshotID? = nil,
        standbyAZ: String? = nil, lustre: LustreConfiguration? = nil
    ) throws(StateError) -> Volume {
        var options = try VolumeOptions.validate(
            type: type, sizeGiB: sizeGiB, name: name, storageClass: storageClass, deployment: deployment, standbyAZ: standbyAZ,
            lustre: lustre)
        // A restore copies from the snapshot's own directory, never through a link planted in its place.
        if let fromSnapshot { try directory.checkSnapshotDirectories(fromSnapshot) }
        let id = VolumeID.generate(for: type)
        let volumeDirectory = directory.volumeDirectory(id)
        // Recorded and committed before any directory is made: if this process is killed before the
        // volume's record commits, the next command finds the intent with its process gone and removes the
        // directory (`finishInterruptedChanges`). No other directory is ever removed for lack of a record.
        try recordIntent(id.rawValue, .volume, .creating)
        var madeDirectories = false
        do {
            return try decide { db throws(StateError) in
                let zones = try Self.zones(db)
                try Self.requireUsableZone(az, zones: zones, region: region)
                var standby: String?
                if options.deployment == .multiAZ {
                    standby = try Self.standbyZone(requested: standbyAZ, preferred: az, zones: zones, region: region)
                }
                var size = options.sizeGiB
                var source: Snapshot?
                if let fromSnapshot {
                    let snapshot = try Self.snapshot(db, fromSnapshot)
                    size = try Self.restoredSize(snapshot, type: type, requested: sizeGiB) ?? size
                    source = snapshot
                    if let size, let lustre = options.lustre { try lustre.validate(sizeGiB: size) }
                    if type == .fsxOpenZFS { options.typeOptions[Volume.cloneOfKey] = snapshot.id.rawValue }
                }
                let volume = Volume(
                    id: id, type: type, name: options.name, availabilityZone: az, standbyAvailabilityZone: standby,
                    sizeGiB: size, storageClass: options.storageClass, deployment: options.deployment,
                    createdAt: Self.now(), fromSnapshot: fromSnapshot, options: options.typeOptions)
                // The directories are made inside the transaction, after every check, so a refusal touches
                // nothing on disk; if the insert or the commit fails they are removed below.
                madeDirectories = true
                try makeStateDirectory(volumeDirectory, mode: 0o700)
                if source == nil { try makeStateDirectory(directory.dataDirectory(id), mode: 0o755) }
                try makeStateDirectory(directory.sharedDirectory(id), mode: 0o700)
                if let source {
                    // The copier makes the data directory itself, with the snapshot root's mode and owner.
                    // Inside the transaction, so no one mounts a half-restored volume; a reflink copy is quick.
                    do {
                        try Self.fill(directory.dataDirectory(id), from: directory.snapshotDirectory(source.id) + "/data",
                                      clone: type == .fsxOpenZFS, sharedDirectory: directory.sharedDirectory(id))
                    } catch {
                        throw .storage("restoring \(source.id): \(error)")
                    }
                }
                try StateMetadata.write(VolumeMetadata(region: region.name, zones: region.zones, volume: volume),
                                        to: StateMetadata.volumePath(directory, id))
                try Self.attempt { try VolumeRecord(volume).insert(db) }
                _ = try Self.attempt { try DirectoryIntentRecord.deleteOne(db, key: id.rawValue) }
                return volume
            }
        } catch {
            // Without its directory the intent is dropped; if the directory stays, so does the intent, and the
            // next command removes both once this process has exited.
            if !madeDirectories || (try? TreeRemover.removeTree(at: volumeDirectory)) != nil
                || !FileManager.default.fileExists(atPath: volumeDirectory) {
                try? dropIntent(id.rawValue)
            }
            throw error
        }
    }

    /// Every volume with its attachments, in creation order.
    public func listVolumes() throws(StateError) -> [VolumeDescription] {
        try decide { db throws(StateError) in
            let volumes = try Self.attempt { try VolumeRecord.order(Column("createdAt"), Column.rowID).fetchAll(db) }
            let attachments = Dictionary(grouping: try Self.attachments(db), by: \.volumeID)
            return volumes.map { VolumeDescription(volume: $0.volume, attachments: attachments[$0.id] ?? []) }
        }
    }

    public func describeVolume(_ id: VolumeID) throws(StateError) -> VolumeDescription {
        try decide { db throws(StateError) in
            let volume = try Self.volume(db, id)
            return VolumeDescription(volume: volume, attachments: try Self.attachments(db, of: id))
        }
    }

    /// Deletes a volume that has no attachments, and its files. Refused while attached: EBS
    /// `VolumeInUse` (AWS docs: AWSEC2/latest/APIReference/API_DeleteVolume.html: "The volume must be in the
    /// available state (not attached to an instance)"); EFS and FSx `FileSystemInUse` by the same rule
    /// (efs/latest/ug/API_DeleteFileSystem.html: mount targets must be deleted first).
    @discardableResult
    public func deleteVolume(_ id: VolumeID) throws(StateError) -> Volume {
        try directory.checkVolumeDirectories(id, forDeletion: true)
        let volume = try decide { db throws(StateError) in
            let volume = try Self.volume(db, id)
            let attachments = try Self.attachments(db, of: id)
            guard attachments.isEmpty else { throw .volumeInUse(id, attachments: attachments) }
            _ = try Self.attempt { try VolumeRecord.deleteOne(db, key: id.rawValue) }
            // In the same commit as the record's deletion: a process killed before the directory is gone
            // leaves this intent, and the next command finishes the removal.
            try Self.insertIntent(db, id.rawValue, .volume, .deleting)
            return volume
        }
        // After the commit, with the deletion's intent recorded: what cannot be removed is reported with
        // the path that remains, and the intent stays, so the next command retries once this one exits.
        try removeAndDropIntent(directory.volumeDirectory(id), id: id.rawValue)
        return volume
    }
}
