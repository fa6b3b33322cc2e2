public import StorageCatalog
public import Workloads

/// The choices that make a pick concrete, in the order they are worth reading.
public struct Configuration: Sendable, Equatable {
    public var entries: [(String, JSONValue)] = []

    public init(_ entries: [(String, JSONValue)] = []) { self.entries = entries }

    public subscript(key: String) -> JSONValue? { entries.first { $0.0 == key }?.1 }

    public var json: JSONValue { .object(entries) }

    public static func == (lhs: Configuration, rhs: Configuration) -> Bool { lhs.json == rhs.json }
}

/// Per service, how the profile's figures become a configuration: one function a service, each citing
/// the fact it applies.
public enum Configurator {
    /// gp3's ceiling as ECS documents it for managed volumes (EC2's own pages now quote more; ECS's
    /// figures are the ones a task can rely on: shared/notes/aws-storage-facts.md).
    static let gp3MaxIOPS = 16_000
    static let gp3MaxThroughput = 1_000
    static let gp3BaselineIOPS = 3_000
    static let gp3BaselineThroughput = 125

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

    /// gp3 unless the IOPS, throughput or latency asked for need io2 (ebs-volume-types).
    static func ebs(_ p: WorkloadProfile) -> Configuration {
        let iops = p.performance.iops, throughput = p.performance.throughputMiBps
        let needsIO2 = (iops ?? 0) > gp3MaxIOPS || (throughput ?? 0) > gp3MaxThroughput || p.performance.latency == .subMillisecond
        var c = Configuration()
        c.entries.append(("volumeType", needsIO2 ? "io2" : "gp3"))
        c.entries.append(("sizeInGiB", .int(max(p.capacity.sizeGiB ?? 20, 1))))
        if needsIO2 {
            // io2 needs provisioned IOPS; 3,000 is the gp3 baseline, a sensible floor.
            c.entries.append(("iops", .int(max(iops ?? gp3BaselineIOPS, 100))))
        } else {
            c.entries.append(("iops", .int(max(iops ?? gp3BaselineIOPS, gp3BaselineIOPS))))
            c.entries.append(("throughput", .int(max(throughput ?? gp3BaselineThroughput, gp3BaselineThroughput))))
        }
        c.entries.append(("filesystemType", p.platform.os == .windows ? "ntfs" : "xfs"))
        if p.access.sharing == .readOnlyShared {
            c.entries.append(("fromSnapshot", "one snapshot, a volume per task (snapshotId in volumeConfigurations)"))
        }
        return c
    }

    /// Standard when data must survive an AZ, One Zone otherwise; IA tiering for rarely read data.
    static func efs(_ p: WorkloadProfile) -> Configuration {
        var c = Configuration()
        c.entries.append(("storageClass", p.availability.multiAZ ? "standard" : "one-zone"))
        c.entries.append(("performanceMode", "generalPurpose"))
        c.entries.append(("throughputMode", "elastic"))
        if p.capacity.accessFrequency == .infrequent {
            c.entries.append(("transitionToIA", "AFTER_30_DAYS"))
        }
        c.entries.append(("transitEncryption", "ENABLED"))
        return c
    }

    /// SSD for small random I/O; HDD with an SSD read cache (up to 20% of HDD storage) for large
    /// sequential I/O (seed §Amazon FSx für Lustre). Capacity: 1,200 GiB, then steps of 2,400.
    static func lustre(_ p: WorkloadProfile) -> Configuration {
        let hdd = p.performance.ioPattern == .sequentialLarge && p.performance.latency != .subMillisecond
        let size = lustreCapacity(p.capacity.sizeGiB ?? 1_200)
        var c = Configuration()
        c.entries.append(("deploymentType", hdd ? "PERSISTENT_1" : "PERSISTENT_2"))
        c.entries.append(("storageType", hdd ? "HDD" : "SSD"))
        c.entries.append(("storageCapacityGiB", .int(size)))
        if hdd {
            c.entries.append(("driveCacheType", "READ"))
            // The largest cache the catalogue allows (the same fact `berth volume create` checks).
            c.entries.append(("readCacheGiB", .int(LustreOptionFacts.maxReadCacheGiB(sizeGiB: size))))
        }
        let perTiB = lustreThroughputPerTiB(hdd: hdd, neededMiBps: p.performance.throughputMiBps, sizeGiB: size)
        c.entries.append(("perUnitStorageThroughput", .int(perTiB)))
        if p.features.contains(.s3DataRepository) {
            c.entries.append(("dataRepositoryAssociation", "s3://<BUCKET>/<PREFIX> (import and export)"))
        }
        return c
    }

    static func lustreCapacity(_ gib: Int) -> Int {
        if gib <= 1_200 { return 1_200 }
        return ((gib + 2_399) / 2_400) * 2_400
    }

    /// MB/s per TiB: PERSISTENT_1 HDD 12 or 40; PERSISTENT_2 SSD 125, 250, 500 or 1000.
    static func lustreThroughputPerTiB(hdd: Bool, neededMiBps: Int?, sizeGiB: Int) -> Int {
        let steps = hdd ? [12, 40] : [125, 250, 500, 1_000]
        guard let needed = neededMiBps else { return steps[0] }
        let tib = max(Double(sizeGiB) / 1_024, 1)
        return steps.first { Double($0) * tib >= Double(needed) } ?? steps[steps.count - 1]
    }

    static func windows(_ p: WorkloadProfile) -> Configuration {
        let hdd = p.performance.latency == .standard && p.performance.ioPattern != .randomSmall
            && (p.cost == .lowest || p.capacity.accessFrequency == .infrequent)
        var c = Configuration()
        c.entries.append(("deploymentType", p.availability.multiAZ ? "MULTI_AZ_1" : "SINGLE_AZ_2"))
        c.entries.append(("storageType", hdd ? "HDD" : "SSD"))
        c.entries.append(("storageCapacityGiB", .int(max(p.capacity.sizeGiB ?? 32, hdd ? 2_000 : 32))))
        c.entries.append(("throughputCapacity", .int(throughputStep(p.performance.throughputMiBps, steps: [32, 64, 128, 256, 512, 1_024, 2_048]))))
        c.entries.append(("activeDirectory", "AWS Managed Microsoft AD or self-managed AD"))
        return c
    }

    static func openZFS(_ p: WorkloadProfile) -> Configuration {
        var c = Configuration()
        c.entries.append(("deploymentType", p.availability.multiAZ ? "MULTI_AZ_1" : "SINGLE_AZ_2"))
        c.entries.append(("storageCapacityGiB", .int(max(p.capacity.sizeGiB ?? 64, 64))))
        c.entries.append(("throughputCapacity", .int(throughputStep(p.performance.throughputMiBps, steps: [160, 320, 640, 1_280, 2_560, 3_840, 5_120, 7_680, 10_240]))))
        c.entries.append(("nfsVersion", "NFSv4.1"))
        return c
    }

    static func ontap(_ p: WorkloadProfile) -> Configuration {
        var c = Configuration()
        c.entries.append(("deploymentType", p.availability.multiAZ ? "MULTI_AZ_2" : "SINGLE_AZ_2"))
        c.entries.append(("storageCapacityGiB", .int(max(p.capacity.sizeGiB ?? 1_024, 1_024))))
        c.entries.append(("throughputCapacity", .int(throughputStep(p.performance.throughputMiBps, steps: [384, 768, 1_536, 3_072, 6_144]))))
        let protocols = p.protocols.isEmpty ? (p.platform.os == .windows ? ["smb"] : ["nfs"]) : p.protocols.map(\.rawValue)
        c.entries.append(("protocols", .array(protocols.map { .string($0) })))
        return c
    }

    static func throughputStep(_ needed: Int?, steps: [Int]) -> Int {
        guard let needed else { return steps[0] }
        return steps.first { $0 >= needed } ?? steps[steps.count - 1]
    }
}
