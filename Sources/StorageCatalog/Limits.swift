/// The sizes, steps, throughput tiers and performance limits AWS accepts for each service: the one table
/// that `berth recommend` (the configurator picks only values listed here) and `berth volume create` (it
/// refuses sizes not listed here, naming what would be accepted) both read. Every row names its AWS page
/// and the date it was checked; docs/RULES.md prints the table (`Limits.rows`).
public enum Limits {
    /// The date every row below was checked against the AWS documentation.
    public static let checked = "2026-11-26"

    // MARK: Sources

    public static let ecsManagedEBSAPI = Source.aws("AmazonECS/latest/APIReference/API_TaskManagedEBSVolumeConfiguration.html")
    public static let ec2CreateVolume = Source.aws("AWSEC2/latest/APIReference/API_CreateVolume.html")
    public static let ec2EbsBlockDevice = Source.aws("AWSEC2/latest/APIReference/API_EbsBlockDevice.html")
    public static let ebsTypes = Source.aws("ebs/latest/userguide/ebs-volume-types.html")
    public static let fsxCreate = Source.aws("fsx/latest/APIReference/API_CreateFileSystem.html")
    public static let lustreCapacity = Source.aws("fsx/latest/LustreGuide/managing-storage-capacity.html")
    public static let lustreThroughput = Source.aws("fsx/latest/APIReference/API_CreateFileSystemLustreConfiguration.html")
    public static let windowsConfig = Source.aws("fsx/latest/APIReference/API_CreateFileSystemWindowsConfiguration.html")
    public static let openZFSConfig = Source.aws("fsx/latest/APIReference/API_CreateFileSystemOpenZFSConfiguration.html")
    public static let ontapConfig = Source.aws("fsx/latest/APIReference/API_CreateFileSystemOntapConfiguration.html")
    public static let efsThroughputModes = Source.aws("efs/latest/ug/performance.html")

    // MARK: EBS

    /// gp3 since AWS's 2025 increase, as EC2's CreateVolume reference lists it (and its EbsBlockDevice and
    /// ModifyVolume entries): 1–65,536 GiB, 3,000–80,000 IOPS (at most 500 per GiB), 125–2,000 MiB/s (at most
    /// 0.25 MiB/s per IOPS). An ECS-managed volume is created by CreateVolume with these parameters ("maps 1:1"),
    /// so Berth plans with them; ECS's own reference still quotes the older figures (`gp3ECSReference`), and
    /// a plan beyond those says so (`Configurator.ebs`).
    public static let gp3 = EBSVolumeLimits(
        type: .gp3, sizesGiB: SizeSteps(range: 1...65_536), iops: 3_000...80_000, throughputMiBps: 125...2_000,
        maxIOPSPerGiB: 500, maxMiBpsPerIOPS: 0.25, source: ec2CreateVolume + ec2EbsBlockDevice + ebsTypes)
    /// What ECS's TaskManagedEBSVolumeConfiguration reference still lists for gp3 (checked `checked`):
    /// 1–16,384 GiB, 3,000–16,000 IOPS, at most 1,000 MiB/s. Not a planning limit: a plan above it carries a note.
    public static let gp3ECSReference = EBSVolumeLimits(
        type: .gp3, sizesGiB: SizeSteps(range: 1...16_384), iops: 3_000...16_000, throughputMiBps: 125...1_000,
        maxIOPSPerGiB: 500, maxMiBpsPerIOPS: 0.25, source: ecsManagedEBSAPI)
    /// io2 (Block Express): 100–256,000 IOPS, at most 1,000 IOPS per GiB, 4–65,536 GiB (EC2's CreateVolume and
    /// EbsBlockDevice; ECS's reference lists 4–16,384 GiB, see `io2ECSReferenceMaxGiB`).
    public static let io2 = EBSVolumeLimits(
        type: .io2, sizesGiB: SizeSteps(range: 4...65_536), iops: 100...256_000, throughputMiBps: nil,
        maxIOPSPerGiB: 1_000, maxMiBpsPerIOPS: nil, source: ec2CreateVolume + ec2EbsBlockDevice + ebsTypes)
    public static let io2ECSReferenceMaxGiB = 16_384

    public static func ebs(_ type: EBSVolumeType) -> EBSVolumeLimits {
        switch type {
        case .gp3: gp3
        case .io2: io2
        }
    }

    // MARK: FSx for Lustre

    static let lustreMaxGiB = Catalog.facts(.fsxLustre).capacityGiB?.value.upperBound ?? 1_200

    /// Every Lustre tier Berth can configure: deployment type, storage type, per-unit throughput and the
    /// sizes CreateFileSystem accepts for it.
    static let lustreSSDSizes = SizeSteps(first: [1_200], step: 2_400, range: 1_200...lustreMaxGiB)
    /// The tier with the most throughput per TiB.
    public static let lustreFastest = LustreTier(deploymentType: .persistent2, storageType: .ssd, perUnitMBpsPerTiB: 1_000, sizesGiB: lustreSSDSizes)
    public static let lustreTiers: [LustreTier] = {
        let ssd = lustreSSDSizes
        var tiers: [LustreTier] = []
        for perUnit in [125, 250, 500, 1_000] {
            tiers.append(LustreTier(deploymentType: .persistent2, storageType: .ssd, perUnitMBpsPerTiB: perUnit, sizesGiB: ssd))
        }
        for perUnit in [50, 100, 200] {
            tiers.append(LustreTier(deploymentType: .persistent1, storageType: .ssd, perUnitMBpsPerTiB: perUnit, sizesGiB: ssd))
        }
        tiers.append(LustreTier(deploymentType: .persistent1, storageType: .hdd, perUnitMBpsPerTiB: 12,
                                sizesGiB: SizeSteps(step: 6_000, range: 6_000...lustreMaxGiB)))
        tiers.append(LustreTier(deploymentType: .persistent1, storageType: .hdd, perUnitMBpsPerTiB: 40,
                                sizesGiB: SizeSteps(step: 1_800, range: 1_800...lustreMaxGiB)))
        tiers.append(LustreTier(deploymentType: .scratch2, storageType: .ssd, perUnitMBpsPerTiB: nil, sizesGiB: ssd))
        tiers.append(LustreTier(deploymentType: .scratch1, storageType: .ssd, perUnitMBpsPerTiB: nil,
                                sizesGiB: SizeSteps(first: [1_200, 2_400], step: 3_600, range: 1_200...lustreMaxGiB)))
        return tiers
    }()

    /// The sizes a Lustre file system of this deployment family and storage type accepts at some tier (what
    /// `berth volume create`, which has no per-unit throughput option, checks): persistent means PERSISTENT_1
    /// or PERSISTENT_2, scratch means SCRATCH_2.
    public static func lustreSizes(_ deployment: LustreDeployment, _ storage: LustreStorageType) -> [SizeSteps] {
        let types: Set<LustreDeploymentType> = deployment == .scratch ? [.scratch2] : [.persistent1, .persistent2]
        var seen: [SizeSteps] = []
        for tier in lustreTiers where types.contains(tier.deploymentType) && tier.storageType == storage && !seen.contains(tier.sizesGiB) {
            seen.append(tier.sizesGiB)
        }
        return seen
    }

    // MARK: FSx for Windows File Server

    /// SSD 32–65,536 GiB, HDD 2,000–65,536 GiB.
    public static func windowsSizes(_ storage: WindowsStorageType) -> SizeSteps {
        storage == .ssd ? SizeSteps(range: 32...65_536) : SizeSteps(range: 2_000...65_536)
    }
    /// Throughput capacity, MB/s. Two AWS pages disagree: the CreateFileSystemWindowsConfiguration reference
    /// still says "2 to the nth increments, between 2^3 (8) and 2^11 (2048)"; the performance page's tables
    /// and the quotas page ("Maximum throughput capacity 12,288 MBps") add 4,608, 6,144, 9,216 and 12,288
    /// MB/s, in six Regions only (`windowsLargeThroughputRegions`). Berth follows the performance and quotas
    /// pages, the newer statement, and says which Regions whenever it plans above 2,048 (docs/RULES.md).
    public static let windowsThroughputMBps = [8, 16, 32, 64, 128, 256, 512, 1_024, 2_048, 4_608, 6_144, 9_216, 12_288]
    /// The largest throughput capacity every Region offers.
    public static let windowsEveryRegionMaxMBps = 2_048
    public static let windowsLargeThroughputRegions =
        "US East (N. Virginia), US West (Oregon), US East (Ohio), Europe (Ireland), Asia Pacific (Tokyo) and Asia Pacific (Singapore)"
    public static let windowsPerformance = Source.aws("fsx/latest/WindowsGuide/performance.html")
    public static let windowsQuotas = Source.aws("fsx/latest/WindowsGuide/limits.html")

    // MARK: FSx SSD IOPS (Windows File Server, OpenZFS, ONTAP)

    /// FSx for Windows File Server, SSD: 3 IOPS per GiB by default, up to 500 per GiB and 400,000 per file
    /// system provisioned (96 at least); the file server's disk IOPS at each throughput capacity (baseline,
    /// MB/s → IOPS) from the performance page's table. HDD gives 12 IOPS per TiB baseline (80 burst).
    public static let windowsSSDIOPS = SSDIOPSLimits(
        automaticPerGiB: 3, maxPerGiB: 500, minimum: 96, maxPerFileSystem: 400_000,
        diskIOPSByThroughputMBps: [32: 2_000, 64: 4_000, 128: 6_000, 256: 10_000, 512: 20_000, 1_024: 40_000,
                                   2_048: 80_000, 4_608: 150_000, 6_144: 200_000, 9_216: 300_000, 12_288: 400_000],
        source: windowsPerformance + windowsQuotas)
    public static let windowsHDDIOPSPerTiB = 12

    /// FSx for OpenZFS: 3 IOPS per GiB by default (AUTOMATIC); USER_PROVISIONED up to 160,000 per file system
    /// on SINGLE_AZ_1 and 400,000 on SINGLE_AZ_2 and MULTI_AZ_1 (Multi-AZ: fewer in some Regions). The
    /// per-throughput disk IOPS are those of the SINGLE_AZ_1 table (64 MB/s: 2,500 … 4,096 MB/s: 160,000);
    /// the catalogue holds no per-throughput figures for SINGLE_AZ_2 and MULTI_AZ_1, only their maximum.
    public static func openZFSSSDIOPS(_ type: OpenZFSDeploymentType) -> SSDIOPSLimits {
        switch type {
        case .singleAZ1:
            SSDIOPSLimits(automaticPerGiB: 3, maxPerGiB: nil, minimum: nil, maxPerFileSystem: 160_000,
                          diskIOPSByThroughputMBps: [64: 2_500, 128: 5_000, 256: 10_000, 512: 20_000, 1_024: 40_000,
                                                     2_048: 80_000, 3_072: 120_000, 4_096: 160_000],
                          source: openZFSPerformance + openZFSCreating)
        case .singleAZ2, .multiAZ1:
            SSDIOPSLimits(automaticPerGiB: 3, maxPerGiB: nil, minimum: nil, maxPerFileSystem: 400_000,
                          diskIOPSByThroughputMBps: [:], source: openZFSCreating)
        }
    }
    public static let openZFSPerformance = Source.aws("fsx/latest/OpenZFSGuide/performance.html")
    public static let openZFSCreating = Source.aws("fsx/latest/OpenZFSGuide/creating-file-systems.html")

    /// FSx for ONTAP (one HA pair): 3 IOPS per GiB by default; first generation (SINGLE_AZ_1, MULTI_AZ_1) up to
    /// 4 GB/s and 160,000 SSD IOPS, per throughput capacity 128: 6,000, 256: 12,000, 512: 18,750, 1,024:
    /// 40,000, 2,048: 80,000, 4,096: 160,000; second generation (SINGLE_AZ_2, MULTI_AZ_2) up to 6 GB/s and
    /// 200,000 SSD IOPS per HA pair (no per-throughput figures below 6,144 MB/s in the catalogue).
    public static func ontapSSDIOPS(_ type: ONTAPDeploymentType) -> SSDIOPSLimits {
        switch type {
        case .singleAZ1, .multiAZ1:
            SSDIOPSLimits(automaticPerGiB: 3, maxPerGiB: nil, minimum: nil, maxPerFileSystem: 160_000,
                          diskIOPSByThroughputMBps: [128: 6_000, 256: 12_000, 512: 18_750, 1_024: 40_000, 2_048: 80_000,
                                                     4_096: 160_000],
                          source: ontapPerformance + ontapHAPairs)
        case .singleAZ2, .multiAZ2:
            SSDIOPSLimits(automaticPerGiB: 3, maxPerGiB: nil, minimum: nil, maxPerFileSystem: 200_000,
                          diskIOPSByThroughputMBps: [6_144: 200_000], source: ontapHAPairs + ontapStorageIOPS)
        }
    }
    public static let ontapPerformance = Source.aws("fsx/latest/ONTAPGuide/performance.html")
    public static let ontapHAPairs = Source.aws("fsx/latest/ONTAPGuide/HA-pairs.html")
    public static let ontapStorageIOPS = Source.aws("fsx/latest/ONTAPGuide/storage-capacity-and-IOPS.html")

    // MARK: FSx for OpenZFS

    public static let openZFSSizes = SizeSteps(range: 64...524_288)
    public static func openZFSThroughputMBps(_ type: OpenZFSDeploymentType) -> [Int] {
        switch type {
        case .singleAZ1: [64, 128, 256, 512, 1_024, 2_048, 3_072, 4_096]
        case .singleAZ2, .multiAZ1: [160, 320, 640, 1_280, 2_560, 3_840, 5_120, 7_680, 10_240]
        }
    }

    // MARK: FSx for NetApp ONTAP (one HA pair)

    public static let ontapSizes = SizeSteps(range: 1_024...524_288)
    public static func ontapThroughputMBps(_ type: ONTAPDeploymentType) -> [Int] {
        switch type {
        case .singleAZ1, .multiAZ1: [128, 256, 512, 1_024, 2_048, 4_096]
        case .singleAZ2: [1_536, 3_072, 6_144]
        case .multiAZ2: [384, 768, 1_536, 3_072, 6_144]
        }
    }

    /// The sizes `berth volume create --type <service>` accepts, each set with its source; nil for EFS
    /// (elastic). Lustre needs its deployment and storage type; Windows its storage type (Berth's emulated
    /// FSx for Windows volumes are SSD).
    public static func acceptedSizes(
        _ service: ServiceID, lustre: (LustreDeployment, LustreStorageType)? = nil
    ) -> Sourced<[SizeSteps]>? {
        switch service {
        case .ebs: Sourced([SizeSteps(range: gp3.sizesGiB.range)], gp3.source)
        case .efs: nil
        case .fsxLustre:
            Sourced(lustreSizes(lustre?.0 ?? .persistent, lustre?.1 ?? .ssd), fsxCreate + lustreCapacity)
        case .fsxWindows: Sourced([windowsSizes(.ssd)], fsxCreate)
        case .fsxOpenZFS: Sourced([openZFSSizes], fsxCreate)
        case .fsxONTAP: Sourced([ontapSizes], fsxCreate)
        }
    }

    /// Nil when `gib` is accepted; otherwise what would be, in words with the source (for
    /// InvalidParameterValue).
    public static func refusal(sizeGiB gib: Int, _ service: ServiceID, lustre: (LustreDeployment, LustreStorageType)? = nil) -> String? {
        guard let accepted = acceptedSizes(service, lustre: lustre) else { return nil }
        if accepted.value.contains(where: { $0.accepts(gib) }) { return nil }
        let what = lustre.map { "\($0.0.rawValue) \($0.1.rawValue.uppercased()) FSx for Lustre file systems" } ?? "\(service) volumes"
        let options = accepted.value.map(\.description).joined(separator: "; or ")
        let nearest = accepted.value.compactMap { $0.smallest(atLeast: gib) }.min()
        return "\(what) are \(options), not \(gib) GiB\(nearest.map { " (the nearest larger size is \($0) GiB)" } ?? "") (\(accepted.source))"
    }

    /// The smallest size `volume create` accepts, its default for provisioned services other than EBS.
    public static func smallestSize(_ service: ServiceID, lustre: (LustreDeployment, LustreStorageType)? = nil) -> Int? {
        acceptedSizes(service, lustre: lustre)?.value.compactMap { $0.smallest(atLeast: 1) }.min()
    }

    // MARK: The table docs/RULES.md prints

    public static let rows: [LimitRow] = [
        LimitRow(.ebs, "gp3",
                 "1–65,536 GiB; 3,000–80,000 IOPS (at most 500 per GiB); 125–2,000 MiB/s (at most 0.25 MiB/s per IOPS); "
                 + "3,000 IOPS and 125 MiB/s included", gp3.source),
        LimitRow(.ebs, "gp3 as ECS's reference lists it",
                 "1–16,384 GiB, 3,000–16,000 IOPS, at most 1,000 MiB/s: ECS passes the values to CreateVolume 1:1, so Berth "
                 + "plans with CreateVolume's figures above and notes any plan beyond these", gp3ECSReference.source),
        LimitRow(.ebs, "io2 (Block Express)", "4–65,536 GiB (ECS's reference: to 16,384); 100–256,000 IOPS (at most 1,000 per GiB); "
                 + "for sub-millisecond latency", io2.source + ecsManagedEBSAPI),
        LimitRow(.ebs, "Fargate task", "at most 15,000 IOPS and 500 MiB/s per EBS volume (16 vCPU)", Catalog.ecsManagedEBS),
        LimitRow(.efs, "throughput modes", "elastic (what Berth configures), provisioned or bursting; capacity is elastic",
                 efsThroughputModes),
        LimitRow(.fsxLustre, "PERSISTENT_2 SSD", "125, 250, 500 or 1,000 MB/s per TiB; 1,200 GiB, 2,400 GiB, then multiples of 2,400 GiB",
                 lustreThroughput + fsxCreate),
        LimitRow(.fsxLustre, "PERSISTENT_1 SSD", "50, 100 or 200 MB/s per TiB; 1,200 GiB, 2,400 GiB, then multiples of 2,400 GiB",
                 lustreThroughput + fsxCreate),
        LimitRow(.fsxLustre, "PERSISTENT_1 HDD", "12 MB/s per TiB in multiples of 6,000 GiB; 40 MB/s per TiB in multiples of 1,800 GiB; "
                 + "a READ cache of up to 20% of the HDD storage", lustreThroughput + fsxCreate + lustreCapacity),
        LimitRow(.fsxLustre, "SCRATCH_2 / SCRATCH_1 SSD", "SCRATCH_2: 1,200 GiB, 2,400 GiB, then multiples of 2,400; SCRATCH_1: 1,200, "
                 + "2,400, then multiples of 3,600 GiB; no backups", fsxCreate),
        LimitRow(.fsxLustre, "throughput", "storage capacity (TiB) × per-unit throughput (MB/s per TiB)", lustreCapacity),
        LimitRow(.fsxWindows, "storage", "SSD 32–65,536 GiB; HDD 2,000–65,536 GiB", fsxCreate),
        LimitRow(.fsxWindows, "throughput capacity", "8, 16, 32, 64, 128, 256, 512, 1,024 or 2,048 MB/s in every Region; 4,608, "
                 + "6,144, 9,216 or 12,288 MB/s in \(windowsLargeThroughputRegions) (the API reference still says 8–2,048)",
                 windowsPerformance + windowsQuotas + windowsConfig),
        LimitRow(.fsxWindows, "SSD IOPS", "3 per GiB (AUTOMATIC); USER_PROVISIONED 96–400,000, at most 500 per GiB; HDD: 12 per TiB "
                 + "baseline", windowsSSDIOPS.source),
        LimitRow(.fsxWindows, "disk IOPS per throughput capacity", iopsTable(windowsSSDIOPS), windowsPerformance),
        LimitRow(.fsxOpenZFS, "storage", "64–524,288 GiB", fsxCreate),
        LimitRow(.fsxOpenZFS, "throughput capacity", "SINGLE_AZ_1: 64–4,096 MB/s; SINGLE_AZ_2 and MULTI_AZ_1: 160, 320, 640, 1,280, "
                 + "2,560, 3,840, 5,120, 7,680 or 10,240 MB/s", openZFSConfig),
        LimitRow(.fsxOpenZFS, "SSD IOPS", "3 per GiB (AUTOMATIC); USER_PROVISIONED up to 160,000 (SINGLE_AZ_1) or 400,000 "
                 + "(SINGLE_AZ_2, MULTI_AZ_1; Multi-AZ fewer in some Regions)", openZFSCreating),
        LimitRow(.fsxOpenZFS, "disk IOPS per throughput capacity (SINGLE_AZ_1)", iopsTable(openZFSSSDIOPS(.singleAZ1)),
                 openZFSPerformance),
        LimitRow(.fsxONTAP, "storage (one HA pair)", "1,024–524,288 GiB", fsxCreate),
        LimitRow(.fsxONTAP, "throughput capacity (per HA pair)", "SINGLE_AZ_1 and MULTI_AZ_1: 128–4,096 MB/s; SINGLE_AZ_2: 1,536, "
                 + "3,072 or 6,144; MULTI_AZ_2: 384, 768, 1,536, 3,072 or 6,144 MB/s", ontapConfig),
        LimitRow(.fsxONTAP, "SSD IOPS", "3 per GiB (AUTOMATIC); first generation up to 160,000, second generation up to 200,000 "
                 + "per HA pair", ontapHAPairs + ontapStorageIOPS),
        LimitRow(.fsxONTAP, "disk IOPS per throughput capacity", "SINGLE_AZ_1 and MULTI_AZ_1: " + iopsTable(ontapSSDIOPS(.singleAZ1))
                 + "; SINGLE_AZ_2 and MULTI_AZ_2: 6,144 MB/s: 200,000", ontapPerformance + ontapHAPairs),
    ]

    /// Where two AWS pages disagree on a limit: what each says, which Berth follows and why. docs/RULES.md
    /// prints these under the limits table.
    public static let disagreements: [Disagreement] = [
        Disagreement(
            subject: "gp3 IOPS, throughput and size through ECS",
            statements: [
                "EC2's CreateVolume (and EbsBlockDevice, ModifyVolume) reference: gp3 takes 3,000–80,000 IOPS, 125–2,000 MiB/s and 1–65,536 GiB (AWS's 2025 increase)",
                "ECS's TaskManagedEBSVolumeConfiguration reference: gp3 3,000–16,000 IOPS, at most 1,000 MiB/s, 1–16,384 GiB, while saying each value \"maps 1:1\" to CreateVolume",
            ],
            followed: "CreateVolume's figures, for gp3 and for io2 sizes, because ECS creates the volume with CreateVolume; "
                + "a plan above ECS's older figures carries a note naming them, so that a refusal by ECS is not a surprise",
            source: ec2CreateVolume + ec2EbsBlockDevice + ecsManagedEBSAPI),
        Disagreement(
            subject: "FSx for Windows File Server's largest throughput capacity",
            statements: [
                "CreateFileSystemWindowsConfiguration reference: throughput capacity in powers of two from 8 to 2,048 MB/s",
                "Windows File Server performance page (its tables) and quotas page (\"Maximum throughput capacity 12,288 MBps\"): also 4,608, 6,144, 9,216 and 12,288 MB/s, in six Regions",
            ],
            followed: "the performance and quotas pages, the newer statement (the API text predates the larger file servers), "
                + "naming the six Regions whenever it plans above 2,048 MB/s",
            source: windowsPerformance + windowsQuotas + windowsConfig),
    ]

    /// "32 MB/s: 2,000; 64 MB/s: 4,000; …".
    static func iopsTable(_ limits: SSDIOPSLimits) -> String {
        limits.diskIOPSByThroughputMBps.sorted { $0.key < $1.key }
            .map { "\(SizeSteps.number($0.key)) MB/s: \(SizeSteps.number($0.value))" }.joined(separator: "; ")
    }
}

/// Two AWS statements of one limit that disagree, and which one Berth follows.
public struct Disagreement: Sendable {
    public let subject: String
    public let statements: [String]
    public let followed: String
    public let source: Source
}

/// One row of `Limits.rows`: a service, what is limited, the values, the source and the date checked.
public struct LimitRow: Sendable {
    public let service: ServiceID
    public let subject: String
    public let values: String
    public let source: Source
    public let checked: String

    init(_ service: ServiceID, _ subject: String, _ values: String, _ source: Source) {
        self.service = service
        self.subject = subject
        self.values = values
        self.source = source
        self.checked = Limits.checked
    }
}

/// Sizes a service accepts: the values in `first`, then every multiple of `step`, all within `range`
/// (`step` 1: every size in the range).
public struct SizeSteps: Sendable, Equatable, CustomStringConvertible {
    public let first: [Int]
    public let step: Int
    public let range: ClosedRange<Int>

    public init(first: [Int] = [], step: Int = 1, range: ClosedRange<Int>) {
        self.first = first
        self.step = max(step, 1)
        self.range = range
    }

    public func accepts(_ gib: Int) -> Bool {
        range.contains(gib) && (first.contains(gib) || gib % step == 0)
    }

    /// The smallest accepted size of at least `gib`; nil above the range.
    public func smallest(atLeast gib: Int) -> Int? {
        let floor = max(gib, range.lowerBound)
        let fromFirst = first.filter { $0 >= floor }.min()
        let (quotient, remainder) = floor.quotientAndRemainder(dividingBy: step)
        let multiple = (quotient + (remainder == 0 ? 0 : 1)).multipliedReportingOverflow(by: step)
        let fromSteps = multiple.overflow ? nil : Optional(multiple.partialValue)
        let best = [fromFirst, fromSteps].compactMap { $0 }.filter { range.contains($0) }.min()
        return best
    }

    public var description: String {
        if step == 1 { return "\(Self.number(range.lowerBound)) to \(Self.number(range.upperBound)) GiB" }
        let head = first.map { "\(Self.number($0)) GiB" }
        let steps = "\(head.isEmpty ? "" : "then ")a multiple of \(Self.number(step)) GiB up to \(Self.number(range.upperBound))"
        return (head + [steps]).joined(separator: ", ")
    }

    /// 2400 → "2,400".
    public static func number(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}

public enum EBSVolumeType: String, CaseIterable, Codable, Sendable {
    case gp3, io2
}

public struct EBSVolumeLimits: Sendable {
    public let type: EBSVolumeType
    public let sizesGiB: SizeSteps
    public let iops: ClosedRange<Int>
    /// Provisionable throughput; nil where it follows from IOPS (io2).
    public let throughputMiBps: ClosedRange<Int>?
    public let maxIOPSPerGiB: Int
    public let maxMiBpsPerIOPS: Double?
    public let source: Source
}

/// The SSD IOPS an FSx file system takes and delivers: what AUTOMATIC mode provisions per GiB, what
/// USER_PROVISIONED may ask (per GiB and per file system), and the disk IOPS the file server sustains at a
/// throughput capacity, where AWS's performance page states it. A file system's disk IOPS are the lower of
/// the file server's figure and the SSD IOPS provisioned.
public struct SSDIOPSLimits: Sendable, Equatable {
    public let automaticPerGiB: Int
    public let maxPerGiB: Int?
    public let minimum: Int?
    public let maxPerFileSystem: Int
    public let diskIOPSByThroughputMBps: [Int: Int]
    public let source: Source

    /// The file server's baseline disk IOPS at `throughputMBps` when the table gives it; otherwise the largest
    /// figure of a smaller throughput capacity is a lower bound (more throughput capacity never means fewer
    /// IOPS), flagged as such.
    public func diskIOPS(atThroughputMBps throughputMBps: Int) -> (iops: Int, stated: Bool)? {
        if let stated = diskIOPSByThroughputMBps[throughputMBps] { return (stated, true) }
        let below = diskIOPSByThroughputMBps.filter { $0.key < throughputMBps }.map(\.value).max()
        return below.map { ($0, false) }
    }
}

/// FSx for Lustre deployment types as the FSx API spells them.
public enum LustreDeploymentType: String, CaseIterable, Codable, Sendable {
    case scratch1 = "SCRATCH_1", scratch2 = "SCRATCH_2", persistent1 = "PERSISTENT_1", persistent2 = "PERSISTENT_2"

    /// The emulator's choice (`--lustre-deployment`).
    public var family: LustreDeployment { self == .scratch1 || self == .scratch2 ? .scratch : .persistent }
}

public struct LustreTier: Sendable, Equatable {
    public let deploymentType: LustreDeploymentType
    public let storageType: LustreStorageType
    /// MB/s per TiB of storage; nil for scratch, whose throughput is not provisioned.
    public let perUnitMBpsPerTiB: Int?
    public let sizesGiB: SizeSteps
}

public enum WindowsStorageType: String, CaseIterable, Codable, Sendable {
    case ssd = "SSD", hdd = "HDD"
}

public enum WindowsDeploymentType: String, CaseIterable, Codable, Sendable {
    case singleAZ2 = "SINGLE_AZ_2", multiAZ1 = "MULTI_AZ_1"
    public var deployment: Deployment { self == .multiAZ1 ? .multiAZ : .singleAZ }
}

public enum OpenZFSDeploymentType: String, CaseIterable, Codable, Sendable {
    case singleAZ1 = "SINGLE_AZ_1", singleAZ2 = "SINGLE_AZ_2", multiAZ1 = "MULTI_AZ_1"
    public var deployment: Deployment { self == .multiAZ1 ? .multiAZ : .singleAZ }
}

public enum ONTAPDeploymentType: String, CaseIterable, Codable, Sendable {
    case singleAZ1 = "SINGLE_AZ_1", singleAZ2 = "SINGLE_AZ_2", multiAZ1 = "MULTI_AZ_1", multiAZ2 = "MULTI_AZ_2"
    public var deployment: Deployment { self == .multiAZ1 || self == .multiAZ2 ? .multiAZ : .singleAZ }
}
