public import Foundation
public import StorageCatalog

/// Whether an Availability Zone works. `failed` is set by `berth az fail` (emulator.md §Model: "An AZ
/// outage makes everything whose data or whose task lives only in that AZ unavailable until the AZ
/// recovers").
public enum AvailabilityZoneStatus: String, Codable, Sendable, CaseIterable {
    case available, failed
}

public struct AvailabilityZone: Sendable, Equatable, Codable {
    public var name: String
    public var status: AvailabilityZoneStatus
    /// The volumes whose data lives in this AZ (see `Volume.placement`), in id order.
    public var volumeIDs: [VolumeID]
}

/// Where a volume's data lives: what decides which AZs can mount it and which outages cut it off.
public enum VolumePlacement: Sendable, Equatable, Codable {
    /// One AZ: EBS ("repliziert innerhalb seiner Availability Zone", seed §Amazon Elastic Block Store
    /// (Amazon EBS)), FSx for Lustre (always single-AZ: AWS docs fsx/latest/LustreGuide/using-fsx-lustre.html),
    /// FSx single-AZ deployments and EFS One Zone (AWS docs: efs/latest/ug/storage-classes.html).
    case zonal(String)
    /// An FSx multi-AZ deployment: an active file server in the preferred AZ and a standby in another,
    /// failing over when the preferred AZ fails (AWS docs: fsx/latest/WindowsGuide/high-availability-multiAZ.html;
    /// OpenZFSGuide/availability-durability.html; ONTAPGuide/high-availability-AZ.html).
    case multiAZ(preferred: String, standby: String)
    /// EFS Standard: stored redundantly across the region's AZs (seed §Amazon Elastic File System (Amazon EFS);
    /// AWS docs: efs/latest/ug/storage-classes.html).
    case regional
}

/// One emulated volume or file system.
public struct Volume: Sendable, Equatable, Codable {
    public var id: VolumeID
    public var type: ServiceID
    public var name: String?
    /// The AZ given at creation: the home AZ, or the preferred AZ of a multi-AZ deployment. EFS Standard
    /// keeps it only as a record of where it was created.
    public var availabilityZone: String
    /// A multi-AZ deployment's standby AZ; nil otherwise.
    public var standbyAvailabilityZone: String?
    /// Provisioned size; nil for EFS, which is elastic.
    public var sizeGiB: Int?
    /// EFS only.
    public var storageClass: EFSStorageClass?
    /// FSx for Windows, OpenZFS and ONTAP only.
    public var deployment: Deployment?
    public var createdAt: Date
    public var fromSnapshot: SnapshotID?
    /// Type options that later issues add (e.g. an FSx for Lustre deployment or storage type), stored as
    /// one JSON object so that adding one needs no migration.
    public var options: [String: String]

    public var placement: VolumePlacement {
        if type == .efs { return storageClass == .oneZone ? .zonal(availabilityZone) : .regional }
        if let standbyAvailabilityZone { return .multiAZ(preferred: availabilityZone, standby: standbyAvailabilityZone) }
        return .zonal(availabilityZone)
    }

    /// The AZs holding the volume's data, out of the region's `zones`.
    public func dataZones(in zones: [String]) -> [String] {
        switch placement {
        case .zonal(let zone): [zone]
        case .multiAZ(let preferred, let standby): [preferred, standby]
        case .regional: zones
        }
    }

    /// What `df` shows for a mount; nil for elastic storage.
    public var capacityBytes: UInt64? { sizeGiB.map { UInt64($0) << 30 } }
}

/// The process serving a mount, identified so that a reused pid is not mistaken for it: the pid and the
/// process's start time in clock ticks after boot (`/proc/<pid>/stat` field 22, proc(5)).
public struct ServerProcess: Sendable, Hashable, Codable, CustomStringConvertible {
    public var pid: Int32
    public var startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    public var description: String { "pid \(pid)" }
}

/// One mount of a volume by one task (emulator.md §Model).
public struct VolumeAttachment: Sendable, Equatable, Codable {
    public var id: AttachmentID
    public var volumeID: VolumeID
    public var task: String
    /// The AZ the task runs in.
    public var availabilityZone: String
    public var readOnly: Bool
    public var platform: Platform
    public var server: ServerProcess
    /// Absolute and normalised (see `StateStore.attach`).
    public var mountpoint: String
    public var createdAt: Date
}

/// A volume with its current attachments.
public struct VolumeDescription: Sendable, Equatable {
    public var volume: Volume
    public var attachments: [VolumeAttachment]
}

public enum SnapshotState: String, Codable, Sendable, CaseIterable {
    /// EC2's snapshot states (AWS docs: AWSEC2/latest/APIReference/API_Snapshot.html).
    case pending, completed, error
}

/// A point-in-time copy of a volume; regional, so it outlives the volume and restores into any AZ
/// (emulator.md §Model). Its data lives in `<state>/snapshots/<id>/data`.
public struct Snapshot: Sendable, Equatable, Codable {
    public var id: SnapshotID
    public var volumeID: VolumeID
    public var name: String?
    /// The moment changes were paused: the snapshot holds exactly what was written before it.
    public var createdAt: Date
    public var state: SnapshotState
    /// The source volume's type and options: a restore makes a volume of the same type, at least as big.
    public var sourceType: ServiceID
    public var sourceAvailabilityZone: String
    public var sizeGiB: Int?
    public var storageClass: EFSStorageClass?
    public var deployment: Deployment?
    /// How the data was copied (reflink or copy), once completed.
    public var copyMethod: TreeCopier.Method?
    public var bytes: UInt64?
    public var files: Int?
    /// How long changes were paused for the copy.
    public var durationSeconds: Double?
    /// The process taking the snapshot: a pending snapshot whose process is gone is marked `error`
    /// (and its partial copy removed) the next time anyone uses the state. Nil in older state files,
    /// where a pending snapshot is taken to be abandoned.
    public var creator: ServerProcess?
    /// The volume's previous snapshot this one is incremental over (its unchanged files are shared).
    public var incrementalFrom: SnapshotID? = nil
    /// Bytes allocated to the files this snapshot copied rather than shared with `incrementalFrom`.
    public var ownBytes: UInt64? = nil
    /// Why a snapshot in state `error` failed, as EC2's `StateMessage` says it
    /// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html); nil otherwise, and for
    /// snapshots that failed before Berth recorded reasons.
    public var stateMessage: String? = nil
}
