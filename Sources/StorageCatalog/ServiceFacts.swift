/// Everything Berth knows about one storage service, each fact with its source.
/// A class: the planner reads these facts for every rule and every profile; sharing one instance
/// instead of copying a struct of strings and sets is what keeps ranking fast.
public final class ServiceFacts: Sendable {
    public let id: ServiceID
    public let name: String
    /// What the application can speak to it.
    public let protocols: Sourced<Set<AccessProtocol>>
    /// How many tasks may read and write it at the same time.
    public let concurrentTasks: Sourced<Concurrency>
    /// What decides the Availability Zones its data lives in.
    public let zones: Sourced<ZoneScope>
    /// Deployment types where the service offers a choice (FSx: single-AZ or multi-AZ).
    public let deployments: [Deployment]
    /// How each platform can use it.
    public let platforms: [Platform: Sourced<PlatformSupport>]
    public let features: Sourced<Set<Feature>>
    /// The best latency class it reaches.
    public let latency: Sourced<LatencyClass>
    public let maxThroughputMiBps: Sourced<Int>
    public let maxIOPS: Sourced<Int>
    /// Caps that Fargate puts on it, where they differ from the service's own.
    public let fargateLimits: Sourced<FargateLimits>?
    /// Provisioned size range; nil for elastic services.
    public let capacityGiB: Sourced<ClosedRange<Int>>?
    /// Grows and shrinks by itself.
    public let elastic: Sourced<Bool>
    /// Data kept in several AZs with no deployment choice to make.
    public let replicatedAcrossAZs: Sourced<Bool>


    public init(
        id: ServiceID,
        name: String,
        protocols: Sourced<Set<AccessProtocol>>,
        concurrentTasks: Sourced<Concurrency>,
        zones: Sourced<ZoneScope>,
        deployments: [Deployment],
        platforms: [Platform: Sourced<PlatformSupport>],
        features: Sourced<Set<Feature>>,
        latency: Sourced<LatencyClass>,
        maxThroughputMiBps: Sourced<Int>,
        maxIOPS: Sourced<Int>,
        fargateLimits: Sourced<FargateLimits>?,
        capacityGiB: Sourced<ClosedRange<Int>>?,
        elastic: Sourced<Bool>,
        replicatedAcrossAZs: Sourced<Bool>
    ) {
        self.id = id
        self.name = name
        self.protocols = protocols
        self.concurrentTasks = concurrentTasks
        self.zones = zones
        self.deployments = deployments
        self.platforms = platforms
        self.features = features
        self.latency = latency
        self.maxThroughputMiBps = maxThroughputMiBps
        self.maxIOPS = maxIOPS
        self.fargateLimits = fargateLimits
        self.capacityGiB = capacityGiB
        self.elastic = elastic
        self.replicatedAcrossAZs = replicatedAcrossAZs
    }

    public var multiAZCapable: Bool { zones.value != .singleAZ }
}

public enum AccessProtocol: String, CaseIterable, Codable, Sendable {
    case block, nfs, smb, iscsi, lustre
}

public enum Concurrency: String, Codable, Sendable {
    /// One task at a time (EBS: "does not support concurrent access").
    case one
    case many
}

public enum ZoneScope: String, Codable, Sendable {
    /// Always one AZ.
    case singleAZ = "single-az"
    /// EFS: Standard keeps data in several AZs, One Zone in one.
    case storageClass = "storage-class"
    /// FSx: single-AZ or multi-AZ deployment, chosen at creation.
    case deployment
}

public enum Deployment: String, CaseIterable, Codable, Sendable {
    case singleAZ = "single-az"
    case multiAZ = "multi-az"
}

public enum EFSStorageClass: String, CaseIterable, Codable, Sendable {
    case standard
    case oneZone = "one-zone"
}

public enum PlatformSupport: Hashable, Codable, Sendable {
    /// ECS mounts it from the task definition's `volumes`.
    case native
    /// The container instance mounts it; the task binds the host path.
    case hostMount(String)
    case unsupported(String)

    public var isSupported: Bool {
        if case .unsupported = self { return false }
        return true
    }
}

public enum LatencyClass: String, CaseIterable, Codable, Sendable, Comparable {
    case subMillisecond = "sub-millisecond"
    case low
    case standard

    public static func < (lhs: LatencyClass, rhs: LatencyClass) -> Bool {
        // Lower is better: sub-millisecond < low < standard.
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }
}

public struct FargateLimits: Hashable, Codable, Sendable {
    public var maxIOPS: Int
    public var maxThroughputMiBps: Int
}

/// The features a workload profile may ask for (workload-profile.md, `features`).
public enum Feature: String, CaseIterable, Codable, Sendable {
    case snapshots, clones
    case s3DataRepository = "s3-data-repository"
    case activeDirectory = "active-directory"
    case acls
    case userQuotas = "user-quotas"
    case shadowCopies = "shadow-copies"
    case deduplication, compression
    case automaticBackups = "automatic-backups"
    case encryptionAtRest = "encryption-at-rest"
    case encryptionInTransit = "encryption-in-transit"
    case sqlServer = "sql-server"
}
