/// An ECS task definition as `berth run` reads it: the fields that decide storage and how containers run.
/// What `register-task-definition --cli-input-json` takes, or what `describe-task-definition` prints
/// (the object under `taskDefinition`).
public struct TaskDefinition: Sendable, Equatable {
    public var family: String?
    /// `requiresCompatibilities`, upper-cased (`FARGATE`, `EC2`, `EXTERNAL`).
    public var requiresCompatibilities: [String]
    /// `runtimePlatform.operatingSystemFamily` (`LINUX`, `WINDOWS_SERVER_2022_CORE`, …); nil: Linux.
    public var operatingSystemFamily: String?
    public var networkMode: String?
    public var volumes: [TaskVolume]
    public var containers: [ContainerDefinition]
    /// Top-level fields that do not change storage behaviour and that `berth run` does not apply.
    public var ignoredFields: [String]

    public init(family: String? = nil, requiresCompatibilities: [String] = [], operatingSystemFamily: String? = nil,
                networkMode: String? = nil, volumes: [TaskVolume] = [], containers: [ContainerDefinition] = [],
                ignoredFields: [String] = []) {
        self.family = family
        self.requiresCompatibilities = requiresCompatibilities
        self.operatingSystemFamily = operatingSystemFamily
        self.networkMode = networkMode
        self.volumes = volumes
        self.containers = containers
        self.ignoredFields = ignoredFields
    }

    /// Windows when the operating system family names Windows.
    public var isWindows: Bool { operatingSystemFamily?.uppercased().hasPrefix("WINDOWS") ?? false }

    public func volume(named name: String) -> TaskVolume? { volumes.first { $0.name == name } }
}

/// One entry of `volumes`.
public struct TaskVolume: Sendable, Equatable {
    public var name: String
    public var kind: Kind
    /// Where it is in the file (`volumes[2]`), for messages.
    public var path: String

    public init(name: String, kind: Kind, path: String) {
        self.name = name
        self.kind = kind
        self.path = path
    }

    public enum Kind: Sendable, Equatable {
        case efs(EFSVolume)
        case fsxWindows(FSxWindowsVolume)
        /// Amazon EBS, `configuredAtLaunch: true`: the volume comes from the RunTask/service configuration.
        case ebsAtLaunch
        /// `host.sourcePath`; nil `sourcePath` is a bind mount volume ECS manages (an empty task-scoped
        /// directory on EC2, ephemeral storage on Fargate).
        case host(sourcePath: String?)
        case docker(DockerVolume)
    }
}

public struct EFSVolume: Sendable, Equatable {
    public var fileSystemID: String
    public var rootDirectory: String?
    public var transitEncryption: String?
    public var transitEncryptionPort: Int?
    public var iam: String?
    public var accessPointID: String?

    public init(fileSystemID: String, rootDirectory: String? = nil, transitEncryption: String? = nil,
                transitEncryptionPort: Int? = nil, iam: String? = nil, accessPointID: String? = nil) {
        self.fileSystemID = fileSystemID
        self.rootDirectory = rootDirectory
        self.transitEncryption = transitEncryption
        self.transitEncryptionPort = transitEncryptionPort
        self.iam = iam
        self.accessPointID = accessPointID
    }

    public var transitEncryptionEnabled: Bool { transitEncryption?.uppercased() == "ENABLED" }
    public var iamEnabled: Bool { iam?.uppercased() == "ENABLED" }
}

public struct FSxWindowsVolume: Sendable, Equatable {
    public var fileSystemID: String
    public var rootDirectory: String
    public var credentialsParameter: String?
    public var domain: String?

    public init(fileSystemID: String, rootDirectory: String, credentialsParameter: String? = nil, domain: String? = nil) {
        self.fileSystemID = fileSystemID
        self.rootDirectory = rootDirectory
        self.credentialsParameter = credentialsParameter
        self.domain = domain
    }
}

public struct DockerVolume: Sendable, Equatable {
    /// `task` (default) or `shared`.
    public var scope: String?
    public var autoprovision: Bool?
    public var driver: String?
    public var driverOptions: [String: String]
    public var labels: [String: String]

    public init(scope: String? = nil, autoprovision: Bool? = nil, driver: String? = nil,
                driverOptions: [String: String] = [:], labels: [String: String] = [:]) {
        self.scope = scope
        self.autoprovision = autoprovision
        self.driver = driver
        self.driverOptions = driverOptions
        self.labels = labels
    }

    public var isShared: Bool { scope?.lowercased() == "shared" }
}

public struct ContainerDefinition: Sendable, Equatable {
    public var name: String
    public var image: String
    /// Default true, as in ECS.
    public var essential: Bool
    public var command: [String]?
    public var entryPoint: [String]?
    public var environment: [EnvironmentVariable]
    public var workingDirectory: String?
    public var user: String?
    public var mountPoints: [MountPoint]
    public var volumesFrom: [VolumeFrom]
    public var readonlyRootFilesystem: Bool
    /// Fields of this container that `berth run` does not apply (none changes storage behaviour).
    public var ignoredFields: [String]
    /// Where it is in the file (`containerDefinitions[0]`).
    public var path: String

    public init(name: String, image: String, essential: Bool = true, command: [String]? = nil, entryPoint: [String]? = nil,
                environment: [EnvironmentVariable] = [], workingDirectory: String? = nil, user: String? = nil,
                mountPoints: [MountPoint] = [], volumesFrom: [VolumeFrom] = [], readonlyRootFilesystem: Bool = false,
                ignoredFields: [String] = [], path: String = "") {
        self.name = name
        self.image = image
        self.essential = essential
        self.command = command
        self.entryPoint = entryPoint
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.mountPoints = mountPoints
        self.volumesFrom = volumesFrom
        self.readonlyRootFilesystem = readonlyRootFilesystem
        self.ignoredFields = ignoredFields
        self.path = path
    }
}

public struct EnvironmentVariable: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

public struct MountPoint: Sendable, Equatable {
    public var sourceVolume: String
    public var containerPath: String
    public var readOnly: Bool
    public var path: String
    public init(sourceVolume: String, containerPath: String, readOnly: Bool = false, path: String = "") {
        self.sourceVolume = sourceVolume
        self.containerPath = containerPath
        self.readOnly = readOnly
        self.path = path
    }
}

public struct VolumeFrom: Sendable, Equatable {
    public var sourceContainer: String
    public var readOnly: Bool
    public var path: String
    public init(sourceContainer: String, readOnly: Bool = false, path: String = "") {
        self.sourceContainer = sourceContainer
        self.readOnly = readOnly
        self.path = path
    }
}
