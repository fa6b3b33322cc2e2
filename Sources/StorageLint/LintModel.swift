/// How serious a finding is. `error`: ECS or the service refuses it or it cannot work; `warning`: it works
/// but breaks AWS guidance or loses data under a failure; `note`: advice.
public enum LintLevel: String, CaseIterable, Comparable, Sendable {
    case note, warning, error

    var rank: Int {
        switch self {
        case .note: 0
        case .warning: 1
        case .error: 2
        }
    }

    public static func < (lhs: LintLevel, rhs: LintLevel) -> Bool { lhs.rank < rhs.rank }
}

/// A place in a file: 1-based line and column (columns count Unicode scalars, as libyaml does).
public struct LintLocation: Hashable, Sendable, Comparable {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static let start = LintLocation(line: 1, column: 1)

    public static func < (lhs: LintLocation, rhs: LintLocation) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// A value read from a file together with where its key is.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var at: LintLocation
}

/// One storage mistake in one file.
public struct LintFinding: Hashable, Sendable {
    public var ruleID: String
    public var level: LintLevel
    public var message: String
    /// The file as the user named it (or as found under a directory they named).
    public var file: String
    public var at: LintLocation
    public var source: String
}

/// A file that was read but is neither a task definition nor a template.
public struct LintSkip: Hashable, Sendable {
    public var file: String
    public var reason: String
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
}

/// A file that could not be read or parsed, with where the problem is.
public struct LintInputError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var at: LintLocation
    public var message: String

    public var description: String { "\(file):\(at.line):\(at.column): error: \(message)" }
}

// MARK: The storage settings the rules look at, extracted from either input form

/// What kind of volume a task definition volume is (exactly one, per API_Volume; none is a bind mount).
public enum VolumeKind: String, Sendable {
    case bindMount, host, docker, efs, fsxWindows, ebsAtLaunch, s3files
}

public struct EFSSettings: Sendable {
    public var transitEncryption: Located<String?>?
    public var iam: Located<String?>?
    public var accessPoint: Located<String?>?
    public var rootDirectory: Located<String?>?
    /// The CloudFormation logical id the file system id refers to (`!Ref FileSystem`).
    public var fileSystemRef: String?
}

public struct VolumeModel: Sendable {
    public var name: Located<String?>
    public var kind: VolumeKind
    /// Where the key that makes it that kind is (`efsVolumeConfiguration`, `host`, …).
    public var kindAt: LintLocation
    public var efs: EFSSettings?
    public var hostSourcePath: Located<String?>?
    public var fsxFileSystemRef: String?
}

public struct MountPointModel: Sendable {
    public var at: LintLocation
    public var sourceVolume: Located<String?>?
    public var containerPath: String?
    public var readOnly: Located<Bool?>?

    /// True only when the file says `readOnly: true`.
    var isReadOnly: Bool { readOnly?.value == true }
    /// True when the file leaves the mount writable (`readOnly` absent or false).
    var isWritable: Bool { readOnly == nil || readOnly?.value == false }
}

public struct ContainerModel: Sendable {
    public var at: LintLocation
    public var name: String?
    public var image: String?
    public var environment: [String]
    public var mountPoints: [MountPointModel]
}

public struct TaskDefinitionModel: Sendable {
    /// The CloudFormation logical id, or nil for a task definition file.
    public var logicalID: String?
    public var at: LintLocation
    public var compatibilities: [String]
    public var operatingSystemFamily: Located<String?>?
    public var volumes: [VolumeModel]
    /// False when `volumes` is not a literal list (an `!If`, a `!Ref`): rules about missing volumes stay quiet.
    public var volumesKnown: Bool
    public var containers: [ContainerModel]
    /// Volume names the template's `Metadata: {Berth: {ReferenceData: […]}}` marks as reference data.
    public var referenceDataVolumes: Set<String>
    /// Volume names the template's `Metadata: {Berth: {Writes: […]}}` marks as written by the workload.
    public var writtenVolumes: Set<String>

    public var label: String { logicalID.map { "task definition \($0)" } ?? "the task definition" }

    func volume(named name: String) -> VolumeModel? { volumes.first { $0.name.value == name } }

    var isWindows: Bool { operatingSystemFamily?.value?.uppercased().hasPrefix("WINDOWS") == true }
    var isExplicitlyLinux: Bool { operatingSystemFamily?.value?.uppercased() == "LINUX" }
}

public struct VolumeConfigurationModel: Sendable {
    public var name: Located<String?>
    public var managedEBS: Bool
}

public struct ServiceModel: Sendable {
    public var logicalID: String
    public var at: LintLocation
    public var taskDefinitionRef: String?
    public var desiredCount: Located<Int?>?
    public var launchType: String?
    /// How many subnets the service's awsvpc configuration lists, when it is a literal list.
    public var subnets: Located<Int?>?
    public var volumeConfigurations: [VolumeConfigurationModel]
}

public struct FileSystemModel: Sendable {
    public var logicalID: String
    /// `AWS::EFS::FileSystem` or `AWS::FSx::FileSystem`.
    public var type: String
    /// EFS One Zone: `AvailabilityZoneName`.
    public var availabilityZone: Located<String?>?
    /// FSx: `WindowsConfiguration.DeploymentType` (or ONTAP's/OpenZFS's).
    public var deploymentType: Located<String?>?
}

/// One input file, read: a task definition or a template with its task definitions and the resources
/// they refer to.
public struct LintDocument: Sendable {
    public enum Kind: String, Sendable {
        case taskDefinition = "task definition"
        case template = "CloudFormation template"
    }

    public var file: String
    public var kind: Kind
    public var taskDefinitions: [TaskDefinitionModel]
    public var services: [ServiceModel]
    public var fileSystems: [String: FileSystemModel]

    func services(using task: TaskDefinitionModel) -> [ServiceModel] {
        guard let id = task.logicalID else { return [] }
        return services.filter { $0.taskDefinitionRef == id }
    }
}

/// What the command line says about how the tasks are launched.
public enum LaunchTypeOption: String, CaseIterable, Sendable {
    case fargate, ec2
}

/// What a rule's check sees: one document and the options.
public struct LintSubject: Sendable {
    public var document: LintDocument
    public var launchType: LaunchTypeOption?

    /// A task runs on Fargate when its compatibilities say so (ECS validates against Fargate at
    /// registration), when a service in the template launches it on Fargate, or when `--launch-type
    /// fargate` says so.
    func isFargate(_ task: TaskDefinitionModel) -> Bool {
        if task.compatibilities.contains(where: { $0.uppercased() == "FARGATE" }) { return true }
        if document.services(using: task).contains(where: { $0.launchType?.uppercased() == "FARGATE" }) { return true }
        return launchType == .fargate
    }
}
