/// The storage services' facts, each with the source that states it: the one table that the planner's
/// rules and the emulator's mount-time checks both read, so that a fact changes in one place.
public enum Catalog {
    public static func facts(_ service: ServiceID) -> ServiceFacts {
        switch service {
        case .ebs: ebs
        case .efs: efs
        case .fsxLustre: fsxLustre
        case .fsxWindows: fsxWindows
        case .fsxOpenZFS: fsxOpenZFS
        case .fsxONTAP: fsxONTAP
        }
    }

    public static let all: [ServiceFacts] = ServiceID.allCases.map(facts)

    /// How a task on `platform` can get `service`, per the ECS storage options table.
    public static func support(_ service: ServiceID, on platform: Platform) -> Sourced<PlatformSupport> {
        facts(service).platforms[platform] ?? Sourced(.unsupported("no ECS volume type for it"), ecsStorageOptions)
    }

    /// The platforms on which a service is available, for "what change would make it fit".
    public static func platforms(supporting service: ServiceID) -> [Platform] {
        Platform.all.filter { support(service, on: $0).value.isSupported }
    }

    // MARK: Sources used throughout

    // Each fact cites the AWS page that states it; where the course text Berth started from says the same,
    // its section follows as a secondary reference (heading in English). Checked 2026-11-26.
    public static let seedEBS = Source.aws("AmazonECS/latest/developerguide/ebs-volumes.html")
        + .course("Amazon Elastic Block Store (Amazon EBS)")
    public static let seedEFS = Source.aws("AmazonECS/latest/developerguide/efs-volumes.html")
        + .course("Amazon Elastic File System (Amazon EFS)")
    public static let seedLustre = Source.aws("fsx/latest/LustreGuide/what-is.html") + .course("Amazon FSx for Lustre")
    public static let seedWindows = Source.aws("fsx/latest/WindowsGuide/what-is.html")
        + .course("Amazon FSx for Windows File Server")
    public static let seedOthers = Source.aws("AmazonECS/latest/developerguide/using_data_volumes.html")
        + .course("Other persistent storage options")
    public static let seedFargateWindows = Source.aws("AmazonECS/latest/developerguide/AWS_Fargate.html")
        + .course(".NET on Windows containers in AWS Fargate")
    public static let seedFargateChoice = Source.aws("AmazonECS/latest/developerguide/AWS_Fargate.html")
        + .course("Choosing between Amazon ECS and Amazon ECS on AWS Fargate")
    public static let seedFargate = Source.aws("AmazonECS/latest/developerguide/AWS_Fargate.html")
        + .course("Introduction to AWS Fargate")
    public static let linuxContainerStorage = Source.aws("AmazonECS/latest/developerguide/using_data_volumes.html")
        + .course("Persistent storage options for Linux containers")
    public static let windowsContainerStorage = Source.aws("AmazonECS/latest/developerguide/using_data_volumes.html")
        + .course("Persistent storage options for Windows containers")
    public static let openZFSWhatIs = Source.aws("fsx/latest/OpenZFSGuide/what-is-fsx.html")
    public static let ontapWhatIs = Source.aws("fsx/latest/ONTAPGuide/what-is-fsx-ontap.html")
    public static let ecsStorageOptions = Source.aws("AmazonECS/latest/developerguide/using_data_volumes.html")
    public static let ecsVolumeAPI = Source.aws("AmazonECS/latest/APIReference/API_Volume.html")
    public static let ecsManagedEBS = Source.aws("AmazonECS/latest/developerguide/ebs-volumes.html")
    public static let ebsVolumeTypes = Source.aws("ebs/latest/userguide/ebs-volume-types.html")
    public static let efsPerformance = Source.aws("efs/latest/ug/performance.html")
    public static let efsStorageClasses = Source.aws("efs/latest/ug/storage-classes.html")
    public static let lustreDeployment = Source.aws("fsx/latest/LustreGuide/using-fsx-lustre.html")
    public static let lustreECS = Source.aws("fsx/latest/LustreGuide/mounting-ecs.html")
    public static let windowsDeployment = Source.aws("fsx/latest/WindowsGuide/high-availability-multiAZ.html")
    public static let openZFSDeployment = Source.aws("fsx/latest/OpenZFSGuide/availability-durability.html")
    public static let ontapDeployment = Source.aws("fsx/latest/ONTAPGuide/high-availability-AZ.html")
    /// Fargate Windows and FSx for Windows File Server: the course text says both; Berth follows the ECS
    /// storage options table and the open roadmap request for it.
    public static let fargateNoFSxWindows = ecsStorageOptions
        + .github("aws/containers-roadmap/issues/1654", "open request: FSx for Fargate Windows containers")
        + .course("Choosing between Amazon ECS and Amazon ECS on AWS Fargate")

    // MARK: The six services

    static let ebs = ServiceFacts(
        id: .ebs,
        name: "Amazon EBS",
        protocols: Sourced([.block], seedEBS),
        concurrentTasks: Sourced(.one, seedEBS),
        zones: Sourced(.singleAZ, seedEBS),
        deployments: [],
        platforms: [
            Platform(os: .linux, launchType: .ec2): Sourced(.native, ecsStorageOptions),
            Platform(os: .linux, launchType: .fargate): Sourced(.native, ecsStorageOptions),
            Platform(os: .windows, launchType: .ec2): Sourced(.native, ecsStorageOptions),
            Platform(os: .windows, launchType: .fargate): Sourced(
                .unsupported("ECS-managed EBS volumes are not supported for Windows tasks on Fargate"), ecsStorageOptions),
        ],
        features: Sourced([.snapshots, .encryptionAtRest, .encryptionInTransit, .automaticBackups, .sqlServer],
                          seedEBS + Source.aws("ebs/latest/userguide/ebs-snapshots.html")),
        latency: Sourced(.subMillisecond, ebsVolumeTypes),
        maxThroughputMiBps: Sourced(4_000, ebsVolumeTypes),
        maxIOPS: Sourced(256_000, ebsVolumeTypes),
        fargateLimits: Sourced(FargateLimits(maxIOPS: 15_000, maxThroughputMiBps: 500), ecsManagedEBS),
        capacityGiB: Sourced(1...65_536, ebsVolumeTypes),
        elastic: Sourced(false, seedEBS),
        replicatedAcrossAZs: Sourced(false, seedEBS)
    )

    static let efs = ServiceFacts(
        id: .efs,
        name: "Amazon EFS",
        protocols: Sourced([.nfs], seedEFS),
        concurrentTasks: Sourced(.many, seedEFS),
        zones: Sourced(.storageClass, seedEFS),
        deployments: [],
        platforms: [
            Platform(os: .linux, launchType: .ec2): Sourced(.native, ecsStorageOptions),
            Platform(os: .linux, launchType: .fargate): Sourced(.native, ecsStorageOptions),
            Platform(os: .windows, launchType: .ec2): Sourced(
                .unsupported("EFS is mounted by Linux container instances only"), seedEFS + ecsStorageOptions),
            Platform(os: .windows, launchType: .fargate): Sourced(
                .unsupported("Fargate Windows does not support EFS volumes"), seedFargateWindows),
        ],
        features: Sourced([.encryptionAtRest, .encryptionInTransit, .automaticBackups], seedEFS),
        latency: Sourced(.low, efsPerformance),
        maxThroughputMiBps: Sourced(20_000, efsPerformance),
        maxIOPS: Sourced(2_500_000, efsPerformance),
        fargateLimits: nil,
        capacityGiB: nil,
        elastic: Sourced(true, seedEFS),
        replicatedAcrossAZs: Sourced(true, seedEFS)
    )

    static let fsxLustre = ServiceFacts(
        id: .fsxLustre,
        name: "Amazon FSx for Lustre",
        protocols: Sourced([.lustre], seedLustre),
        concurrentTasks: Sourced(.many, seedLustre),
        zones: Sourced(.singleAZ, lustreDeployment),
        deployments: [],
        platforms: [
            Platform(os: .linux, launchType: .ec2): Sourced(
                .hostMount("mount the file system on the container instance (lustre-client) and bind it into the task"),
                seedLustre + lustreECS),
            Platform(os: .linux, launchType: .fargate): Sourced(
                .unsupported("tasks on AWS Fargate do not support FSx for Lustre file systems"), seedLustre + lustreECS),
            Platform(os: .windows, launchType: .ec2): Sourced(
                .unsupported("FSx for Lustre is a storage option for Linux containers only"),
                linuxContainerStorage),
            Platform(os: .windows, launchType: .fargate): Sourced(
                .unsupported("Fargate Windows supports no FSx file systems"), seedFargateWindows),
        ],
        features: Sourced([.s3DataRepository, .encryptionAtRest, .encryptionInTransit, .automaticBackups], seedLustre),
        latency: Sourced(.subMillisecond, seedLustre),
        maxThroughputMiBps: Sourced(1_000_000, lustreDeployment),
        maxIOPS: Sourced(10_000_000, lustreDeployment),
        fargateLimits: nil,
        capacityGiB: Sourced(1_200...10_000_000, lustreDeployment),
        elastic: Sourced(false, lustreDeployment),
        replicatedAcrossAZs: Sourced(false, lustreDeployment)
    )

    static let fsxWindows = ServiceFacts(
        id: .fsxWindows,
        name: "Amazon FSx for Windows File Server",
        protocols: Sourced([.smb], seedWindows),
        concurrentTasks: Sourced(.many, seedWindows),
        zones: Sourced(.deployment, windowsDeployment),
        deployments: [.singleAZ, .multiAZ],
        platforms: [
            Platform(os: .windows, launchType: .ec2): Sourced(.native, seedWindows + ecsStorageOptions),
            Platform(os: .linux, launchType: .ec2): Sourced(
                .hostMount("mount the SMB share on the container instance (cifs) and bind it into the task"), seedWindows),
            Platform(os: .windows, launchType: .fargate): Sourced(
                .unsupported("AWS Fargate does not support FSx for Windows File Server"), fargateNoFSxWindows),
            Platform(os: .linux, launchType: .fargate): Sourced(
                .unsupported("AWS Fargate does not support FSx for Windows File Server"), fargateNoFSxWindows),
        ],
        features: Sourced([.activeDirectory, .acls, .userQuotas, .shadowCopies, .deduplication, .compression,
                           .automaticBackups, .encryptionAtRest, .encryptionInTransit, .sqlServer, .snapshots], seedWindows),
        latency: Sourced(.subMillisecond, Source.aws("fsx/latest/WindowsGuide/performance.html")),
        maxThroughputMiBps: Sourced(12_288, Source.aws("fsx/latest/WindowsGuide/performance.html")),
        maxIOPS: Sourced(400_000, Source.aws("fsx/latest/WindowsGuide/performance.html")),
        fargateLimits: nil,
        capacityGiB: Sourced(32...65_536, Source.aws("fsx/latest/WindowsGuide/limits.html")),
        elastic: Sourced(false, windowsDeployment),
        replicatedAcrossAZs: Sourced(false, windowsDeployment)
    )

    static let fsxOpenZFS = ServiceFacts(
        id: .fsxOpenZFS,
        name: "Amazon FSx for OpenZFS",
        protocols: Sourced([.nfs], seedOthers),
        concurrentTasks: Sourced(.many, seedOthers),
        zones: Sourced(.deployment, openZFSDeployment),
        deployments: [.singleAZ, .multiAZ],
        platforms: [
            Platform(os: .linux, launchType: .ec2): Sourced(
                .hostMount("mount the NFS export on the container instance and bind it into the task"), seedOthers + ecsStorageOptions),
            Platform(os: .linux, launchType: .fargate): Sourced(
                .unsupported("ECS on Fargate has no volume type for FSx for OpenZFS"),
                ecsStorageOptions + .github("aws/containers-roadmap/issues/2323", "open request: FSx for OpenZFS on Fargate")),
            Platform(os: .windows, launchType: .ec2): Sourced(
                .unsupported("FSx for OpenZFS serves NFS for Linux file-server workloads; Windows containers get no ECS volume for it"),
                seedOthers + ecsStorageOptions),
            Platform(os: .windows, launchType: .fargate): Sourced(
                .unsupported("Fargate Windows supports no FSx file systems"), seedFargateWindows),
        ],
        features: Sourced([.snapshots, .clones, .compression, .userQuotas, .automaticBackups,
                           .encryptionAtRest, .encryptionInTransit], openZFSWhatIs),
        latency: Sourced(.subMillisecond, Source.aws("fsx/latest/OpenZFSGuide/performance.html")),
        maxThroughputMiBps: Sourced(21_000, Source.aws("fsx/latest/OpenZFSGuide/performance.html")),
        maxIOPS: Sourced(1_000_000, Source.aws("fsx/latest/OpenZFSGuide/performance.html")),
        fargateLimits: nil,
        capacityGiB: Sourced(64...524_288, openZFSDeployment),
        elastic: Sourced(false, openZFSDeployment),
        replicatedAcrossAZs: Sourced(false, openZFSDeployment)
    )

    static let fsxONTAP = ServiceFacts(
        id: .fsxONTAP,
        name: "Amazon FSx for NetApp ONTAP",
        protocols: Sourced([.nfs, .smb, .iscsi], seedOthers),
        concurrentTasks: Sourced(.many, seedOthers),
        zones: Sourced(.deployment, ontapDeployment),
        deployments: [.singleAZ, .multiAZ],
        platforms: [
            Platform(os: .linux, launchType: .ec2): Sourced(
                .hostMount("mount the NFS export or iSCSI LUN on the container instance and bind it into the task"),
                seedOthers + ecsStorageOptions),
            Platform(os: .windows, launchType: .ec2): Sourced(
                .hostMount("map the SMB share on the container instance and bind it into the task"), seedOthers + ecsStorageOptions),
            Platform(os: .linux, launchType: .fargate): Sourced(
                .unsupported("ECS on Fargate has no volume type for FSx for NetApp ONTAP"),
                ecsStorageOptions + .github("aws/containers-roadmap/issues/2464", "open request: FSx for ONTAP on Fargate")),
            Platform(os: .windows, launchType: .fargate): Sourced(
                .unsupported("Fargate Windows supports no FSx file systems"), seedFargateWindows),
        ],
        features: Sourced([.snapshots, .clones, .deduplication, .compression, .userQuotas, .acls, .activeDirectory,
                           .shadowCopies, .automaticBackups, .encryptionAtRest, .encryptionInTransit, .sqlServer],
                          ontapWhatIs),
        latency: Sourced(.subMillisecond, Source.aws("fsx/latest/ONTAPGuide/performance.html")),
        maxThroughputMiBps: Sourced(72_000, Source.aws("fsx/latest/ONTAPGuide/performance.html")),
        maxIOPS: Sourced(2_400_000, Source.aws("fsx/latest/ONTAPGuide/performance.html")),
        fargateLimits: nil,
        capacityGiB: Sourced(1_024...524_288, Limits.fsxCreate),
        elastic: Sourced(false, ontapDeployment),
        replicatedAcrossAZs: Sourced(false, ontapDeployment)
    )
}
