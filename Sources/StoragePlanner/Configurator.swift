public import StorageCatalog
public import Workloads
import Foundation

/// The choices that make a pick concrete, typed per service; rendered to the contract's JSON keys only at
/// output (`entries`, `json`). Every size, tier and step comes from `Limits`, the table `berth volume
/// create` checks too.
public struct Configuration: Sendable, Equatable {
    public var service: ServiceConfiguration
    /// Why these values, in words (what was raised to meet a limit, why one type over another).
    public var notes: [String]
    /// Nil when the configuration meets the profile's throughput, IOPS and size; otherwise what it lacks.
    public var shortfall: String?

    public init(_ service: ServiceConfiguration, notes: [String] = [], shortfall: String? = nil) {
        self.service = service
        self.notes = notes
        self.shortfall = shortfall
    }

    /// The JSON keys, in the order they are worth reading.
    public var entries: [(String, JSONValue)] { service.entries }
    public var json: JSONValue { .object(entries) }
    public subscript(key: String) -> JSONValue? { entries.first { $0.0 == key }?.1 }

    public static func == (lhs: Configuration, rhs: Configuration) -> Bool {
        lhs.service == rhs.service && lhs.notes == rhs.notes && lhs.shortfall == rhs.shortfall
    }
}

public enum ServiceConfiguration: Sendable, Equatable {
    case ebs(EBSConfiguration)
    case efs(EFSConfiguration)
    case lustre(LustreChoice)
    case windows(WindowsConfiguration)
    case openZFS(OpenZFSConfiguration)
    case ontap(ONTAPConfiguration)

    var entries: [(String, JSONValue)] {
        switch self {
        case .ebs(let c):
            var e: [(String, JSONValue)] = [("volumeType", .string(c.volumeType.rawValue)), ("sizeInGiB", .int(c.sizeInGiB)), ("iops", .int(c.iops))]
            if let throughput = c.throughput { e.append(("throughput", .int(throughput))) }
            e.append(("filesystemType", .string(c.filesystemType)))
            if c.fromSnapshot { e.append(("fromSnapshot", "one snapshot, a volume per task (snapshotId in volumeConfigurations)")) }
            return e
        case .efs(let c):
            var e: [(String, JSONValue)] = [
                ("storageClass", .string(c.storageClass.rawValue)), ("performanceMode", "generalPurpose"),
                ("throughputMode", .string(c.throughputMode)),
            ]
            if c.transitionToIA { e.append(("transitionToIA", "AFTER_30_DAYS")) }
            e.append(("transitEncryption", "ENABLED"))
            return e
        case .lustre(let c):
            var e: [(String, JSONValue)] = [
                ("deploymentType", .string(c.tier.deploymentType.rawValue)), ("storageType", .string(c.tier.storageType.rawValue.uppercased())),
                ("storageCapacityGiB", .int(c.storageCapacityGiB)),
            ]
            if let cache = c.readCacheGiB {
                e.append(("driveCacheType", "READ"))
                e.append(("readCacheGiB", .int(cache)))
            }
            if let perUnit = c.tier.perUnitMBpsPerTiB {
                e.append(("perUnitStorageThroughput", .int(perUnit)))
                e.append(("throughputMBps", .int(c.throughputMBps)))
            }
            if c.s3DataRepository { e.append(("dataRepositoryAssociation", "s3://<BUCKET>/<PREFIX> (import and export)")) }
            return e
        case .windows(let c):
            var e: [(String, JSONValue)] = [
                ("deploymentType", .string(c.deploymentType.rawValue)), ("storageType", .string(c.storageType.rawValue)),
                ("storageCapacityGiB", .int(c.storageCapacityGiB)), ("throughputCapacity", .int(c.throughputCapacity)),
            ]
            if let iops = c.diskIops { e.append(("diskIopsConfiguration", iops.json)) }
            e.append(("activeDirectory", "AWS Managed Microsoft AD or self-managed AD"))
            return e
        case .openZFS(let c):
            return [
                ("deploymentType", .string(c.deploymentType.rawValue)), ("storageCapacityGiB", .int(c.storageCapacityGiB)),
                ("throughputCapacity", .int(c.throughputCapacity)), ("diskIopsConfiguration", c.diskIops.json),
                ("nfsVersion", "NFSv4.1"),
            ]
        case .ontap(let c):
            return [
                ("deploymentType", .string(c.deploymentType.rawValue)), ("storageCapacityGiB", .int(c.storageCapacityGiB)),
                ("throughputCapacity", .int(c.throughputCapacity)), ("diskIopsConfiguration", c.diskIops.json),
                ("protocols", .array(c.protocols.map { .string($0) })),
            ]
        }
    }
}

public struct EBSConfiguration: Sendable, Equatable {
    public var volumeType: EBSVolumeType
    public var sizeInGiB: Int
    public var iops: Int
    /// gp3 only.
    public var throughput: Int?
    public var filesystemType: String
    public var fromSnapshot: Bool
}

public struct EFSConfiguration: Sendable, Equatable {
    public var storageClass: EFSStorageClass
    public var throughputMode: String
    public var transitionToIA: Bool
}

public struct LustreChoice: Sendable, Equatable {
    public var tier: LustreTier
    public var storageCapacityGiB: Int
    /// HDD only: the SSD read cache.
    public var readCacheGiB: Int?
    /// Capacity (TiB) × per-unit throughput.
    public var throughputMBps: Int
    public var s3DataRepository: Bool
}

/// FSx's DiskIopsConfiguration: AUTOMATIC (3 SSD IOPS per GiB) or USER_PROVISIONED with a number.
public struct DiskIOPSConfiguration: Sendable, Equatable {
    public enum Mode: String, Sendable { case automatic = "AUTOMATIC", userProvisioned = "USER_PROVISIONED" }
    public var mode: Mode
    public var iops: Int
    public init(mode: Mode, iops: Int) {
        self.mode = mode
        self.iops = iops
    }
    var json: JSONValue { .object([("mode", .string(mode.rawValue)), ("iops", .int(iops))]) }
}

public struct WindowsConfiguration: Sendable, Equatable {
    public var deploymentType: WindowsDeploymentType
    public var storageType: WindowsStorageType
    public var storageCapacityGiB: Int
    public var throughputCapacity: Int
    /// SSD only (HDD has no provisioned IOPS).
    public var diskIops: DiskIOPSConfiguration?
}

public struct OpenZFSConfiguration: Sendable, Equatable {
    public var deploymentType: OpenZFSDeploymentType
    public var storageCapacityGiB: Int
    public var throughputCapacity: Int
    public var diskIops: DiskIOPSConfiguration
}

public struct ONTAPConfiguration: Sendable, Equatable {
    public var deploymentType: ONTAPDeploymentType
    public var storageCapacityGiB: Int
    public var throughputCapacity: Int
    public var diskIops: DiskIOPSConfiguration
    public var protocols: [String]
}

/// Per service, how the profile's figures become a configuration AWS accepts: one function a service,
/// each reading its sizes and tiers from `Limits`.
public enum Configurator {
    /// Berth's EBS size when the profile gives none (ECS-managed EBS has no default).
    static let defaultEBSSizeGiB = 20

    public static func configure(_ service: ServiceID, for profile: WorkloadProfile) -> Configuration {
        switch service {
        case .ebs: ebs(profile)
        case .efs: efs(profile)
        case .fsxLustre: lustre(profile)
        case .fsxWindows: windows(profile)
        case .fsxOpenZFS: openZFS(profile)
        case .fsxONTAP: ontap(profile)
        }
    }

    /// MiB/s (profiles) to MB/s (FSx throughput tiers), rounded up.
    static func megabytes(_ mebibytes: Int) -> Int { Int((Double(mebibytes) * 1.048_576).rounded(.up)) }

    static func ceilDiv(_ a: Int, _ b: Int) -> Int { b <= 0 ? a : (a + b - 1) / b }

    /// Why io2 rather than gp3, or nil when gp3 meets the profile (limits: `Limits.gp3`).
    public static func io2Reason(_ p: WorkloadProfile) -> String? {
        let gp3 = Limits.gp3
        if let iops = p.performance.iops, iops > gp3.iops.upperBound {
            return "io2, not gp3: \(SizeSteps.number(iops)) IOPS is more than the \(SizeSteps.number(gp3.iops.upperBound)) IOPS a gp3 volume takes"
        }
        if let mibps = p.performance.throughputMiBps, let most = gp3.throughputMiBps?.upperBound, mibps > most {
            return "io2, not gp3: \(SizeSteps.number(mibps)) MiB/s is more than the \(SizeSteps.number(most)) MiB/s a gp3 volume takes"
        }
        if p.performance.latency == .subMillisecond {
            return "io2, not gp3: sub-millisecond latency is what io2 Block Express is built for; gp3 is designed for single-digit millisecond latency"
        }
        return nil
    }

    /// gp3 unless the IOPS, throughput or latency asked for need io2; the size is raised to what the IOPS
    /// need (gp3: at most 500 IOPS per GiB; io2: 1,000) and gp3's IOPS to what the throughput needs
    /// (at most 0.25 MiB/s per IOPS). Limits are CreateVolume's (`Limits.gp3`); a plan beyond what ECS's own
    /// reference still lists (`Limits.gp3ECSReference`) says so.
    static func ebs(_ p: WorkloadProfile) -> Configuration {
        let reason = io2Reason(p)
        let type: EBSVolumeType = reason == nil ? .gp3 : .io2
        let limits = Limits.ebs(type)
        var notes: [String] = []
        var shortfall: String?
        let asked = p.capacity.sizeGiB ?? defaultEBSSizeGiB
        var iops = max(p.performance.iops ?? limits.iops.lowerBound, limits.iops.lowerBound)
        var throughput: Int?
        if type == .gp3, let range = limits.throughputMiBps, let ratio = limits.maxMiBpsPerIOPS {
            let wanted = max(p.performance.throughputMiBps ?? range.lowerBound, range.lowerBound)
            throughput = wanted
            let iopsForThroughput = Int((Double(wanted) / ratio).rounded(.up))
            if wanted > range.lowerBound && iopsForThroughput > iops {
                notes.append("iops raised to \(SizeSteps.number(iopsForThroughput)): gp3 provisions at most \(ratio) MiB/s per IOPS, and \(SizeSteps.number(wanted)) MiB/s is asked for")
                iops = iopsForThroughput
            }
            notes.append("gp3 includes 3,000 IOPS and 125 MiB/s and takes up to \(SizeSteps.number(limits.iops.upperBound)) IOPS and \(SizeSteps.number(range.upperBound)) MiB/s (EC2 CreateVolume, since 2025)")
        }
        if let reason { notes.append(reason) }
        if iops > limits.iops.upperBound {
            shortfall = "\(SizeSteps.number(iops)) IOPS is more than \(type.rawValue)'s \(SizeSteps.number(limits.iops.upperBound))"
            iops = limits.iops.upperBound
        }
        var size = limits.sizesGiB.smallest(atLeast: asked) ?? limits.sizesGiB.range.upperBound
        let sizeForIOPS = ceilDiv(iops, limits.maxIOPSPerGiB)
        if sizeForIOPS > size {
            notes.append("sizeInGiB raised from \(asked) to \(sizeForIOPS): \(type.rawValue) provisions at most \(limits.maxIOPSPerGiB) IOPS per GiB")
            size = sizeForIOPS
        }
        if asked > limits.sizesGiB.range.upperBound {
            shortfall = "\(SizeSteps.number(asked)) GiB is more than a \(type.rawValue) volume's \(SizeSteps.number(limits.sizesGiB.range.upperBound)) GiB"
        }
        if let note = ecsReferenceNote(type: type, iops: iops, throughput: throughput, size: size) { notes.append(note) }
        let config = EBSConfiguration(
            volumeType: type, sizeInGiB: size, iops: iops, throughput: throughput,
            filesystemType: p.platform.os == .windows ? "ntfs" : "xfs", fromSnapshot: p.access.sharing == .readOnlyShared)
        return Configuration(.ebs(config), notes: notes, shortfall: shortfall)
    }

    /// Where a plan goes beyond what ECS's TaskManagedEBSVolumeConfiguration reference still lists, in words.
    static func ecsReferenceNote(type: EBSVolumeType, iops: Int, throughput: Int?, size: Int) -> String? {
        var beyond: [String] = []
        switch type {
        case .gp3:
            let ecs = Limits.gp3ECSReference
            if iops > ecs.iops.upperBound { beyond.append("\(SizeSteps.number(ecs.iops.upperBound)) IOPS") }
            if let throughput, let most = ecs.throughputMiBps?.upperBound, throughput > most { beyond.append("\(SizeSteps.number(most)) MiB/s") }
            if size > ecs.sizesGiB.range.upperBound { beyond.append("\(SizeSteps.number(ecs.sizesGiB.range.upperBound)) GiB") }
        case .io2:
            if size > Limits.io2ECSReferenceMaxGiB { beyond.append("\(SizeSteps.number(Limits.io2ECSReferenceMaxGiB)) GiB") }
        }
        guard !beyond.isEmpty else { return nil }
        return "ECS's TaskManagedEBSVolumeConfiguration reference still lists \(type.rawValue) up to \(beyond.joined(separator: ", ")); "
            + "ECS passes these values to EC2's CreateVolume, which takes this plan: if ECS refuses it, stay within those figures"
            + (type == .gp3 ? " or use io2" : "")
    }

    /// Standard when data must survive an AZ, One Zone otherwise; IA tiering for rarely read data;
    /// elastic throughput (scales with the workload, no size to provision).
    static func efs(_ p: WorkloadProfile) -> Configuration {
        let c = EFSConfiguration(storageClass: p.availability.multiAZ ? .standard : .oneZone, throughputMode: "elastic",
                                 transitionToIA: p.capacity.accessFrequency == .infrequent)
        return Configuration(.efs(c), notes: ["elastic throughput scales with the workload; nothing to provision"])
    }

    /// The smallest persistent file system that holds the data and delivers the throughput: every
    /// PERSISTENT_2 SSD tier, and for large sequential I/O without a sub-millisecond need the PERSISTENT_1
    /// HDD tiers too; ties go to HDD (the lower-cost storage), then the lower per-unit throughput.
    static func lustre(_ p: WorkloadProfile) -> Configuration {
        let hddAllowed = p.performance.ioPattern == .sequentialLarge && p.performance.latency != .subMillisecond
        let needMBps = p.performance.throughputMiBps.map(megabytes) ?? 0
        let size = p.capacity.sizeGiB ?? 1_200
        var best: (tier: LustreTier, capacity: Int)?
        for tier in Limits.lustreTiers {
            guard let perUnit = tier.perUnitMBpsPerTiB else { continue }
            guard tier.deploymentType == .persistent2 || (hddAllowed && tier.storageType == .hdd) else { continue }
            let forThroughput = ceilDiv(needMBps * 1_024, perUnit)
            guard let capacity = tier.sizesGiB.smallest(atLeast: max(size, forThroughput)) else { continue }
            if let current = best {
                let key = (capacity, tier.storageType == .hdd ? 0 : 1, perUnit)
                let currentKey = (current.capacity, current.tier.storageType == .hdd ? 0 : 1, current.tier.perUnitMBpsPerTiB ?? 0)
                if key >= currentKey { continue }
            }
            best = (tier, capacity)
        }
        let chosen = best ?? (Limits.lustreFastest, Limits.lustreFastest.sizesGiB.range.upperBound)
        let perUnit = chosen.tier.perUnitMBpsPerTiB ?? 0
        let delivered = chosen.capacity * perUnit / 1_024
        let hdd = chosen.tier.storageType == .hdd
        var notes = ["\(SizeSteps.number(chosen.capacity)) GiB × \(perUnit) MB/s per TiB = \(SizeSteps.number(delivered)) MB/s"
                     + (needMBps > 0 ? " for the \(SizeSteps.number(needMBps)) MB/s (\(p.performance.throughputMiBps ?? 0) MiB/s) asked" : "")]
        if chosen.capacity > size {
            notes.append("storage raised from \(SizeSteps.number(size)) GiB: \(chosen.tier.deploymentType.rawValue) \(chosen.tier.storageType.rawValue.uppercased()) at \(perUnit) MB/s per TiB comes in \(chosen.tier.sizesGiB)")
        }
        if hdd { notes.append("HDD with an SSD read cache: the lower-cost storage for large sequential I/O") }
        let shortfall = best == nil ? "\(needMBps) MB/s is more than the largest FSx for Lustre file system in the catalogue delivers" : nil
        let choice = LustreChoice(
            tier: chosen.tier, storageCapacityGiB: chosen.capacity,
            readCacheGiB: hdd ? LustreOptionFacts.maxReadCacheGiB(sizeGiB: chosen.capacity) : nil,
            throughputMBps: delivered, s3DataRepository: p.features.contains(.s3DataRepository))
        return Configuration(.lustre(choice), notes: notes, shortfall: shortfall)
    }

    /// The smallest tier of `steps` that delivers `needMBps`, never below `floor`.
    static func tier(_ needMBps: Int, _ steps: [Int], floor: Int = 0) -> (value: Int, meets: Bool) {
        let usable = steps.filter { $0 >= floor }
        if let fit = usable.first(where: { $0 >= needMBps }) { return (fit, true) }
        return (usable.last ?? steps.last ?? 0, false)
    }

    /// A deployment type and throughput capacity for an FSx file system that delivers `needMBps` and, when
    /// asked, `needIOPS` from disk. Without IOPS: the first type whose tiers reach the throughput. With IOPS:
    /// the smallest throughput capacity (over all `types`) whose file server's disk IOPS the catalogue states
    /// (or bounds from below) as enough; failing that, the first type's smallest fitting tier whose figure
    /// the catalogue lacks (`iopsStated` false), within the type's maximum per file system.
    struct TierChoice<T: Sendable> {
        var type: T
        var throughput: Int
        var meetsThroughput: Bool
        /// Nil when no IOPS was asked or none fits; true when the file server's disk IOPS at this throughput
        /// capacity are in the catalogue (stated or bounded) and enough.
        var iopsStated: Bool?
        var serverIOPS: Int?
        var meetsIOPS: Bool
    }

    static func chooseTier<T>(_ first: T, _ more: [T] = [], tiers: (T) -> [Int], iops limits: (T) -> SSDIOPSLimits,
                              needMBps: Int, needIOPS: Int?, floor: Int = 0) -> TierChoice<T> {
        let types = [first] + more
        let last = more.last ?? first
        guard let needIOPS else {
            for type in types {
                let (value, meets) = tier(needMBps, tiers(type), floor: floor)
                if meets { return TierChoice(type: type, throughput: value, meetsThroughput: true, iopsStated: nil, serverIOPS: nil, meetsIOPS: true) }
            }
            return TierChoice(type: last, throughput: tiers(last).last ?? 0, meetsThroughput: false, iopsStated: nil, serverIOPS: nil, meetsIOPS: true)
        }
        var confirmed: TierChoice<T>?
        var unconfirmed: TierChoice<T>?
        for type in types {
            let l = limits(type)
            guard needIOPS <= l.maxPerFileSystem else { continue }
            for value in tiers(type) where value >= floor && value >= needMBps {
                if let server = l.diskIOPS(atThroughputMBps: value), server.iops >= needIOPS {
                    if confirmed.map({ value < $0.throughput }) ?? true {
                        confirmed = TierChoice(type: type, throughput: value, meetsThroughput: true, iopsStated: true, serverIOPS: server.iops, meetsIOPS: true)
                    }
                    break
                }
                if unconfirmed == nil && l.diskIOPSByThroughputMBps[value] == nil {
                    unconfirmed = TierChoice(type: type, throughput: value, meetsThroughput: true, iopsStated: false, serverIOPS: nil, meetsIOPS: true)
                }
            }
        }
        if let confirmed { return confirmed }
        if let unconfirmed { return unconfirmed }
        let (value, meets) = tier(needMBps, tiers(last), floor: floor)
        let best = types.map(limits).map(\.maxPerFileSystem).max() ?? 0
        return TierChoice(type: last, throughput: value, meetsThroughput: meets, iopsStated: nil,
                          serverIOPS: min(best, limits(last).diskIOPS(atThroughputMBps: value)?.iops ?? best), meetsIOPS: false)
    }

    /// The SSD IOPS to provision: AUTOMATIC when 3 per GiB covers what is asked, else USER_PROVISIONED at the
    /// figure asked (raising the storage where a per-GiB maximum demands it).
    static func ssdIOPS(_ needIOPS: Int?, sizeGiB: Int, limits: SSDIOPSLimits, service: String)
        -> (config: DiskIOPSConfiguration, sizeGiB: Int, notes: [String]) {
        let automatic = min(sizeGiB * limits.automaticPerGiB, limits.maxPerFileSystem)
        guard let need = needIOPS, need > automatic else {
            return (DiskIOPSConfiguration(mode: .automatic, iops: automatic), sizeGiB, [])
        }
        let iops = min(need, limits.maxPerFileSystem)
        var size = sizeGiB
        var notes = ["SSD IOPS USER_PROVISIONED at \(SizeSteps.number(iops)): AUTOMATIC gives \(limits.automaticPerGiB) per GiB, "
                     + "\(SizeSteps.number(automatic)) on \(SizeSteps.number(sizeGiB)) GiB"]
        if let perGiB = limits.maxPerGiB, iops > size * perGiB {
            size = ceilDiv(iops, perGiB)
            notes.append("storage raised from \(SizeSteps.number(sizeGiB)) GiB to \(SizeSteps.number(size)): \(service) provisions at most \(perGiB) SSD IOPS per GiB")
        }
        return (DiskIOPSConfiguration(mode: .userProvisioned, iops: iops), size, notes)
    }

    /// What the throughput capacity does for the IOPS asked, in words, and the shortfall when nothing fits.
    static func iopsNotes<T>(_ choice: TierChoice<T>, needIOPS: Int?, typeName: String, service: String, limits: SSDIOPSLimits)
        -> (notes: [String], shortfall: String?) {
        guard let need = needIOPS else { return ([], nil) }
        if !choice.meetsIOPS {
            return ([], "\(SizeSteps.number(need)) IOPS is more than \(service) delivers (at most \(SizeSteps.number(choice.serverIOPS ?? limits.maxPerFileSystem)) SSD IOPS per file system)")
        }
        if choice.iopsStated == true, let server = choice.serverIOPS {
            return (["\(SizeSteps.number(choice.throughput)) MB/s of throughput capacity: its file server sustains \(SizeSteps.number(server)) disk IOPS (\(typeName)), enough for the \(SizeSteps.number(need)) asked"], nil)
        }
        return (["the catalogue has no disk-IOPS figure for \(typeName) at \(SizeSteps.number(choice.throughput)) MB/s (only its maximum, \(SizeSteps.number(limits.maxPerFileSystem)) per file system): check the FSx performance page that this throughput capacity sustains \(SizeSteps.number(need)) IOPS"], nil)
    }

    static func windows(_ p: WorkloadProfile) -> Configuration {
        let needIOPS = p.performance.iops
        var hdd = p.performance.latency == .standard && p.performance.ioPattern != .randomSmall
            && (p.cost == .lowest || p.capacity.accessFrequency == .infrequent)
        var notes: [String] = []
        if hdd, let need = needIOPS {
            let sizes = Limits.windowsSizes(.hdd)
            let hddSize = sizes.smallest(atLeast: p.capacity.sizeGiB ?? sizes.range.lowerBound) ?? sizes.range.upperBound
            let hddIOPS = hddSize * Limits.windowsHDDIOPSPerTiB / 1_024
            if need > hddIOPS {
                hdd = false
                notes.append("SSD, not HDD: HDD storage gives \(Limits.windowsHDDIOPSPerTiB) IOPS per TiB baseline (\(SizeSteps.number(hddIOPS)) on \(SizeSteps.number(hddSize)) GiB), below the \(SizeSteps.number(need)) asked")
            }
        }
        let storage: WindowsStorageType = hdd ? .hdd : .ssd
        let sizes = Limits.windowsSizes(storage)
        let asked = p.capacity.sizeGiB ?? sizes.range.lowerBound
        var size = sizes.smallest(atLeast: asked) ?? sizes.range.upperBound
        let need = p.performance.throughputMiBps.map(megabytes) ?? 0
        let type: WindowsDeploymentType = p.availability.multiAZ ? .multiAZ1 : .singleAZ2
        // 32 MB/s: Berth's smallest choice (the API takes 8 and 16 too; AWS calls them test and development levels).
        let choice = chooseTier(type, tiers: { _ in Limits.windowsThroughputMBps }, iops: { _ in Limits.windowsSSDIOPS },
                                needMBps: need, needIOPS: storage == .ssd ? needIOPS : nil, floor: 32)
        if size > asked { notes.append("storage raised from \(asked) GiB: \(storage.rawValue) storage is \(sizes)") }
        var diskIops: DiskIOPSConfiguration?
        var shortfall: String?
        if storage == .ssd {
            let ssd = ssdIOPS(choice.meetsIOPS ? needIOPS : nil, sizeGiB: size, limits: Limits.windowsSSDIOPS, service: "FSx for Windows File Server")
            diskIops = ssd.config
            size = max(size, ssd.sizeGiB)
            notes += ssd.notes
            let iops = iopsNotes(choice, needIOPS: needIOPS, typeName: "FSx for Windows File Server", service: "FSx for Windows File Server",
                                 limits: Limits.windowsSSDIOPS)
            notes += iops.notes
            shortfall = iops.shortfall
        }
        if choice.throughput > Limits.windowsEveryRegionMaxMBps {
            notes.append("\(SizeSteps.number(choice.throughput)) MB/s: throughput capacities above \(SizeSteps.number(Limits.windowsEveryRegionMaxMBps)) MB/s are offered only in \(Limits.windowsLargeThroughputRegions)")
            if type == .multiAZ1 && choice.throughput >= 9_216 {
                notes.append("a MULTI_AZ_1 file system at 9,216 or 12,288 MB/s is limited to 9,000 MB/s and 262,500 IOPS for writes")
            }
        }
        let c = WindowsConfiguration(deploymentType: type, storageType: storage, storageCapacityGiB: size,
                                     throughputCapacity: choice.throughput, diskIops: diskIops)
        if !choice.meetsThroughput {
            shortfall = "\(need) MB/s is more than FSx for Windows File Server's largest throughput capacity, \(SizeSteps.number(choice.throughput)) MB/s"
        }
        return Configuration(.windows(c), notes: notes, shortfall: shortfall)
    }

    /// Single-AZ: SINGLE_AZ_2 (and, when IOPS are asked, SINGLE_AZ_1, whose per-throughput disk IOPS the
    /// catalogue holds); multi-AZ: MULTI_AZ_1.
    static func openZFS(_ p: WorkloadProfile) -> Configuration {
        let needIOPS = p.performance.iops
        let first: OpenZFSDeploymentType = p.availability.multiAZ ? .multiAZ1 : .singleAZ2
        let more: [OpenZFSDeploymentType] = p.availability.multiAZ || needIOPS == nil ? [] : [.singleAZ1]
        let sizes = Limits.openZFSSizes
        let asked = p.capacity.sizeGiB ?? sizes.range.lowerBound
        let need = p.performance.throughputMiBps.map(megabytes) ?? 0
        let choice = chooseTier(first, more, tiers: Limits.openZFSThroughputMBps, iops: Limits.openZFSSSDIOPS, needMBps: need, needIOPS: needIOPS)
        let limits = Limits.openZFSSSDIOPS(choice.type)
        let size = sizes.smallest(atLeast: asked) ?? sizes.range.upperBound
        let ssd = ssdIOPS(choice.meetsIOPS ? needIOPS : nil, sizeGiB: size, limits: limits, service: "FSx for OpenZFS")
        let iops = iopsNotes(choice, needIOPS: needIOPS, typeName: choice.type.rawValue, service: "FSx for OpenZFS", limits: limits)
        let c = OpenZFSConfiguration(deploymentType: choice.type, storageCapacityGiB: ssd.sizeGiB, throughputCapacity: choice.throughput,
                                     diskIops: ssd.config)
        var notes = ssd.notes + iops.notes
        if choice.type == .singleAZ1 && first == .singleAZ2 {
            notes.insert("SINGLE_AZ_1, not SINGLE_AZ_2: its table of disk IOPS per throughput capacity confirms the IOPS asked at less throughput capacity", at: 0)
        }
        let shortfall = choice.meetsThroughput
            ? iops.shortfall
            : "\(need) MB/s is more than \(choice.type.rawValue)'s largest throughput capacity, \(SizeSteps.number(choice.throughput)) MB/s"
        return Configuration(.openZFS(c), notes: notes, shortfall: shortfall)
    }

    /// Single-AZ: SINGLE_AZ_1 up to 4,096 MB/s, SINGLE_AZ_2 beyond; multi-AZ: MULTI_AZ_2 (its smallest
    /// tier, 384 MB/s, is below MULTI_AZ_1's largest), and MULTI_AZ_1 as well when IOPS are asked (the
    /// catalogue holds its disk IOPS per throughput capacity).
    static func ontap(_ p: WorkloadProfile) -> Configuration {
        let need = p.performance.throughputMiBps.map(megabytes) ?? 0
        let needIOPS = p.performance.iops
        let first: ONTAPDeploymentType = p.availability.multiAZ ? .multiAZ2 : .singleAZ1
        let more: [ONTAPDeploymentType] = p.availability.multiAZ ? (needIOPS == nil ? [] : [.multiAZ1]) : [.singleAZ2]
        let choice = chooseTier(first, more, tiers: Limits.ontapThroughputMBps, iops: Limits.ontapSSDIOPS, needMBps: need, needIOPS: needIOPS)
        let limits = Limits.ontapSSDIOPS(choice.type)
        let sizes = Limits.ontapSizes
        let asked = p.capacity.sizeGiB ?? sizes.range.lowerBound
        let size = sizes.smallest(atLeast: asked) ?? sizes.range.upperBound
        let ssd = ssdIOPS(choice.meetsIOPS ? needIOPS : nil, sizeGiB: size, limits: limits, service: "FSx for ONTAP")
        let iops = iopsNotes(choice, needIOPS: needIOPS, typeName: choice.type.rawValue, service: "one FSx for ONTAP HA pair", limits: limits)
        let protocols = p.protocols.isEmpty ? (p.platform.os == .windows ? ["smb"] : ["nfs"]) : p.protocols.map(\.rawValue)
        let c = ONTAPConfiguration(deploymentType: choice.type, storageCapacityGiB: ssd.sizeGiB, throughputCapacity: choice.throughput,
                                   diskIops: ssd.config, protocols: protocols)
        var notes: [String] = []
        if asked < sizes.range.lowerBound { notes.append("storage raised from \(asked) GiB: FSx for ONTAP provisions \(sizes)") }
        notes += ssd.notes + iops.notes
        let shortfall = choice.meetsThroughput
            ? iops.shortfall
            : "\(need) MB/s is more than one HA pair's largest throughput capacity, \(SizeSteps.number(choice.throughput)) MB/s"
        return Configuration(.ontap(c), notes: notes, shortfall: shortfall)
    }
}
