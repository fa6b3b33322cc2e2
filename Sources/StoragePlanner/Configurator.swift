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
            return [
                ("deploymentType", .string(c.deploymentType.rawValue)), ("storageType", .string(c.storageType.rawValue)),
                ("storageCapacityGiB", .int(c.storageCapacityGiB)), ("throughputCapacity", .int(c.throughputCapacity)),
                ("activeDirectory", "AWS Managed Microsoft AD or self-managed AD"),
            ]
        case .openZFS(let c):
            return [
                ("deploymentType", .string(c.deploymentType.rawValue)), ("storageCapacityGiB", .int(c.storageCapacityGiB)),
                ("throughputCapacity", .int(c.throughputCapacity)), ("nfsVersion", "NFSv4.1"),
            ]
        case .ontap(let c):
            return [
                ("deploymentType", .string(c.deploymentType.rawValue)), ("storageCapacityGiB", .int(c.storageCapacityGiB)),
                ("throughputCapacity", .int(c.throughputCapacity)), ("protocols", .array(c.protocols.map { .string($0) })),
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

public struct WindowsConfiguration: Sendable, Equatable {
    public var deploymentType: WindowsDeploymentType
    public var storageType: WindowsStorageType
    public var storageCapacityGiB: Int
    public var throughputCapacity: Int
}

public struct OpenZFSConfiguration: Sendable, Equatable {
    public var deploymentType: OpenZFSDeploymentType
    public var storageCapacityGiB: Int
    public var throughputCapacity: Int
}

public struct ONTAPConfiguration: Sendable, Equatable {
    public var deploymentType: ONTAPDeploymentType
    public var storageCapacityGiB: Int
    public var throughputCapacity: Int
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
            return "io2, not gp3: \(iops) IOPS is more than the \(SizeSteps.number(gp3.iops.upperBound)) IOPS an ECS-managed gp3 volume takes"
        }
        if let mibps = p.performance.throughputMiBps, let most = gp3.throughputMiBps?.upperBound, mibps > most {
            return "io2, not gp3: \(mibps) MiB/s is more than the \(SizeSteps.number(most)) MiB/s an ECS-managed gp3 volume takes"
        }
        if p.performance.latency == .subMillisecond {
            return "io2, not gp3: sub-millisecond latency is what io2 Block Express is built for; gp3 is designed for single-digit millisecond latency"
        }
        return nil
    }

    /// gp3 unless the IOPS, throughput or latency asked for need io2; the size is raised to what the IOPS
    /// need (gp3: at most 500 IOPS per GiB; io2: 1,000) and gp3's IOPS to what the throughput needs
    /// (at most 0.25 MiB/s per IOPS).
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
                notes.append("iops raised to \(iopsForThroughput): gp3 provisions at most \(ratio) MiB/s per IOPS, and \(wanted) MiB/s is asked for")
                iops = iopsForThroughput
            }
            notes.append("gp3 includes 3,000 IOPS and 125 MiB/s; an ECS-managed gp3 volume takes up to \(SizeSteps.number(limits.iops.upperBound)) IOPS and \(SizeSteps.number(range.upperBound)) MiB/s")
        }
        if let reason { notes.append(reason) }
        if iops > limits.iops.upperBound {
            shortfall = "\(iops) IOPS is more than \(type.rawValue)'s \(SizeSteps.number(limits.iops.upperBound))"
            iops = limits.iops.upperBound
        }
        var size = limits.sizesGiB.smallest(atLeast: asked) ?? limits.sizesGiB.range.upperBound
        let sizeForIOPS = ceilDiv(iops, limits.maxIOPSPerGiB)
        if sizeForIOPS > size {
            notes.append("sizeInGiB raised from \(asked) to \(sizeForIOPS): \(type.rawValue) provisions at most \(limits.maxIOPSPerGiB) IOPS per GiB")
            size = sizeForIOPS
        }
        if asked > limits.sizesGiB.range.upperBound {
            shortfall = "\(asked) GiB is more than an ECS-managed \(type.rawValue) volume's \(SizeSteps.number(limits.sizesGiB.range.upperBound)) GiB"
        }
        let config = EBSConfiguration(
            volumeType: type, sizeInGiB: size, iops: iops, throughput: throughput,
            filesystemType: p.platform.os == .windows ? "ntfs" : "xfs", fromSnapshot: p.access.sharing == .readOnlyShared)
        return Configuration(.ebs(config), notes: notes, shortfall: shortfall)
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

    static func windows(_ p: WorkloadProfile) -> Configuration {
        let hdd = p.performance.latency == .standard && p.performance.ioPattern != .randomSmall
            && (p.cost == .lowest || p.capacity.accessFrequency == .infrequent)
        let storage: WindowsStorageType = hdd ? .hdd : .ssd
        let sizes = Limits.windowsSizes(storage)
        let asked = p.capacity.sizeGiB ?? sizes.range.lowerBound
        let size = sizes.smallest(atLeast: asked) ?? sizes.range.upperBound
        let need = p.performance.throughputMiBps.map(megabytes) ?? 0
        // 32 MB/s: Berth's smallest choice (the API takes 8 and 16 too).
        let (throughput, meets) = tier(need, Limits.windowsThroughputMBps, floor: 32)
        var notes: [String] = []
        if size > asked { notes.append("storage raised from \(asked) GiB: \(storage.rawValue) storage is \(sizes)") }
        let c = WindowsConfiguration(deploymentType: p.availability.multiAZ ? .multiAZ1 : .singleAZ2, storageType: storage,
                                     storageCapacityGiB: size, throughputCapacity: throughput)
        return Configuration(.windows(c), notes: notes,
                             shortfall: meets ? nil : "\(need) MB/s is more than FSx for Windows File Server's largest throughput capacity, \(throughput) MB/s")
    }

    static func openZFS(_ p: WorkloadProfile) -> Configuration {
        let type: OpenZFSDeploymentType = p.availability.multiAZ ? .multiAZ1 : .singleAZ2
        let sizes = Limits.openZFSSizes
        let asked = p.capacity.sizeGiB ?? sizes.range.lowerBound
        let need = p.performance.throughputMiBps.map(megabytes) ?? 0
        let (throughput, meets) = tier(need, Limits.openZFSThroughputMBps(type))
        let c = OpenZFSConfiguration(deploymentType: type, storageCapacityGiB: sizes.smallest(atLeast: asked) ?? sizes.range.upperBound,
                                     throughputCapacity: throughput)
        return Configuration(.openZFS(c), shortfall: meets ? nil : "\(need) MB/s is more than \(type.rawValue)'s largest throughput capacity, \(throughput) MB/s")
    }

    /// Single-AZ: SINGLE_AZ_1 up to 4,096 MB/s, SINGLE_AZ_2 beyond; multi-AZ: MULTI_AZ_2 (its smallest
    /// tier, 384 MB/s, is below MULTI_AZ_1's largest), MULTI_AZ_1 never needed.
    static func ontap(_ p: WorkloadProfile) -> Configuration {
        let need = p.performance.throughputMiBps.map(megabytes) ?? 0
        let types: [ONTAPDeploymentType] = p.availability.multiAZ ? [.multiAZ2] : [.singleAZ1, .singleAZ2]
        var chosen = (type: types[types.count - 1], throughput: Limits.ontapThroughputMBps(types[types.count - 1]).last ?? 0, meets: false)
        for type in types {
            let (value, meets) = tier(need, Limits.ontapThroughputMBps(type))
            if meets { chosen = (type, value, true); break }
        }
        let sizes = Limits.ontapSizes
        let asked = p.capacity.sizeGiB ?? sizes.range.lowerBound
        let protocols = p.protocols.isEmpty ? (p.platform.os == .windows ? ["smb"] : ["nfs"]) : p.protocols.map(\.rawValue)
        let c = ONTAPConfiguration(deploymentType: chosen.type, storageCapacityGiB: sizes.smallest(atLeast: asked) ?? sizes.range.upperBound,
                                   throughputCapacity: chosen.throughput, protocols: protocols)
        var notes: [String] = []
        if asked < sizes.range.lowerBound { notes.append("storage raised from \(asked) GiB: FSx for ONTAP provisions \(sizes)") }
        return Configuration(.ontap(c), notes: notes,
                             shortfall: chosen.meets ? nil : "\(need) MB/s is more than one HA pair's largest throughput capacity, \(chosen.throughput) MB/s")
    }
}
