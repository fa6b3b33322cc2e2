public import Foundation
public import StorageCatalog

/// Why the state layer refused an operation. Each refusal names the AWS error it stands for
/// (`awsErrorName`) and says the facts behind it, in the contract's form
/// `VolumeInUse: vol-0a1b… is attached to task t-1 in us-east-1a` (emulator.md §Commands).
/// A refused operation has changed nothing: every check runs inside the transaction that would have made
/// the change.
public enum StateError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// Not `vol-`/`fs-` and 17 hex digits. EC2: `InvalidVolumeID.Malformed`
    /// (AWS docs: AWSEC2/latest/APIReference/errors-overview.html).
    case malformedVolumeID(String)
    /// EC2: `InvalidSnapshotID.Malformed` (errors-overview.html).
    case malformedSnapshotID(String)
    case malformedAttachmentID(String)
    /// EC2: `InvalidVolume.NotFound`; EFS and FSx: `FileSystemNotFound`
    /// (AWS docs: efs/latest/ug/API_DescribeFileSystems.html; fsx/latest/APIReference/API_DescribeFileSystems.html).
    case volumeNotFound(VolumeID)
    /// EC2: `InvalidSnapshot.NotFound`.
    case snapshotNotFound(SnapshotID)
    /// EC2: `InvalidAttachment.NotFound` ("the specified network interface attachment does not exist"), the
    /// nearest AWS name for a mount Berth does not know.
    case attachmentNotFound(AttachmentID)
    case noAttachmentAtMountpoint(String)
    /// EC2: `InvalidZone.NotFound`, "the specified Availability Zone does not exist" (errors-overview.html).
    case zoneNotFound(String, region: String, known: [String])
    /// The AZ is failed (`berth az fail`): nothing new is made or mounted there until it recovers
    /// (emulator.md §Common to all). EC2: `IncorrectState`.
    case zoneFailed(String)
    /// Every AZ holding the volume's data is failed. EC2: `IncorrectState`.
    case volumeUnavailable(VolumeID, dataZones: [String])
    /// The volume is attached (EBS attach: `VolumeInUse`, EC2 errors-overview.html), or a volume with
    /// attachments is being deleted (EBS: `VolumeInUse`; EFS and FSx: `FileSystemInUse`).
    case volumeInUse(VolumeID, attachments: [VolumeAttachment])
    /// The task's AZ cannot reach a volume that lives in one AZ. EC2: `InvalidVolume.ZoneMismatch`.
    case zoneMismatch(VolumeID, type: ServiceID, volumeZone: String, taskZone: String)
    /// EFS One Zone mounted from another AZ: ECS's `efsVolumeConfiguration` has no AZ option, so the
    /// task's mount helper finds no mount target in its own AZ and the task stops with
    /// `ResourceInitializationError` (see `AttachmentRules` for the source and why this is an inference).
    case oneZoneMountTargetMissing(VolumeID, volumeZone: String, taskZone: String)
    /// The task's platform cannot get this service, per `Catalog.support(_:on:)`. ECS and EC2:
    /// `UnsupportedOperation`.
    case unsupportedPlatform(ServiceID, Platform, reason: String, source: Source)
    /// The service does not offer this for this resource (e.g. a backup of a scratch FSx for Lustre
    /// file system). FSx and EC2: `UnsupportedOperation`.
    case unsupportedOperation(String)
    /// An FSx for OpenZFS snapshot that clones still depend on cannot be deleted. FSx: `BadRequest`.
    case snapshotHasClones(SnapshotID, clones: [VolumeID])
    /// A snapshot still being taken cannot be restored or deleted.
    case snapshotPending(SnapshotID)
    /// A snapshot whose taking stopped before it completed (state `error`) cannot be restored; `reason`
    /// is its `stateMessage` (nil for one that failed before reasons were recorded).
    case snapshotFailed(SnapshotID, reason: String?)
    /// A parameter out of range or not applicable; the message says which and why.
    /// EC2, EFS and FSx: `InvalidParameterValue` / `BadRequest`; Berth uses EC2's name throughout.
    case invalidParameter(String)
    /// The state directory holds another region or AZ set than the configuration asks for.
    case regionMismatch(stateDirectory: String, stored: RegionConfiguration, requested: RegionConfiguration)
    /// No state directory could be determined.
    case noStateDirectory
    /// The state directory, or something Berth keeps in it, is not one only the invoking user controls
    /// (another owner, writable by group or others, a symbolic link, not a directory): refused as ssh
    /// refuses such files. The message says which path and why.
    case unsafeStateDirectory(String)
    /// Volume or snapshot data is present but the database that records it is missing, empty or
    /// unreadable: refused rather than recreated (a new database would not know the data). The message says
    /// what is there and how to recover (`berth state repair`).
    case stateDatabaseLost(String)
    /// SQLite or the file system failed underneath; not a refusal of the request itself.
    case storage(String)
    /// `berth fault clear` of an id that is not a fault's (FIS: `ResourceNotFoundException`).
    case faultNotFound(String)
    /// A second fault of one kind on one volume while the first is active (FIS: `ConflictException`).
    case faultInEffect(FaultID, volume: VolumeID, kind: String)

    /// The AWS error code this refusal stands for.
    public var awsErrorName: String {
        switch self {
        case .malformedVolumeID: "InvalidVolumeID.Malformed"
        case .malformedSnapshotID: "InvalidSnapshotID.Malformed"
        case .malformedAttachmentID: "InvalidParameterValue"
        case .volumeNotFound(let id): id.isFileSystem ? "FileSystemNotFound" : "InvalidVolume.NotFound"
        case .snapshotNotFound: "InvalidSnapshot.NotFound"
        case .attachmentNotFound, .noAttachmentAtMountpoint: "InvalidAttachment.NotFound"
        case .zoneNotFound: "InvalidZone.NotFound"
        case .zoneFailed, .volumeUnavailable: "IncorrectState"
        case .snapshotPending, .snapshotFailed: "IncorrectState"
        case .volumeInUse(let id, _): id.isFileSystem ? "FileSystemInUse" : "VolumeInUse"
        case .zoneMismatch: "InvalidVolume.ZoneMismatch"
        case .oneZoneMountTargetMissing: "ResourceInitializationError"
        case .unsupportedPlatform, .unsupportedOperation: "UnsupportedOperation"
        case .snapshotHasClones: "BadRequest"
        case .invalidParameter, .regionMismatch, .noStateDirectory, .unsafeStateDirectory: "InvalidParameterValue"
        case .stateDatabaseLost: "IncorrectState"
        case .storage: "InternalError"
        case .faultNotFound: "ResourceNotFoundException"
        case .faultInEffect: "ConflictException"
        }
    }

    /// The facts, without the error name.
    public var message: String {
        switch self {
        case .malformedVolumeID(let text):
            "\(quoted(text)) is not a volume id: expected vol- (EBS) or fs- (file systems) and 17 lowercase hex digits"
        case .malformedSnapshotID(let text):
            "\(quoted(text)) is not a snapshot id: expected snap- and 17 lowercase hex digits"
        case .malformedAttachmentID(let text):
            "\(quoted(text)) is not an attachment id: expected att- and 17 lowercase hex digits"
        case .volumeNotFound(let id):
            "\(id) does not exist"
        case .snapshotNotFound(let id):
            "\(id) does not exist"
        case .attachmentNotFound(let id):
            "\(id) does not exist"
        case .noAttachmentAtMountpoint(let path):
            "no volume is mounted at \(path)"
        case .zoneNotFound(let name, let region, let known):
            "\(quoted(name)) is not an Availability Zone of \(region) (\(known.joined(separator: ", ")))"
        case .zoneFailed(let name):
            "\(name) is failed; nothing is created or mounted there until `berth az recover \(name)`"
        case .volumeUnavailable(let id, let zones):
            "the data of \(id) lives only in \(zones.joined(separator: " and ")), which \(zones.count == 1 ? "is" : "are") failed"
        case .volumeInUse(let id, let attachments):
            "\(id) is attached to " + attachments.map { "task \($0.task) in \($0.availabilityZone)" }.joined(separator: ", ")
        case .zoneMismatch(let id, let type, let volumeZone, let taskZone):
            switch type {
            case .ebs: "\(id) is in \(volumeZone); the task runs in \(taskZone)"
            case .fsxLustre: "\(id) is in \(volumeZone) (FSx for Lustre is single-AZ); the task runs in \(taskZone)"
            default: "\(id) is in \(volumeZone) (single-AZ deployment); the task runs in \(taskZone)"
            }
        case .oneZoneMountTargetMissing(let id, let volumeZone, let taskZone):
            "\(id) is an EFS One Zone file system with its only mount target in \(volumeZone); the task runs in "
                + "\(taskZone), and efsVolumeConfiguration has no Availability Zone option, so the mount cannot resolve "
                + "a mount target there"
        case .unsupportedPlatform(let type, let platform, let reason, let source):
            "\(type) volumes cannot be mounted by \(platformPhrase(platform)): \(reason) (\(source))"
        case .unsupportedOperation(let text):
            text
        case .snapshotHasClones(let id, let clones):
            "\(id) has clones (\(clones.map(\.rawValue).joined(separator: ", "))); delete them first "
                + "(FSx for OpenZFS: a snapshot with a dependent clone cannot be deleted; shared/notes/aws-storage-facts.md)"
        case .snapshotPending(let id):
            "\(id) is still being taken (state pending)"
        case .snapshotFailed(let id, let reason):
            "\(id) failed (state error): \(reason ?? "the process taking it stopped before it completed"); delete it and take another"
        case .invalidParameter(let text):
            text
        case .regionMismatch(let directory, let stored, let requested):
            "the state directory \(directory) holds region \(stored); the configuration asks for \(requested): "
                + "use another --state-dir, or unset BERTH_REGION and BERTH_AZS"
        case .noStateDirectory:
            "no state directory: pass --state-dir, or set BERTH_STATE_DIR, XDG_STATE_HOME or HOME"
        case .unsafeStateDirectory(let text), .stateDatabaseLost(let text):
            text
        case .storage(let text):
            text
        case .faultNotFound(let text):
            "no fault \(quoted(text)): see berth fault list"
        case .faultInEffect(let id, let volume, let kind):
            "\(volume) already has an active \(kind) fault, \(id): clear it first (berth fault clear \(id))"
        }
    }

    public var description: String { "\(awsErrorName): \(message)" }
    public var errorDescription: String? { description }
}

private func quoted(_ text: String) -> String {
    "\"" + String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) }) + "\""
}

/// "Windows tasks", "Fargate tasks", "Windows tasks on Fargate": how the refusal names who was refused.
private func platformPhrase(_ platform: Platform) -> String {
    switch (platform.os, platform.launchType) {
    case (.linux, .ec2): "Linux tasks on EC2"
    case (.linux, .fargate): "Fargate tasks"
    case (.windows, .ec2): "Windows tasks"
    case (.windows, .fargate): "Windows tasks on Fargate"
    }
}
