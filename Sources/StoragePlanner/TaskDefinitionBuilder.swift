public import StorageCatalog
import Workloads

/// A task definition for a recommendation's pick, in the shape
/// `aws ecs register-task-definition --cli-input-json` takes.
public struct TaskDefinitionDraft: Sendable {
    public var service: ServiceID
    public var taskDefinition: JSONValue
    /// EBS only: what RunTask, StartTask, CreateService or UpdateService take as `volumeConfigurations`.
    public var volumeConfigurations: JSONValue?
    /// Values the user must replace, with what each one is.
    public var placeholders: [(placeholder: String, meaning: String)]
    /// What must happen outside the task definition (host mounts on the container instance).
    public var notes: [String]
}

public struct TaskDefinitionOptions: Sendable {
    public var family: String?
    public var image: String?
    public var containerPath: String?
    public init(family: String? = nil, image: String? = nil, containerPath: String? = nil) {
        self.family = family
        self.image = image
        self.containerPath = containerPath
    }

    /// What ECS or the container runtime would refuse in these options, each a message for people
    /// naming the option and what is accepted. Empty when the options can be used.
    public func problems(windows: Bool) -> [String] {
        var problems: [String] = []
        // ECS API Reference, RegisterTaskDefinition `family` and ContainerDefinition `name` (both are
        // the family here): up to 255 letters, numbers, underscores and hyphens.
        if let family, family.isEmpty || family.utf8.count > 255
            || !family.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            problems.append("--family \"\(family)\": ECS accepts 1 to 255 letters, digits, hyphens and underscores")
        }
        if let path = containerPath {
            if windows {
                // Windows containers mount at a drive path (moby's Windows mount parser).
                let start = Array(path.prefix(3))
                let drivePath = start.count == 3 && start[0].isASCII && start[0].isLetter && start[1] == ":"
                    && (start[2] == "\\" || start[2] == "/")
                if !drivePath {
                    problems.append("--container-path \"\(path)\": a Windows container mounts at an absolute path such as C:\\data")
                }
            } else if !path.hasPrefix("/") {
                // Docker: "invalid mount config ... mount path must be absolute" (moby volume/mounts).
                problems.append("--container-path \"\(path)\": the mount path must be absolute, such as /data")
            } else if Self.depthAfterCleaning(path) == 0 {
                // Docker: "invalid specification: destination can't be '/'" (after cleaning: /, //, /..).
                problems.append("--container-path \"\(path)\": cannot be the container's root; choose a directory such as /data")
            }
        }
        return problems
    }

    /// How many directories below the root an absolute path names once `.` and `..` are resolved
    /// lexically, as the container runtime cleans it (`/data/..` is the root).
    static func depthAfterCleaning(_ path: String) -> Int {
        path.split(separator: "/").reduce(0) { depth, component in
            component == "." ? depth : component == ".." ? max(0, depth - 1) : depth + 1
        }
    }

}

public struct NoServiceFitsError: Error, CustomStringConvertible, Sendable {
    public var recommendation: Recommendation
    public var description: String {
        "\(recommendation.profile.name): no service fits, so there is no task definition to write.\n"
            + ReportRenderer.wayOutText(recommendation)
    }
}

public enum TaskDefinitionBuilder {
    static let volumeName = "data"

    public static func build(_ recommendation: Recommendation, options: TaskDefinitionOptions = .init()) throws -> TaskDefinitionDraft {
        guard let pick = recommendation.recommended else { throw NoServiceFitsError(recommendation: recommendation) }
        let profile = recommendation.profile
        let windows = profile.platform.os == .windows
        let fargate = profile.platform.launchType == .fargate
        var placeholders: [(String, String)] = []
        var notes: [String] = []
        let family = options.family ?? profile.name
        let image: String
        if let given = options.image {
            image = given
        } else {
            image = "<IMAGE>"
            placeholders.append(("<IMAGE>", "the container image, e.g. 111122223333.dkr.ecr.us-east-1.amazonaws.com/\(profile.name):latest"))
        }
        let containerPath = options.containerPath ?? (windows ? "C:\\data" : "/data")
        let readOnly = profile.access.sharing == .readOnlyShared

        var volume: [(String, JSONValue)] = [("name", .string(volumeName))]
        var volumeConfigurations: JSONValue?
        switch (pick.service, Catalog.support(pick.service, on: profile.platform.platform).value) {
        case (.ebs, _):
            // ECS-managed EBS: the volume is created at launch from volumeConfigurations (ebs-volumes.html).
            volume.append(("configuredAtLaunch", true))
            var ebs: [(String, JSONValue)] = [("roleArn", "<ECS_INFRASTRUCTURE_ROLE_ARN>")]
            placeholders.append(("<ECS_INFRASTRUCTURE_ROLE_ARN>", "an IAM role ECS assumes to create and attach the EBS volume (AmazonECSInfrastructureRolePolicyForVolumes)"))
            for (key, value) in pick.configuration?.entries ?? [] where key != "fromSnapshot" { ebs.append((key, value)) }
            ebs.append(("encrypted", true))
            if readOnly {
                ebs.append(("snapshotId", "<EBS_SNAPSHOT_ID>"))
                placeholders.append(("<EBS_SNAPSHOT_ID>", "the snap-… id holding the read-only data; every task gets its own volume from it"))
            }
            volumeConfigurations = .array([.object([("name", .string(volumeName)), ("managedEBSVolume", .object(ebs))])])
            notes.append("EBS: pass volumeConfigurations to run-task, start-task, create-service or update-service; a task definition may have only one volume configured at launch.")
        case (.efs, _):
            // Transit encryption on; an access point with a POSIX user avoids write-permission surprises
            // on Fargate. With an access point, rootDirectory must be omitted (API_EFSVolumeConfiguration).
            volume.append(("efsVolumeConfiguration", .object([
                ("fileSystemId", "<EFS_FILE_SYSTEM_ID>"),
                ("transitEncryption", "ENABLED"),
                ("authorizationConfig", .object([("accessPointId", "<EFS_ACCESS_POINT_ID>"), ("iam", "ENABLED")])),
            ])))
            placeholders.append(("<EFS_FILE_SYSTEM_ID>", "the fs-… id of the EFS file system (\(pick.configuration?["storageClass"].map(ReportRenderer.plain) ?? "standard") storage class), with a mount target in every AZ the tasks run in"))
            placeholders.append(("<EFS_ACCESS_POINT_ID>", "the fsap-… id of an access point with the POSIX user the application runs as"))
        case (.fsxWindows, .native):
            volume.append(("fsxWindowsFileServerVolumeConfiguration", .object([
                ("fileSystemId", "<FSX_WINDOWS_FILE_SYSTEM_ID>"),
                ("rootDirectory", "share"),
                ("authorizationConfig", .object([
                    ("credentialsParameter", "<CREDENTIALS_SECRET_ARN>"),
                    ("domain", "<AD_DOMAIN>"),
                ])),
            ])))
            placeholders.append(("<FSX_WINDOWS_FILE_SYSTEM_ID>", "the fs-… id of the FSx for Windows File Server file system"))
            placeholders.append(("<CREDENTIALS_SECRET_ARN>", "the ARN of a Secrets Manager secret or SSM parameter with the domain user's credentials"))
            placeholders.append(("<AD_DOMAIN>", "the fully qualified Active Directory domain, e.g. corp.example.com"))
            notes.append("FSx for Windows File Server: the container instances must be joined to the Active Directory domain.")
        case (let service, _):
            // ECS has no volume type for it: the container instance mounts it and the task binds the path.
            let hostPath = windows ? "C:\\berth\\\(profile.name)" : "/mnt/berth/\(profile.name)"
            volume.append(("host", .object([("sourcePath", .string(hostPath))])))
            notes.append("\(Catalog.facts(service).name): ECS does not mount it itself; mount it on every container instance at \(hostPath), e.g. \(hostMountCommand(service, path: hostPath)).")
            placeholders.append(("<FILE_SYSTEM_DNS_NAME>", "the DNS name of the \(Catalog.facts(service).name) file system (in the mount command on the instances)"))
        }

        var definition: [(String, JSONValue)] = [
            ("family", .string(family)),
            ("requiresCompatibilities", .array([fargate ? "FARGATE" : "EC2"])),
            ("networkMode", "awsvpc"),
            ("runtimePlatform", .object([
                ("operatingSystemFamily", windows ? "WINDOWS_SERVER_2019_CORE" : "LINUX"),
                ("cpuArchitecture", profile.platform.architecture == .arm64 ? "ARM64" : "X86_64"),
            ])),
            ("cpu", windows ? "1024" : "512"),
            ("memory", windows ? "2048" : "1024"),
            ("executionRoleArn", "<EXECUTION_ROLE_ARN>"),
        ]
        placeholders.append(("<EXECUTION_ROLE_ARN>", "the task execution role (pulls the image, reads secrets), e.g. arn:aws:iam::111122223333:role/ecsTaskExecutionRole"))
        if pick.service == .efs {
            // `iam: ENABLED` makes EFS authorize the mount as the task's IAM role, so the task needs one
            // (AWS docs AmazonECS/latest/developerguide/efs-volumes.html).
            definition.append(("taskRoleArn", "<TASK_ROLE_ARN>"))
            placeholders.append(("<TASK_ROLE_ARN>", "the task's IAM role, which the EFS file system policy must allow (elasticfilesystem:ClientMount, and ClientWrite to write): iam ENABLED mounts with it"))
        }
        definition.append(("containerDefinitions", .array([.object([
            ("name", .string(family)),
            ("image", .string(image)),
            ("essential", true),
            ("mountPoints", .array([.object([
                ("sourceVolume", .string(volumeName)),
                ("containerPath", .string(containerPath)),
                ("readOnly", .bool(readOnly)),
            ])])),
        ])])))
        definition.append(("volumes", .array([.object(volume)])))
        return TaskDefinitionDraft(service: pick.service, taskDefinition: .object(definition),
                                   volumeConfigurations: volumeConfigurations, placeholders: placeholders, notes: notes)
    }

    static func hostMountCommand(_ service: ServiceID, path: String) -> String {
        switch service {
        case .fsxLustre: "`mount -t lustre -o relatime,flock <FILE_SYSTEM_DNS_NAME>@tcp:/<MOUNT_NAME> \(path)` (lustre-client)"
        case .fsxOpenZFS: "`mount -t nfs -o nfsvers=4.1 <FILE_SYSTEM_DNS_NAME>:/fsx/ \(path)`"
        case .fsxONTAP where path.hasPrefix("C:"): "`New-SmbGlobalMapping -RemotePath \\\\<FILE_SYSTEM_DNS_NAME>\\share` and a link at \(path)"
        case .fsxONTAP: "`mount -t nfs -o nfsvers=4.1 <FILE_SYSTEM_DNS_NAME>:/vol1 \(path)` (or an iSCSI LUN formatted and mounted there)"
        case .fsxWindows: "`mount -t cifs //<FILE_SYSTEM_DNS_NAME>/share \(path) -o vers=3.0,sec=ntlmsspi,credentials=/etc/fsx.cred`"
        case .ebs, .efs: "a mount of the volume"
        }
    }
}
