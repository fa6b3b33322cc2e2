import Foundation
import GRDB
public import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// Attachments (mounts): who may attach what from where, detaching, reaping, and the intents that let
/// an interrupted create or delete be finished.
extension StateStore {
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
    static func finishInterruptedChanges(_ db: Database, directory: StateDirectory) throws(StateError) {
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


    static func validateTask(_ task: String) throws(StateError) -> String {
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
}
