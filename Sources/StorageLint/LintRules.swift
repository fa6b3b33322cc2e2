/// The lint rules, one row each, with the AWS page behind every one. docs/LINT.md is generated from
/// this table (`berth lint --list-rules --format markdown`) and a test keeps the two equal.
public enum LintRules {
    static let apiVolume = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Volume.html"
    static let apiEFSAuthorization = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_EFSAuthorizationConfig.html"
    static let apiMountPoint = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_MountPoint.html"
    static let storageOptions = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_data_volumes.html"

    public static let all: [LintRule] = [
        LintRule(
            "BL001", .error, name: "efs-authorization-without-transit-encryption",
            title: "EFS IAM authorization or an access point without transit encryption",
            help: "ECS refuses an EFS volume whose authorizationConfig turns on IAM authorization (iam: ENABLED) or names an access point unless transitEncryption is ENABLED. Set transitEncryption: ENABLED.",
            source: apiEFSAuthorization,
            triggering: [Examples.efsIAMWithoutEncryption, Examples.efsTemplateAccessPointWithoutEncryption],
            nonTriggering: [Examples.efsIAMWithEncryption],
            check: { subject in
                volumes(subject, kind: .efs).compactMap { task, volume in
                    guard let efs = volume.efs else { return nil }
                    let iam = efs.iam?.value?.uppercased() == "ENABLED"
                    guard iam || efs.accessPoint != nil else { return nil }
                    let transit = efs.transitEncryption
                    if let transit, transit.value == nil { return nil }  // an intrinsic: cannot tell
                    guard transit?.value?.uppercased() != "ENABLED" else { return nil }
                    let uses = [iam ? "IAM authorization (iam: ENABLED)" : nil,
                                efs.accessPoint.map { "access point \(quoted($0.value, or: "(from the template)"))" }]
                        .compactMap { $0 }.joined(separator: " and ")
                    let current = transit.map { "transitEncryption is \(quoted($0.value))" } ?? "transitEncryption is missing (DISABLED by default)"
                    let at = transit?.at ?? efs.iam?.at ?? efs.accessPoint?.at ?? volume.kindAt
                    return LintHit(at, "\(volumeLabel(volume, task)) uses \(uses) but \(current); ECS refuses it: set transitEncryption: ENABLED")
                }
            }),
        LintRule(
            "BL002", .error, name: "efs-access-point-with-root-directory",
            title: "An EFS access point with a rootDirectory other than /",
            help: "With an access point, the access point's path is the root: the volume's rootDirectory must be omitted or /. Put the directory in the access point's RootDirectory instead.",
            source: apiEFSAuthorization,
            triggering: [Examples.accessPointWithRootDirectory],
            nonTriggering: [Examples.accessPointWithoutRootDirectory],
            check: { subject in
                volumes(subject, kind: .efs).compactMap { task, volume in
                    guard let efs = volume.efs, let accessPoint = efs.accessPoint, let root = efs.rootDirectory,
                          let path = root.value, path != "/", !path.isEmpty else { return nil }
                    return LintHit(root.at, "\(volumeLabel(volume, task)) names access point \(quoted(accessPoint.value, or: "(from the template)")) and rootDirectory \(quoted(path)); with an access point rootDirectory must be omitted or \"/\" (the access point's own path is used)")
                }
            }),
        LintRule(
            "BL003", .error, name: "fargate-host-source-path",
            title: "A host volume with a sourcePath in a Fargate task",
            help: "Fargate has no container instance to bind a host path from: host.sourcePath is not supported on Fargate. Use an EFS volume or an EBS volume configured at launch for data that must outlive the task, or omit host for scratch space shared by the task's containers.",
            source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html",
            triggering: [Examples.fargateHost],
            nonTriggering: [Examples.ec2Host, Examples.fargateBindMount],
            check: { subject in
                volumes(subject, kind: .host).compactMap { task, volume in
                    guard subject.isFargate(task), let path = volume.hostSourcePath else { return nil }
                    return LintHit(path.at, "\(volumeLabel(volume, task)) binds host path \(quoted(path.value, or: "(from the template)")) but \(task.label) runs on Fargate, which does not support host.sourcePath; use EFS, an EBS volume configured at launch, or the EC2 launch type")
                }
            }),
        LintRule(
            "BL004", .error, name: "fargate-docker-volume",
            title: "A Docker volume (dockerVolumeConfiguration) in a Fargate task",
            help: "Docker volumes are not supported by tasks run on Fargate. Use EFS or an EBS volume configured at launch, or the EC2 launch type.",
            source: apiVolume,
            triggering: [Examples.fargateDocker],
            nonTriggering: [Examples.ec2Docker],
            check: { subject in
                volumes(subject, kind: .docker).compactMap { task, volume in
                    guard subject.isFargate(task) else { return nil }
                    return LintHit(volume.kindAt, "\(volumeLabel(volume, task)) is a Docker volume but \(task.label) runs on Fargate, which does not support dockerVolumeConfiguration; use EFS, an EBS volume configured at launch, or the EC2 launch type")
                }
            }),
        LintRule(
            "BL005", .error, name: "fargate-fsx-windows",
            title: "An FSx for Windows File Server volume in a Fargate task",
            help: "FSx for Windows File Server volumes need Windows container instances on EC2 joined to the Active Directory domain; Fargate cannot mount them. Use the EC2 launch type.",
            source: "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/wfsx-volumes.html",
            triggering: [Examples.fargateFSx],
            nonTriggering: [Examples.ec2WindowsFSx],
            check: { subject in
                volumes(subject, kind: .fsxWindows).compactMap { task, volume in
                    guard subject.isFargate(task) else { return nil }
                    return LintHit(volume.kindAt, "\(volumeLabel(volume, task)) is an FSx for Windows File Server volume but \(task.label) runs on Fargate, which cannot mount it; use the EC2 launch type with domain-joined Windows container instances")
                }
            }),
        LintRule(
            "BL006", .error, name: "windows-efs",
            title: "An EFS volume in a Windows task",
            help: "Amazon EFS volumes are for Linux tasks only. Windows tasks share files through FSx for Windows File Server (EC2 launch type).",
            source: storageOptions,
            triggering: [Examples.windowsEFS],
            nonTriggering: [Examples.linuxEFS],
            check: { subject in
                volumes(subject, kind: .efs).compactMap { task, volume in
                    guard task.isWindows, let os = task.operatingSystemFamily else { return nil }
                    return LintHit(volume.kindAt, "\(volumeLabel(volume, task)) is an EFS volume but operatingSystemFamily is \(quoted(os.value)); EFS volumes are supported for Linux tasks only: use FSx for Windows File Server on EC2")
                }
            }),
        LintRule(
            "BL007", .error, name: "linux-fsx-windows",
            title: "An FSx for Windows File Server volume in a Linux task",
            help: "ECS mounts FSx for Windows File Server volumes only into Windows containers on EC2. A Linux task can reach the share over SMB from the container instance (a host mount) or use EFS.",
            source: storageOptions,
            triggering: [Examples.linuxFSx],
            nonTriggering: [Examples.ec2WindowsFSx],
            check: { subject in
                volumes(subject, kind: .fsxWindows).compactMap { task, volume in
                    guard task.isExplicitlyLinux, !subject.isFargate(task) else { return nil }
                    return LintHit(volume.kindAt, "\(volumeLabel(volume, task)) is an FSx for Windows File Server volume but operatingSystemFamily is \"LINUX\"; ECS mounts it only into Windows tasks on EC2: use a WINDOWS_SERVER_* family, or mount the share on the instances over SMB and bind it with host.sourcePath")
                }
            }),
        LintRule(
            "BL008", .error, name: "unknown-source-volume",
            title: "A mountPoints[].sourceVolume that names no volume",
            help: "sourceVolume must be the name of a volume in the task definition's volumes.",
            source: apiMountPoint,
            triggering: [Examples.misspeltSourceVolume],
            nonTriggering: [Examples.linuxEFS],
            check: { subject in
                subject.document.taskDefinitions.filter(\.volumesKnown).flatMap { task in
                    let names = task.volumes.compactMap(\.name.value)
                    return task.containers.flatMap { container in
                        container.mountPoints.compactMap { mount -> LintHit? in
                            guard let source = mount.sourceVolume, let name = source.value, !names.contains(name) else { return nil }
                            let defined = names.isEmpty ? "it defines no volumes" : "its volumes are \(names.map { quoted($0) }.joined(separator: ", "))"
                            return LintHit(source.at, "container \(quoted(container.name, or: "?")) mounts sourceVolume \(quoted(name)), which \(task.label) does not define; \(defined)")
                        }
                    }
                }
            }),
        LintRule(
            "BL009", .note, name: "unmounted-volume",
            title: "A volume that no container mounts",
            help: "A volume is used through a container's mountPoints (sourceVolume); one nobody mounts is either left over or a mount point is missing.",
            source: apiVolume,
            triggering: [Examples.unmountedVolume],
            nonTriggering: [Examples.linuxEFS],
            check: { subject in
                subject.document.taskDefinitions.flatMap { task -> [LintHit] in
                    let mounts = task.containers.flatMap(\.mountPoints)
                    guard mounts.allSatisfy({ $0.sourceVolume?.value != nil }) else { return [] }
                    let used = Set(mounts.compactMap { $0.sourceVolume?.value })
                    return task.volumes.compactMap { volume in
                        guard let name = volume.name.value, !used.contains(name) else { return nil }
                        return LintHit(volume.name.at, "volume \(quoted(name)) in \(task.label) is mounted by no container; add a mountPoints entry with sourceVolume \(quoted(name)) or remove the volume")
                    }
                }
            }),
        LintRule(
            "BL010", .warning, name: "ebs-configured-at-launch-without-configuration",
            title: "An EBS volume configured at launch that nothing in the template configures",
            help: "A volume with configuredAtLaunch: true gets its EBS settings from the volumeConfigurations of CreateService, UpdateService, RunTask or StartTask. In a template, give the AWS::ECS::Service that runs the task definition a VolumeConfigurations entry with the volume's name (ManagedEBSVolume with RoleArn and a size or snapshot); otherwise make sure whoever runs the task passes one.",
            source: apiVolume,
            triggering: [Examples.ebsTemplateWithoutService],
            nonTriggering: [Examples.ebsTemplateWithService],
            check: { subject in
                guard subject.document.kind == .template else { return [] }
                return volumes(subject, kind: .ebsAtLaunch).compactMap { task, volume in
                    guard let name = volume.name.value else { return nil }
                    let services = subject.document.services(using: task)
                    let configured = services.contains { $0.volumeConfigurations.contains { $0.name.value == name && $0.managedEBS } }
                    guard !configured else { return nil }
                    let why = services.isEmpty
                        ? "no AWS::ECS::Service in this template runs \(task.label)"
                        : "service \(services.map { quoted($0.logicalID) }.joined(separator: ", ")) has no VolumeConfigurations entry named \(quoted(name)) with ManagedEBSVolume"
                    return LintHit(volume.kindAt, "\(volumeLabel(volume, task)) is configured at launch, but \(why); add one (ManagedEBSVolume with RoleArn and SizeInGiB or SnapshotId) or pass volumeConfigurations to run-task")
                }
            }),
        LintRule(
            "BL011", .warning, name: "ebs-volume-per-task-not-shared",
            title: "One EBS volume configuration for a service of several tasks that write to it",
            help: "ECS creates one EBS volume for each task of a service from its volume configuration: the tasks do not share a disk, and what one writes the others never see. Use EFS for data the tasks share; keep EBS for data each task owns, or mount it readOnly from a snapshotId for read-only data.",
            source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceVolumeConfiguration.html",
            triggering: [Examples.ebsServiceOfThree],
            nonTriggering: [Examples.ebsTemplateWithService],
            check: { subject in
                subject.document.services.flatMap { service -> [LintHit] in
                    guard let count = service.desiredCount?.value, count > 1,
                          let task = subject.document.taskDefinitions.first(where: { $0.logicalID != nil && $0.logicalID == service.taskDefinitionRef })
                    else { return [] }
                    return service.volumeConfigurations.compactMap { configuration in
                        guard configuration.managedEBS, let name = configuration.name.value,
                              mounts(of: name, in: task).contains(where: { $0.mount.isWritable }) else { return nil }
                        return LintHit(configuration.name.at, "service \(quoted(service.logicalID)) runs \(count) tasks (DesiredCount: \(count)) and ECS gives each its own EBS volume from volume configuration \(quoted(name)); they do not share one disk and a write by one task is not seen by the others: use EFS for shared data, or mount it readOnly from a snapshot")
                    }
                }
            }),
        LintRule(
            "BL012", .warning, name: "database-on-shared-file-system",
            title: "A database image on an EFS or FSx volume",
            help: "PostgreSQL, MySQL, MariaDB, MongoDB and SQL Server expect a block device for their data files: on a network file system they run slower and rely on its locking and consistency. AWS names EBS volumes for transactional workloads such as databases; FSx for Windows File Server suits SQL Server on Windows with its own guidance. Use an EBS volume configured at launch, or a managed database.",
            source: storageOptions,
            triggering: [Examples.postgresOnEFS],
            nonTriggering: [Examples.postgresOnEBS],
            check: { subject in
                writableSharedMounts(subject).compactMap { task, container, mount, volume in
                    guard let engine = databaseEngine(container.image) else { return nil }
                    return LintHit(mount.sourceVolume?.at ?? mount.at, "container \(quoted(container.name, or: "?")) runs \(engine) (\(quoted(container.image))) with its data on \(serviceName(volume.kind)) volume \(quoted(volume.name.value, or: "?")) at \(quoted(mount.containerPath, or: "?")); databases belong on block storage: use an EBS volume configured at launch (or a managed database)")
                }
            }),
        LintRule(
            "BL013", .warning, name: "sqlite-on-shared-file-system",
            title: "SQLite files on a shared (EFS or FSx) volume",
            help: "SQLite relies on file locks that network file systems implement differently, and its WAL mode does not work over a network file system at all (sqlite.org/wal.html). EFS gives close-to-open consistency and advisory NFS locks: several tasks writing one SQLite file see \"database is locked\" errors or corrupt it. Keep SQLite on a volume one task owns (EBS configured at launch), or move the data to a database server.",
            source: "https://docs.aws.amazon.com/efs/latest/ug/features.html",
            triggering: [Examples.sqliteOnEFS],
            nonTriggering: [Examples.sqliteOnEBS],
            check: { subject in
                writableSharedMounts(subject).compactMap { task, container, mount, volume in
                    guard let file = sqliteFile(container, mount) else { return nil }
                    return LintHit(mount.sourceVolume?.at ?? mount.at, "container \(quoted(container.name, or: "?")) keeps SQLite file \(quoted(file)) on \(serviceName(volume.kind)) volume \(quoted(volume.name.value, or: "?")); SQLite's locking and WAL need a local file system: use an EBS volume configured at launch for it, one task at a time")
                }
            }),
        LintRule(
            "BL014", .warning, name: "efs-one-zone-multi-az-service",
            title: "An EFS One Zone file system serving a service spread over several AZs",
            help: "A One Zone file system (AvailabilityZoneName) has its data and its single mount target in one AZ: tasks placed in the service's other subnets reach it across AZs at best, and all of them lose it when its AZ fails. Use a Regional file system (omit AvailabilityZoneName) for a multi-AZ service, or keep the service in the file system's AZ.",
            source: "https://docs.aws.amazon.com/efs/latest/ug/availability-durability.html",
            triggering: [Examples.oneZoneService],
            nonTriggering: [Examples.regionalService],
            check: { subject in
                multiAZServiceHits(subject) { volume in
                    guard volume.kind == .efs, let ref = volume.efs?.fileSystemRef,
                          let fs = subject.document.fileSystems[ref], fs.type == "AWS::EFS::FileSystem",
                          let zone = fs.availabilityZone else { return nil }
                    return "EFS One Zone file system \(quoted(ref)) (AvailabilityZoneName: \(quoted(zone.value, or: "(from the template)")))"
                }
            }),
        LintRule(
            "BL015", .warning, name: "fsx-single-az-multi-az-service",
            title: "A single-AZ FSx file system serving a service spread over several AZs",
            help: "A Single-AZ FSx deployment (SINGLE_AZ_1, SINGLE_AZ_2) lives in one AZ: when that AZ fails, the tasks in the service's other AZs lose their share too. Use MULTI_AZ_1 for a service that must survive an AZ failure.",
            source: "https://docs.aws.amazon.com/fsx/latest/WindowsGuide/high-availability-multiAZ.html",
            triggering: [Examples.singleAZFSxService],
            nonTriggering: [Examples.multiAZFSxService],
            check: { subject in
                multiAZServiceHits(subject) { volume in
                    guard volume.kind == .fsxWindows, let ref = volume.fsxFileSystemRef,
                          let fs = subject.document.fileSystems[ref], fs.type == "AWS::FSx::FileSystem",
                          let deployment = fs.deploymentType?.value, deployment.uppercased().hasPrefix("SINGLE_AZ") else { return nil }
                    return "FSx file system \(quoted(ref)) (DeploymentType: \(deployment))"
                }
            }),
        LintRule(
            "BL016", .note, name: "reference-data-not-read-only",
            title: "Reference data mounted writable",
            help: "A volume of reference data (named like reference, static or config, or listed under the task definition's Metadata Berth ReferenceData in a template) is read, not written: mount it with readOnly: true so that no task can change it by mistake, and so that it can be served from a snapshot per task.",
            source: apiMountPoint,
            triggering: [Examples.referenceWritable, Examples.markedReferenceWritable],
            nonTriggering: [Examples.referenceReadOnly, Examples.markedReferenceReadOnly, Examples.markedWrittenWritable],
            check: { subject in
                subject.document.taskDefinitions.flatMap { task in
                    task.containers.flatMap { container in
                        container.mountPoints.compactMap { mount -> LintHit? in
                            guard let name = mount.sourceVolume?.value, mount.isWritable, !task.writtenVolumes.contains(name),
                                  task.referenceDataVolumes.contains(name) || looksLikeReferenceData(name) || looksLikeReferenceData(mount.containerPath ?? "")
                            else { return nil }
                            let why = task.referenceDataVolumes.contains(name) ? "the template's Metadata marks it as reference data" : "its name or path says it holds reference data"
                            let state = mount.readOnly == nil ? "readOnly is not set (false by default)" : "readOnly is false"
                            return LintHit(mount.readOnly?.at ?? mount.sourceVolume?.at ?? mount.at, "container \(quoted(container.name, or: "?")) mounts volume \(quoted(name)) at \(quoted(mount.containerPath, or: "?")) writable; \(why) but \(state): set readOnly: true")
                        }
                    }
                }
            }),
        LintRule(
            "BL017", .warning, name: "written-volume-read-only",
            title: "A volume the workload writes mounted readOnly",
            help: "A database's data directory, an SQLite file, or a volume the template's Metadata (Berth Writes) marks as written cannot be mounted readOnly: the first write fails at run time. Remove readOnly or set it to false.",
            source: apiMountPoint,
            triggering: [Examples.databaseReadOnly, Examples.markedWrittenReadOnly],
            nonTriggering: [Examples.postgresOnEBS, Examples.markedWrittenWritable, Examples.markedReferenceReadOnly],
            check: { subject in
                subject.document.taskDefinitions.flatMap { task in
                    task.containers.flatMap { container in
                        container.mountPoints.compactMap { mount -> LintHit? in
                            guard mount.isReadOnly, let readOnly = mount.readOnly, let name = mount.sourceVolume?.value else { return nil }
                            let why: String
                            if task.writtenVolumes.contains(name) {
                                why = "the template's Metadata marks volume \(quoted(name)) as written"
                            } else if let engine = databaseEngine(container.image) {
                                why = "\(engine) (\(quoted(container.image))) writes its data there"
                            } else if let file = sqliteFile(container, mount) {
                                why = "SQLite writes \(quoted(file)) there"
                            } else {
                                return nil
                            }
                            return LintHit(readOnly.at, "container \(quoted(container.name, or: "?")) mounts volume \(quoted(name)) at \(quoted(mount.containerPath, or: "?")) with readOnly: true, but \(why); the first write would fail: remove readOnly")
                        }
                    }
                }
            }),
        LintRule(
            "BL018", .error, name: "several-volumes-configured-at-launch",
            title: "More than one volume configured at launch in one task definition",
            help: "A task definition revision may have only one volume with configuredAtLaunch: true. Mount that one volume at several paths if containers need it in several places.",
            source: apiVolume,
            triggering: [Examples.twoAtLaunch],
            nonTriggering: [Examples.postgresOnEBS],
            check: { subject in
                subject.document.taskDefinitions.flatMap { task -> [LintHit] in
                    let atLaunch = task.volumes.filter { $0.kind == .ebsAtLaunch }
                    guard atLaunch.count > 1, let first = atLaunch.first else { return [] }
                    return atLaunch.dropFirst().map { volume in
                        LintHit(volume.kindAt, "\(volumeLabel(volume, task)) is configured at launch, but so is \(quoted(first.name.value, or: "?")); a task definition may have only one volume configured at launch")
                    }
                }
            }),
    ]

    public static func rule(id: String) -> LintRule? { all.first { $0.id == id } }

    // MARK: Helpers the checks share

    static func volumes(_ subject: LintSubject, kind: VolumeKind) -> [(TaskDefinitionModel, VolumeModel)] {
        subject.document.taskDefinitions.flatMap { task in task.volumes.filter { $0.kind == kind }.map { (task, $0) } }
    }

    static func mounts(of volume: String, in task: TaskDefinitionModel) -> [(container: ContainerModel, mount: MountPointModel)] {
        task.containers.flatMap { container in
            container.mountPoints.filter { $0.sourceVolume?.value == volume }.map { (container, $0) }
        }
    }

    /// Writable mounts of EFS and FSx for Windows volumes: the shared network file systems.
    static func writableSharedMounts(_ subject: LintSubject)
        -> [(TaskDefinitionModel, ContainerModel, MountPointModel, VolumeModel)]
    {
        subject.document.taskDefinitions.flatMap { task in
            task.containers.flatMap { container in
                container.mountPoints.compactMap { mount in
                    guard mount.isWritable, let name = mount.sourceVolume?.value, let volume = task.volume(named: name),
                          volume.kind == .efs || volume.kind == .fsxWindows else { return nil }
                    return (task, container, mount, volume)
                }
            }
        }
    }

    /// Services of several subnets whose task definition mounts a file system `describe` says lives in one AZ.
    static func multiAZServiceHits(_ subject: LintSubject, describe: (VolumeModel) -> String?) -> [LintHit] {
        subject.document.services.flatMap { service -> [LintHit] in
            guard let subnets = service.subnets, let count = subnets.value, count > 1,
                  let task = subject.document.taskDefinitions.first(where: { $0.logicalID != nil && $0.logicalID == service.taskDefinitionRef })
            else { return [] }
            return task.volumes.compactMap { volume in
                guard let what = describe(volume) else { return nil }
                return LintHit(subnets.at, "service \(quoted(service.logicalID)) places tasks in \(count) subnets, but volume \(quoted(volume.name.value, or: "?")) is on \(what), which lives in one AZ; when that AZ fails the tasks in the other AZs lose it too: use a multi-AZ file system, or keep the service in that AZ")
            }
        }
    }

    static func volumeLabel(_ volume: VolumeModel, _ task: TaskDefinitionModel) -> String {
        let name = "volume \(quoted(volume.name.value, or: "?"))"
        return task.logicalID.map { "\(name) of task definition \($0)" } ?? name
    }

    static func serviceName(_ kind: VolumeKind) -> String {
        switch kind {
        case .efs: "EFS"
        case .fsxWindows: "FSx for Windows File Server"
        case .ebsAtLaunch: "EBS"
        case .host: "host"
        case .docker: "Docker"
        case .s3files: "S3 Files"
        case .bindMount: "bind mount"
        }
    }

    static func quoted(_ text: String?, or fallback: String = "?") -> String {
        guard let text else { return fallback }
        let short = text.count > 80 ? String(text.prefix(79)) + "…" : text
        return "\"\(short)\""
    }

    /// The database engine an image runs, from its repository's last path component (tag and digest
    /// removed): `postgres:16`, `public.ecr.aws/docker/library/mysql`, `mcr.microsoft.com/mssql/server`.
    static func databaseEngine(_ image: String?) -> String? {
        guard let image else { return nil }
        var repository = image.lowercased()
        if let at = repository.firstIndex(of: "@") { repository = String(repository[..<at]) }
        if let colon = repository.lastIndex(of: ":"), !repository[colon...].contains("/") {
            repository = String(repository[..<colon])
        }
        if repository.contains("mssql/server") || repository.contains("mssql/rhel/server") { return "SQL Server" }
        let last = repository.split(separator: "/").last.map(String.init) ?? repository
        let engines = [
            "postgres": "PostgreSQL", "postgresql": "PostgreSQL", "postgis": "PostgreSQL", "mysql": "MySQL", "mysql-server": "MySQL",
            "mariadb": "MariaDB", "mongo": "MongoDB", "mongodb": "MongoDB", "mongodb-community-server": "MongoDB",
            "mongodb-enterprise-server": "MongoDB", "sqlserver": "SQL Server", "mssql-server-linux": "SQL Server", "mssql": "SQL Server",
        ]
        return engines[last]
    }

    static let sqliteExtensions = [".db", ".sqlite", ".sqlite3", ".db3"]

    /// An SQLite file the container keeps under the mount: the mount path itself, or a path under it
    /// in an environment value (`DATABASE_URL=sqlite:////data/app.db`, `Data Source=/data/app.db`).
    static func sqliteFile(_ container: ContainerModel, _ mount: MountPointModel) -> String? {
        guard let path = mount.containerPath, path.count > 1 else { return nil }
        func isSQLite(_ text: String) -> Bool {
            let lowered = text.lowercased()
            return sqliteExtensions.contains { lowered.hasSuffix($0) }
        }
        if isSQLite(path) { return path }
        let base = path.hasSuffix("/") || path.hasSuffix("\\") ? String(path.dropLast()) : path
        for value in container.environment {
            let tokens = value.split(whereSeparator: { $0 == " " || $0 == "=" || $0 == ";" || $0 == "," || $0 == "\"" || $0 == "'" })
            for token in tokens.map(String.init) where isSQLite(token) {
                if token.contains(base + "/") || token.contains(base + "\\") { return token }
            }
        }
        return nil
    }

    static let referenceWords: Set<String> = ["reference", "referencedata", "refdata", "static", "config", "configs", "configuration"]

    static func looksLikeReferenceData(_ text: String) -> Bool {
        text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).contains { referenceWords.contains(String($0)) }
    }
}
