public import Foundation
import GRDB
public import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// The emulator's durable state: volumes, attachments, Availability Zones and snapshots in one SQLite
/// database (GRDB `DatabasePool`, WAL mode) under a `StateDirectory`.
///
/// Many `berth` processes use one state directory at once. Every operation is one `IMMEDIATE` transaction
/// (GRDB's `write`), so the checks and the change it decides on are atomic: of several processes racing for
/// the same EBS volume exactly one attaches, and a process killed half-way leaves the database as it was.
/// Processes waiting for the write lock wait (busy timeout) rather than fail.
///
/// Every operation first releases attachments whose serving process has died (see `ServerProcess`), in the
/// same transaction as its decision, and records them; the CLI collects them with `takeReapedAttachments()`
/// to clear their dead mount points (`DeadMounts.clear`).
public final class StateStore: Sendable {
    public let directory: StateDirectory
    /// The region and AZs stored in the database: the same for every process using this directory.
    public let region: RegionConfiguration
    let pool: DatabasePool
    private let reapLog = ReapLog()

    /// Opens (creating if needed) the state under `directory`. `region` applies on first use; later it must
    /// match what is stored or only add AZs to it. `busyTimeout` is how long to wait for another process's
    /// transaction.
    ///
    /// Refused (`StateError.unsafeStateDirectory`) when the directory or anything Berth keeps in it is not
    /// controlled by this user alone (see `StateDirectory.checkOwned`), and (`stateDatabaseLost`) when volume
    /// or snapshot data is present but the database is missing, empty or unreadable, unless
    /// `rebuildingLostDatabase` (`berth state repair`). Every opening makes the AZ flags agree with the
    /// database (a command killed between the two leaves them apart).
    public init(directory: StateDirectory, region requested: RegionConfiguration? = nil,
                busyTimeout: TimeInterval = 60, rebuildingLostDatabase: Bool = false) throws(StateError) {
        self.directory = directory
        try directory.prepareRoot()
        try directory.checkLayout()
        for path in [directory.volumesDirectory, directory.snapshotsDirectory] {
            try makeStateDirectory(path, mode: 0o700)
        }
        // Creating the database, switching it to WAL and migrating are not safe to race between processes
        // (GRDB's migrator reads the applied migrations before its write transaction), so opening is
        // serialised by an advisory lock on a file next to the database.
        let openLock = try FileLock(path: directory.lockPath)
        let present = StateInventory.dataPresent(directory)
        if !rebuildingLostDatabase, !present.isEmpty, StateInventory.databaseIsMissingOrEmpty(directory) {
            throw .stateDatabaseLost(StateInventory.lostMessage(directory, present: present, reason: "is missing or empty"))
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "berth-state"
        configuration.prepareDatabase { db in
            // WAL with synchronous=FULL: a committed attach survives power loss, not only a killed process.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: directory.databasePath, configuration: configuration)
            try StateSchema.migrator.migrate(pool)
        } catch {
            if !present.isEmpty {
                throw .stateDatabaseLost(StateInventory.lostMessage(directory, present: present, reason: "cannot be read (\(error))"))
            }
            throw .storage("cannot open \(directory.databasePath): \(error)")
        }
        region = try Self.write(pool) { db throws(StateError) in try Self.settleRegion(db, requested: requested, directory: directory) }
        openLock.unlock()  // on the error paths above, its deinit unlocks
        try reconcileZoneFlags()
    }

    /// The store for a command line: `--state-dir` or the environment's state directory, and the region
    /// from `BERTH_REGION`/`BERTH_AZS`.
    public convenience init(stateDirectoryFlag: String?, environment: [String: String]) throws(StateError) {
        try self.init(directory: StateDirectory.resolve(flag: stateDirectoryFlag, environment: environment),
                      region: RegionConfiguration.fromEnvironment(environment))
    }

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

    // MARK: Attachments

    /// Records one mount of `volumeID` by a task in `az`, served by process `pid` (default: this one) at
    /// `mountpoint`, after checking, in one transaction and in this order: the volume exists; the AZ exists
    /// and is not failed; the task's platform can get the service; the AZ rule; some AZ holding the data is
    /// up; exclusivity; the mount point is free. `task` defaults to a generated `t-…` id.
    ///
    /// `mountpoint` is stored with every symbolic link resolved (`mountpointForNewMount`), so that
    /// `detach(mountpoint:)` finds it by any spelling.
    @discardableResult
    public func attach(
        volumeID: VolumeID, az: String, task: String? = nil, readOnly: Bool = false,
        launchType: LaunchType = .ec2, os: OperatingSystem = .linux, pid: Int32? = nil, mountpoint: String
    ) throws(StateError) -> VolumeAttachment {
        let task = try task.map(Self.validateTask) ?? generateTaskID()
        let mountpoint = try mountpointForNewMount(mountpoint)
        // What is served must be the volume's own directory, not a link planted in its place.
        try directory.checkVolumeDirectories(volumeID)
        let processID = pid ?? getpid()
        guard let server = ServerProcess.identify(pid: processID) else {
            throw .invalidParameter("process \(processID), which is to serve the mount, is not running")
        }
        let platform = Platform(os: os, launchType: launchType)
        return try decide { db throws(StateError) in
            let volume = try Self.volume(db, volumeID)
            let zones = try Self.zones(db)
            try Self.requireUsableZone(az, zones: zones, region: region)
            try AttachmentRules.checkPlatform(volume.type, platform)
            try AttachmentRules.checkZone(volume, taskZone: az)
            try AttachmentRules.checkAvailable(
                volume, regionZones: zones.map(\.name), failedZones: Set(zones.filter { $0.status == .failed }.map(\.name)))
            try AttachmentRules.checkExclusivity(volume, existing: try Self.attachments(db, of: volumeID))
            if let occupant = try Self.attempt({
                try AttachmentRecord.filter(AttachmentRecord.Columns.mountpoint == mountpoint).fetchOne(db)
            }) {
                throw .invalidParameter("\(mountpoint) already serves \(occupant.volumeID) (\(occupant.id))")
            }
            let attachment = VolumeAttachment(
                id: AttachmentID.generate(), volumeID: volumeID, task: task, availabilityZone: az, readOnly: readOnly,
                platform: platform, server: server, mountpoint: mountpoint, createdAt: Self.now())
            try Self.attempt { try AttachmentRecord(attachment).insert(db) }
            return attachment
        }
    }

    /// Ends one attachment; returns it.
    @discardableResult
    public func detach(_ id: AttachmentID) throws(StateError) -> VolumeAttachment {
        try decide(alsoAccepting: { $0.id == id }) { db throws(StateError) in
            guard let record = try Self.attempt({ try AttachmentRecord.fetchOne(db, key: id.rawValue) }) else {
                throw .attachmentNotFound(id)
            }
            _ = try Self.attempt { try record.delete(db) }
            return record.attachment
        }
    }

    /// Ends the attachment mounted at `mountpoint` (any spelling of the path); returns it. If its server had
    /// died, the reaper has already released it and it is returned all the same.
    @discardableResult
    public func detach(mountpoint: String) throws(StateError) -> VolumeAttachment {
        let path = try canonicalMountpoint(mountpoint)
        return try decide(alsoAccepting: { $0.mountpoint == path }) { db throws(StateError) in
            guard let record = try Self.attempt({
                try AttachmentRecord.filter(AttachmentRecord.Columns.mountpoint == path).fetchOne(db)
            }) else { throw .noAttachmentAtMountpoint(path) }
            _ = try Self.attempt { try record.delete(db) }
            return record.attachment
        }
    }

    /// Every live attachment, oldest first.
    public func listAttachments() throws(StateError) -> [VolumeAttachment] {
        try decide { db throws(StateError) in try Self.attachments(db) }
    }

    /// Releases the attachments whose serving process has died, and finishes the directory changes
    /// (`DirectoryIntentRecord`) that a killed process left half-way; returns the released attachments (and
    /// records them for `takeReapedAttachments()` like every other operation does).
    @discardableResult
    public func reapStaleAttachments() throws(StateError) -> [VolumeAttachment] {
        var released: [VolumeAttachment] = []
        try decide(onReap: { released = $0 }) { db throws(StateError) in
            try Self.finishInterruptedChanges(db, directory: directory)
        }
        return released
    }

    /// Removes the directories whose intent row says they were being created or deleted by a process that
    /// is gone, and then the row: what a `volume create --from-snapshot` killed during its copy, or a
    /// `volume delete` killed before its directory was gone, leaves. Only on this evidence: a directory
    /// that no record names is left alone (`berth state check` reports it). Done inside a write
    /// transaction, so a creation that committed its volume meanwhile is seen.
    private static func finishInterruptedChanges(_ db: Database, directory: StateDirectory) throws(StateError) {
        let intents = try attempt { try DirectoryIntentRecord.fetchAll(db) }
        for intent in intents where !intent.process.isRunning {
            let path: String
            switch intent.kind {
            case .volume:
                guard let id = VolumeID(rawValue: intent.id) else { continue }
                // A creation whose record committed is complete; never remove a recorded volume's data.
                if intent.action == .creating, try attempt({ try VolumeRecord.fetchOne(db, key: id.rawValue) }) != nil {
                    _ = try attempt { try intent.delete(db) }
                    continue
                }
                guard (try? directory.checkVolumeDirectories(id)) != nil else { continue }
                path = directory.volumeDirectory(id)
            case .snapshot:
                guard let id = SnapshotID(rawValue: intent.id) else { continue }
                if try attempt({ try SnapshotRecord.fetchOne(db, key: id.rawValue) }) != nil { continue }
                guard (try? StateDirectory.checkExistingDirectory(directory.snapshotDirectory(id), what: "the directory of \(id)")) != nil
                else { continue }
                path = directory.snapshotDirectory(id)
            }
            guard (try? TreeRemover.removeTree(at: path)) != nil else { continue }
            _ = try attempt { try intent.delete(db) }
        }
    }

    /// Records, in its own committed transaction, that this process is about to create or delete the
    /// directory of `id`.
    func recordIntent(_ id: String, _ kind: DirectoryIntentRecord.Kind, _ action: DirectoryIntentRecord.Action) throws(StateError) {
        try decide { db throws(StateError) in try Self.insertIntent(db, id, kind, action) }
    }

    static func insertIntent(_ db: Database, _ id: String, _ kind: DirectoryIntentRecord.Kind,
                             _ action: DirectoryIntentRecord.Action) throws(StateError) {
        guard let me = ServerProcess.current else { throw .storage("cannot identify this process in /proc") }
        let intent = DirectoryIntentRecord(id: id, kind: kind, action: action, pid: me.pid,
                                           processStartTime: Int64(clamping: me.startTime),
                                           createdAt: milliseconds(since1970: Date()))
        try attempt { try intent.save(db) }
    }

    func dropIntent(_ id: String) throws(StateError) {
        try decide { db throws(StateError) in _ = try Self.attempt { try DirectoryIntentRecord.deleteOne(db, key: id) } }
    }

    /// Removes a directory whose deletion is recorded; drops the intent once it is gone (else the next
    /// command retries after this process exits).
    func removeAndDropIntent(_ path: String, id: String) throws(StateError) {
        try removeDeletedData(path, of: id)
        try? dropIntent(id)
    }

    /// The attachments this store released because their server died, since the last call: their mount
    /// points may be dead FUSE mounts for `DeadMounts.clear`.
    public func takeReapedAttachments() -> [VolumeAttachment] { reapLog.take() }

    // MARK: Availability Zones and snapshots

    /// The region's AZs in order, each with its status and the volumes whose data lives there.
    public func listAvailabilityZones() throws(StateError) -> [AvailabilityZone] {
        try decide { db throws(StateError) in
            let zones = try Self.zones(db)
            let volumes = try Self.attempt { try VolumeRecord.order(Column("id")).fetchAll(db) }.map(\.volume)
            return zones.map { zone in
                AvailabilityZone(
                    name: zone.name, status: zone.status,
                    volumeIDs: volumes.filter { $0.dataZones(in: zones.map(\.name)).contains(zone.name) }.map(\.id))
            }
        }
    }

    /// Marks an AZ failed or available again (`berth az fail|recover`). The AZ's shared flag, which every
    /// mount reads before each operation (`ZoneReachability`: cut-off mounts answer EIO), and the database
    /// (new volumes and mounts there are refused). A failure sets the flag first, so that the outage takes
    /// effect at once rather than after the database's commit, and again after it (a `syncZoneFlags` in
    /// between may have cleared it); a recovery commits first and then clears the flag. A failed commit
    /// puts the flag back.
    @discardableResult
    public func setAZFailed(_ zone: String, _ failed: Bool) throws(StateError) -> AvailabilityZone {
        guard region.zones.contains(zone) else { throw .zoneNotFound(zone, region: region.name, known: region.zones) }
        let flag = try zoneFlags().flag(zone)
        let before = flag?.isSet ?? false
        if failed { flag?.set(true) }
        do {
            let result = try recordAZStatus(zone, failed)
            flag?.set(failed)
            return result
        } catch {
            flag?.set(before)
            throw error
        }
    }

    /// The AZ flags, made to agree with the database (a process killed between the two leaves them apart).
    @discardableResult
    public func syncZoneFlags() throws(StateError) -> ZoneFlags {
        try reconcileZoneFlags()
        return try zoneFlags()
    }

    /// Makes every AZ's flag say what the database says, inside a write transaction, so that no `az fail`
    /// or `az recover` commits between reading a status and setting its flag (`setAZFailed` sets the flag
    /// again after its commit). Run by every opening of the store: a command killed between the flag and
    /// the commit leaves them apart only until the next command of any kind. A flag file that does not
    /// exist reads as clear; it is made only for a failed AZ, so reading commands change nothing.
    func reconcileZoneFlags() throws(StateError) {
        try Self.write(pool) { db throws(StateError) in
            for zone in try Self.zones(db) {
                let down = zone.status == .failed
                var info = stat()
                let path = directory.zoneFlagPath(zone.name)
                if !down && lstat(path, &info) != 0 && errno == ENOENT { continue }
                let flag = try ZoneFlags.open(directory: directory, zone: zone.name)
                if flag.isSet != down { flag.set(down) }
            }
        }
    }

    public func zoneFlags() throws(StateError) -> ZoneFlags {
        try ZoneFlags(directory: directory, zones: region.zones)
    }

    /// What decides whether a mount of `volume` by `attachment`'s task is cut off (`ZoneReachability`).
    public func reachability(of volume: Volume, for attachment: VolumeAttachment) throws(StateError) -> ZoneReachability {
        let flags = try syncZoneFlags()
        guard let task = flags.flag(attachment.availabilityZone) else {
            throw .zoneNotFound(attachment.availabilityZone, region: region.name, known: region.zones)
        }
        return ZoneReachability(taskZone: task, dataZones: volume.dataZones(in: region.zones).compactMap(flags.flag))
    }

    private func recordAZStatus(_ zone: String, _ failed: Bool) throws(StateError) -> AvailabilityZone {
        try decide { db throws(StateError) in
            guard var record = try Self.attempt({ try ZoneRecord.fetchOne(db, key: zone) }) else {
                throw .zoneNotFound(zone, region: region.name, known: region.zones)
            }
            let status: AvailabilityZoneStatus = failed ? .failed : .available
            if record.status != status {
                record.status = status
                record.statusChangedAt = milliseconds(since1970: Self.now())
                try Self.attempt { try record.update(db) }
            }
            let zones = try Self.zones(db).map(\.name)
            let volumes = try Self.attempt { try VolumeRecord.order(Column("id")).fetchAll(db) }.map(\.volume)
            return AvailabilityZone(name: zone, status: status,
                                    volumeIDs: volumes.filter { $0.dataZones(in: zones).contains(zone) }.map(\.id))
        }
    }

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
                                 durationSeconds: Double) throws(StateError) -> Snapshot {
        try decide { db throws(StateError) in
            var snapshot = try Self.snapshot(db, id)
            snapshot.state = .completed
            snapshot.createdAt = pausedAt
            snapshot.copyMethod = copy.method
            snapshot.bytes = copy.bytes
            snapshot.files = copy.files
            snapshot.durationSeconds = durationSeconds
            try Self.attempt { try SnapshotRecord(snapshot).update(db) }
            try StateMetadata.write(SnapshotMetadata(snapshot: SnapshotRecord(snapshot).snapshot),
                                    to: StateMetadata.snapshotPath(directory, id))
            return snapshot
        }
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

    private static func snapshot(_ db: Database, _ id: SnapshotID) throws(StateError) -> Snapshot {
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
            throw snapshot.state == .error ? .snapshotFailed(snapshot.id) : .snapshotPending(snapshot.id)
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

    // MARK: Transactions

    /// Runs `body` in one IMMEDIATE write transaction after releasing stale attachments in the same
    /// transaction. The released attachments are recorded only once the transaction has committed: a
    /// refused operation changes nothing, not even that. `alsoAccepting` lets a detach succeed for an
    /// attachment the reaper released a moment before.
    func decide<T>(
        alsoAccepting reapedMatch: ((VolumeAttachment) -> Bool)? = nil,
        onReap: (([VolumeAttachment]) -> Void)? = nil,
        _ body: (Database) throws(StateError) -> T
    ) throws(StateError) -> T {
        var reaped: [VolumeAttachment] = []
        var abandoned: [SnapshotID] = []
        let result: T = try Self.write(pool) { db throws(StateError) in
            reaped = try Self.reap(db)
            abandoned = try Self.failAbandonedSnapshots(db)
            do throws(StateError) {
                return try body(db)
            } catch {
                // A detach of an attachment that was just reaped: the reaping is the detach.
                if let reapedMatch, let match = reaped.first(where: reapedMatch), let value = match as? T { return value }
                throw error
            }
        }
        reapLog.append(reaped)
        onReap?(reaped)
        // Their partial copies are of no use; the records stay, in state error, until deleted (as EC2
        // keeps a snapshot that failed).
        for id in abandoned { try? TreeRemover.removeTree(at: directory.snapshotDirectory(id)) }
        return result
    }

    static func write<T>(_ pool: DatabasePool, _ body: (Database) throws(StateError) -> T) throws(StateError) -> T {
        do {
            return try pool.write { db in try body(db) }
        } catch let error as StateError {
            throw error
        } catch {
            throw .storage("state database: \(error)")
        }
    }

    /// Runs a GRDB call, turning its errors into `StateError.storage`.
    static func attempt<T>(_ call: () throws -> T) throws(StateError) -> T {
        do { return try call() } catch let error as StateError { throw error } catch {
            throw .storage("state database: \(error)")
        }
    }

    private static func reap(_ db: Database) throws(StateError) -> [VolumeAttachment] {
        let stale = try attachments(db).filter { !$0.server.isRunning }
        for attachment in stale {
            _ = try attempt { try AttachmentRecord.deleteOne(db, key: attachment.id.rawValue) }
        }
        return stale
    }

    /// Marks `error` the pending snapshots whose taking process is gone (killed, crashed); returns them.
    private static func failAbandonedSnapshots(_ db: Database) throws(StateError) -> [SnapshotID] {
        let pending = try attempt {
            try SnapshotRecord.filter(Column("state") == SnapshotState.pending.rawValue).fetchAll(db)
        }.map(\.snapshot)
        var failed: [SnapshotID] = []
        for var snapshot in pending {
            // No recorded taker: a state file from before takers were recorded, whose taking has long ended.
            if let creator = snapshot.creator, creator.isRunning { continue }
            snapshot.state = .error
            try attempt { try SnapshotRecord(snapshot).update(db) }
            failed.append(snapshot.id)
        }
        return failed
    }

    private static func volume(_ db: Database, _ id: VolumeID) throws(StateError) -> Volume {
        guard let record = try attempt({ try VolumeRecord.fetchOne(db, key: id.rawValue) }) else { throw .volumeNotFound(id) }
        return record.volume
    }

    private static func attachments(_ db: Database, of id: VolumeID? = nil) throws(StateError) -> [VolumeAttachment] {
        var request = AttachmentRecord.order(AttachmentRecord.Columns.createdAt, Column.rowID)
        if let id { request = request.filter(AttachmentRecord.Columns.volumeID == id.rawValue) }
        return try attempt { try request.fetchAll(db) }.map(\.attachment)
    }

    private static func zones(_ db: Database) throws(StateError) -> [ZoneRecord] {
        try attempt { try ZoneRecord.order(ZoneRecord.Columns.position).fetchAll(db) }
    }

    /// The AZ exists in the region (`InvalidZone.NotFound`) and is not failed (`IncorrectState`).
    private static func requireUsableZone(_ name: String, zones: [ZoneRecord], region: RegionConfiguration) throws(StateError) {
        guard let zone = zones.first(where: { $0.name == name }) else {
            throw .zoneNotFound(name, region: region.name, known: zones.map(\.name))
        }
        if zone.status == .failed { throw .zoneFailed(name) }
    }

    /// A multi-AZ deployment needs a standby in a second AZ (AWS docs:
    /// fsx/latest/WindowsGuide/high-availability-multiAZ.html: "a standby file server in a different
    /// Availability Zone").
    private static func standbyZone(
        requested: String?, preferred: String, zones: [ZoneRecord], region: RegionConfiguration
    ) throws(StateError) -> String {
        if let requested {
            try requireUsableZone(requested, zones: zones, region: region)
            guard requested != preferred else {
                throw .invalidParameter("the standby AZ of a multi-AZ deployment must differ from its preferred AZ \(preferred)")
            }
            return requested
        }
        guard let start = zones.firstIndex(where: { $0.name == preferred }) else {
            throw .zoneNotFound(preferred, region: region.name, known: zones.map(\.name))
        }
        let rotated = zones[(start + 1)...] + zones[..<start]
        guard let next = rotated.first(where: { $0.status == .available }) else {
            throw .invalidParameter("a multi-AZ deployment needs a second available AZ; \(region.name) has no other than \(preferred)")
        }
        return next.name
    }

    /// Stores the region on first use; afterwards accepts the same configuration, or the same region with
    /// AZs added, and refuses anything else (volumes and attachments name their AZs).
    private static func settleRegion(
        _ db: Database, requested: RegionConfiguration?, directory: StateDirectory
    ) throws(StateError) -> RegionConfiguration {
        let storedName = try attempt { try RegionRecord.fetchOne(db) }?.name
        let storedZones = try zones(db).map(\.name)
        guard let storedName else {
            let configuration = requested ?? .default
            try attempt { try RegionRecord(name: configuration.name).insert(db) }
            for (position, zone) in configuration.zones.enumerated() {
                try attempt {
                    try ZoneRecord(name: zone, position: position, status: .available, statusChangedAt: milliseconds(since1970: now())).insert(db)
                }
            }
            return configuration
        }
        let stored = try RegionConfiguration(name: storedName, zones: storedZones)
        guard let requested, requested != stored else { return stored }
        guard requested.name == stored.name, Set(stored.zones).isSubset(of: requested.zones) else {
            throw .regionMismatch(stateDirectory: directory.path, stored: stored, requested: requested)
        }
        for zone in requested.zones where !stored.zones.contains(zone) {
            let position = try attempt { try ZoneRecord.fetchCount(db) }
            try attempt {
                try ZoneRecord(name: zone, position: position, status: .available, statusChangedAt: milliseconds(since1970: now())).insert(db)
            }
        }
        return try RegionConfiguration(name: stored.name, zones: zones(db).map(\.name))
    }

    private static func validateTask(_ task: String) throws(StateError) -> String {
        guard !task.isEmpty, task.utf8.count <= 255,
              task.unicodeScalars.allSatisfy({ !$0.properties.isWhitespace && $0.properties.generalCategory != .control })
        else { throw .invalidParameter("a task id is 1 to 255 characters without spaces or control characters") }
        return task
    }

    /// The form mount points are stored and compared in: absolute, with every symbolic link resolved
    /// (`MountpointRules.resolve`). Refuses `/` and paths inside the state directory, whose data a mount
    /// must never cover or expose.
    public func canonicalMountpoint(_ path: String) throws(StateError) -> String {
        guard !path.isEmpty else { throw .invalidParameter("the mount point is empty") }
        let resolved = MountpointRules.resolve(path)
        if let refusal = MountpointRules.refusal(mounting: resolved, stateDirectory: directory, berthMounts: []) {
            throw .invalidParameter(refusal)
        }
        return resolved
    }

    /// Like `canonicalMountpoint`, for a new mount: also refused on or inside another Berth mount.
    public func mountpointForNewMount(_ path: String) throws(StateError) -> String {
        let resolved = try canonicalMountpoint(path)
        if let refusal = MountpointRules.refusal(mounting: resolved, stateDirectory: directory) {
            throw .invalidParameter(refusal)
        }
        return resolved
    }

    /// Now, to the millisecond the database keeps.
    private static func now() -> Date { date(milliseconds: milliseconds(since1970: Date())) }
}

/// Checks `createVolume`'s options against the service's facts before anything is touched.
struct VolumeOptions {
    var sizeGiB: Int?
    var name: String?
    var storageClass: EFSStorageClass?
    var deployment: Deployment?
    var lustre: LustreConfiguration?
    /// What goes into `Volume.options`.
    var typeOptions: [String: String] = [:]

    /// Berth's default EBS size: ECS-managed EBS volumes have none (AWS docs:
    /// AmazonECS/latest/developerguide/ebs-volumes.html requires `sizeInGiB` or a snapshot).
    static let defaultEBSSizeGiB = 20

    /// EC2's Name tag: at most 256 characters (AWS docs: AWSEC2/latest/UserGuide/Using_Tags.html).
    static func validateName(_ name: String?) throws(StateError) -> String? {
        guard let name else { return nil }
        guard !name.isEmpty, name.count <= 256, name.contains(where: { !$0.isWhitespace }),
              name.unicodeScalars.allSatisfy({ $0.properties.generalCategory != .control }) else {
            throw .invalidParameter("a name is 1 to 256 characters, not only spaces, without control characters")
        }
        return name
    }

    static func validate(
        type: ServiceID, sizeGiB: Int?, name: String?, storageClass: EFSStorageClass?, deployment: Deployment?,
        standbyAZ: String?, lustre: LustreConfiguration? = nil
    ) throws(StateError) -> VolumeOptions {
        let facts = Catalog.facts(type)
        var options = VolumeOptions(name: try validateName(name))
        if let range = facts.capacityGiB {
            let size = sizeGiB ?? (type == .ebs ? defaultEBSSizeGiB : range.value.lowerBound)
            guard range.value.contains(size) else {
                throw .invalidParameter(
                    "\(type) volumes are \(range.value.lowerBound) to \(range.value.upperBound) GiB, not \(size) (\(range.source))")
            }
            options.sizeGiB = size
        } else if let sizeGiB {
            throw .invalidParameter("\(type) is elastic and takes no size (--size-gib \(sizeGiB)) (\(facts.elastic.source))")
        }
        if type == .efs {
            options.storageClass = storageClass ?? .standard
        } else if let storageClass {
            throw .invalidParameter("--storage-class \(storageClass.rawValue) applies to efs only, not \(type)")
        }
        if facts.deployments.isEmpty {
            if let deployment {
                let why = facts.zones.value == .singleAZ ? "it is always single-AZ" : "it has storage classes instead"
                throw .invalidParameter("\(type) has no deployment choice (--deployment \(deployment.rawValue)): \(why) (\(facts.zones.source))")
            }
        } else {
            let chosen = deployment ?? .singleAZ
            guard facts.deployments.contains(chosen) else {
                throw .invalidParameter("\(type) offers no \(chosen.rawValue) deployment (\(facts.zones.source))")
            }
            options.deployment = chosen
        }
        if standbyAZ != nil && options.deployment != .multiAZ {
            throw .invalidParameter("a standby AZ applies to multi-az deployments only")
        }
        if type == .fsxLustre {
            let chosen = lustre ?? LustreConfiguration()
            try chosen.validate(sizeGiB: options.sizeGiB ?? 0)
            options.lustre = chosen
            options.typeOptions = chosen.options
        } else if lustre != nil {
            throw .invalidParameter("--lustre-deployment, --storage-type and --read-cache-gib apply to fsx-lustre only, not \(type)")
        }
        return options
    }
}

/// Attachments released by the reaper, kept until the CLI takes them.
private final class ReapLog: @unchecked Sendable {
    // @unchecked: every access to `entries` holds `lock`.
    private let lock = NSLock()
    private var entries: [VolumeAttachment] = []

    func append(_ attachments: [VolumeAttachment]) {
        guard !attachments.isEmpty else { return }
        lock.withLock { entries += attachments }
    }

    func take() -> [VolumeAttachment] {
        lock.withLock {
            defer { entries = [] }
            return entries
        }
    }
}

/// An exclusive advisory lock (flock) on a file, held until `unlock`. flock locks belong to the open file
/// description, so two opens in one process exclude each other just as two processes do.
struct FileLock: ~Copyable {
    private let descriptor: Int32

    init(path: String) throws(StateError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .storage("cannot open \(path): \(String(cString: strerror(errno)))") }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let message = String(cString: strerror(errno))
                close(descriptor)
                throw .storage("cannot lock \(path): \(message)")
            }
        }
        self.descriptor = descriptor
    }

    consuming func unlock() {
        close(descriptor)
        discard self
    }

    deinit { close(descriptor) }
}

