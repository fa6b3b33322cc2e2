/// What ECS would refuse, checked before anything starts. Each rule is data: the ECS error name, the
/// check, the message, and the AWS documentation page that states the rule (checked 2026-11-26). The
/// messages follow ECS's shape (`ClientException: …` from RegisterTaskDefinition, `InvalidParameterException:
/// …` from RunTask); their wording is Berth's.
public struct RunRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// `ClientException` or `InvalidParameterException`.
    public var errorName: String
    public var message: String
    /// Where in the task definition (`volumes[0].efsVolumeConfiguration`), if anywhere.
    public var path: String?
    public var source: String

    public init(errorName: String, message: String, path: String?, source: String) {
        self.errorName = errorName
        self.message = message
        self.path = path
        self.source = source
    }

    public var description: String {
        "\(errorName): \(message)" + (path.map { " (at \($0))" } ?? "") + " [\(source)]"
    }
}

/// The task as it would be launched: launch type and operating system.
public struct LaunchTarget: Sendable, Equatable {
    public enum LaunchType: String, Sendable, CaseIterable { case fargate, ec2 }
    public var launchType: LaunchType
    public var windows: Bool

    public init(launchType: LaunchType, windows: Bool) {
        self.launchType = launchType
        self.windows = windows
    }

    /// `--launch-type`, else `requiresCompatibilities` (FARGATE wins when both are listed), else EC2
    /// (run.md §Input). The OS is `runtimePlatform.operatingSystemFamily`, Linux when absent.
    public static func resolve(_ definition: TaskDefinition, requested: LaunchType?) -> LaunchTarget {
        let launchType = requested ?? (definition.requiresCompatibilities.contains("FARGATE") ? .fargate : .ec2)
        return LaunchTarget(launchType: launchType, windows: definition.isWindows)
    }
}

public enum RunRefusals {
    static let fargateVolumes = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-storage.html"
    static let bindMounts = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html"
    static let dockerVolumes = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/docker-volumes.html"
    static let fsxWindows = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/wfsx-volumes.html"
    static let efsVolumes = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/efs-volumes.html"
    static let efsConfig = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/specify-efs-config.html"
    static let ebsVolumes = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ebs-volumes.html"
    static let containerDefinitions = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html"

    /// Every refusal, in file order; empty when ECS would accept and launch the task.
    /// `launchVolumes` are the names `--ebs` configures.
    public static func check(_ definition: TaskDefinition, target: LaunchTarget, launchVolumes: Set<String>) -> [RunRefusal] {
        var refusals: [RunRefusal] = []
        func refuse(_ name: String, _ message: String, _ path: String?, _ source: String) {
            refusals.append(RunRefusal(errorName: name, message: message, path: path, source: source))
        }
        let fargate = target.launchType == .fargate
        for volume in definition.volumes {
            switch volume.kind {
            case .host(let sourcePath?) where fargate:
                refuse("ClientException", "host volume '\(volume.name)' (sourcePath \(sourcePath)) is not supported on Fargate; "
                    + "Fargate tasks get bind mounts without a sourcePath only", volume.path, bindMounts)
            case .docker where fargate:
                refuse("ClientException", "dockerVolumeConfiguration of volume '\(volume.name)' is not supported on Fargate",
                       volume.path, dockerVolumes)
            case .docker where target.windows:
                refuse("ClientException", "dockerVolumeConfiguration of volume '\(volume.name)' is not supported on Windows tasks",
                       volume.path, dockerVolumes)
            case .fsxWindows where fargate:
                refuse("ClientException", "fsxWindowsFileServerVolumeConfiguration of volume '\(volume.name)' is not supported "
                    + "on Fargate (Berth follows the ECS guide here; see docs/SEMANTICS.md)", volume.path, fsxWindows)
            case .fsxWindows where !target.windows:
                refuse("ClientException", "fsxWindowsFileServerVolumeConfiguration of volume '\(volume.name)' needs a Windows "
                    + "task (runtimePlatform.operatingSystemFamily WINDOWS_…); this task is Linux", volume.path, fsxWindows)
            case .efs where target.windows:
                refuse("ClientException", "efsVolumeConfiguration of volume '\(volume.name)' is not supported on Windows tasks",
                       volume.path, efsVolumes)
            case .efs(let efs):
                if efs.iamEnabled && !efs.transitEncryptionEnabled {
                    refuse("ClientException", "volume '\(volume.name)': transit encryption must be ENABLED when EFS IAM "
                        + "authorization is used", "\(volume.path).efsVolumeConfiguration", efsConfig)
                }
                if let accessPoint = efs.accessPointID {
                    if !efs.transitEncryptionEnabled {
                        refuse("ClientException", "volume '\(volume.name)': transit encryption must be ENABLED when an access "
                            + "point (\(accessPoint)) is used", "\(volume.path).efsVolumeConfiguration", efsConfig)
                    }
                    if let root = efs.rootDirectory, root != "/" {
                        refuse("ClientException", "volume '\(volume.name)': rootDirectory must be omitted or \"/\" when an access "
                            + "point (\(accessPoint)) is used; the access point's path is the root (got \"\(root)\")",
                            "\(volume.path).efsVolumeConfiguration.rootDirectory", efsConfig)
                    }
                }
            case .ebsAtLaunch where !launchVolumes.contains(volume.name):
                refuse("InvalidParameterException", "volume '\(volume.name)' is configuredAtLaunch but no volume configuration "
                    + "was given for it at launch; pass --ebs \(volume.name)=SIZE_GIB[:TYPE][:SNAPSHOT]", volume.path, ebsVolumes)
            case .ebsAtLaunch where target.windows && fargate:
                refuse("ClientException", "Amazon EBS volume '\(volume.name)' is not supported on Fargate Windows tasks",
                       volume.path, ebsVolumes)
            default:
                break
            }
        }
        let ebsNames = Set(definition.volumes.filter { $0.kind == .ebsAtLaunch }.map(\.name))
        for name in launchVolumes.sorted() where !ebsNames.contains(name) {
            refuse("InvalidParameterException", "--ebs \(name)=…: the task definition has no volume '\(name)' with "
                + "configuredAtLaunch true", nil, ebsVolumes)
        }
        let containerNames = Set(definition.containers.map(\.name))
        for container in definition.containers {
            for mount in container.mountPoints where definition.volume(named: mount.sourceVolume) == nil {
                refuse("ClientException", "container '\(container.name)' mounts sourceVolume '\(mount.sourceVolume)', which names "
                    + "no volume of the task definition", mount.path, containerDefinitions)
            }
            for from in container.volumesFrom where !containerNames.contains(from.sourceContainer) || from.sourceContainer == container.name {
                refuse("ClientException", "container '\(container.name)': volumesFrom sourceContainer '\(from.sourceContainer)' is "
                    + "not another container of the task definition", from.path, containerDefinitions)
            }
            for mount in container.mountPoints where !mount.containerPath.hasPrefix("/") && !target.windows {
                refuse("ClientException", "container '\(container.name)': containerPath \"\(mount.containerPath)\" must be absolute",
                       mount.path, containerDefinitions)
            }
        }
        if !definition.containers.contains(where: \.essential) {
            refuse("ClientException", "a task definition needs at least one essential container", "containerDefinitions",
                   containerDefinitions)
        }
        return refusals
    }
}
