public import StorageCatalog

/// What one application component needs from persistent storage: the workload-profile contract
/// (shared/spec/workload-profile.md), with every default applied.
public struct WorkloadProfile: Hashable, Codable, Sendable {
    public static let apiVersion = "berth/v1"
    public static let kind = "WorkloadProfile"

    public var name: String
    public var description: String?
    public var platform: PlatformNeeds
    public var access: Access
    public var availability: Availability
    public var performance: Performance
    public var capacity: Capacity
    public var protocols: [ProtocolNeed]
    public var features: [Feature]
    public var migration: Migration
    public var cost: CostPriority

    public init(
        name: String, description: String? = nil, platform: PlatformNeeds, access: Access,
        availability: Availability = .init(), performance: Performance = .init(), capacity: Capacity = .init(),
        protocols: [ProtocolNeed] = [], features: [Feature] = [], migration: Migration = .none,
        cost: CostPriority = .balanced
    ) {
        self.name = name
        self.description = description
        self.platform = platform
        self.access = access
        self.availability = availability
        self.performance = performance
        self.capacity = capacity
        self.protocols = protocols
        self.features = features
        self.migration = migration
        self.cost = cost
    }

    public struct PlatformNeeds: Hashable, Codable, Sendable {
        public var os: OperatingSystem
        public var launchType: LaunchType
        public var architecture: Architecture
        public var runtime: Runtime

        public init(os: OperatingSystem, launchType: LaunchType, architecture: Architecture = .x86_64, runtime: Runtime = .dotnet) {
            self.os = os
            self.launchType = launchType
            self.architecture = architecture
            self.runtime = runtime
        }

        public var platform: Platform { Platform(os: os, launchType: launchType) }
    }

    public struct Access: Hashable, Codable, Sendable {
        public var sharing: Sharing
        public var tasks: Int
        public var locking: Bool

        public init(sharing: Sharing, tasks: Int = 1, locking: Bool = false) {
            self.sharing = sharing
            self.tasks = tasks
            self.locking = locking
        }
    }

    public struct Availability: Hashable, Codable, Sendable {
        public var multiAZ: Bool
        public init(multiAZ: Bool = false) { self.multiAZ = multiAZ }
    }

    public struct Performance: Hashable, Codable, Sendable {
        public var latency: LatencyClass
        public var ioPattern: IOPattern
        public var throughputMiBps: Int?
        public var iops: Int?

        public init(latency: LatencyClass = .standard, ioPattern: IOPattern = .mixed, throughputMiBps: Int? = nil, iops: Int? = nil) {
            self.latency = latency
            self.ioPattern = ioPattern
            self.throughputMiBps = throughputMiBps
            self.iops = iops
        }
    }

    public struct Capacity: Hashable, Codable, Sendable {
        public var sizeGiB: Int?
        public var growth: Growth
        public var accessFrequency: AccessFrequency

        public init(sizeGiB: Int? = nil, growth: Growth = .fixed, accessFrequency: AccessFrequency = .frequent) {
            self.sizeGiB = sizeGiB
            self.growth = growth
            self.accessFrequency = accessFrequency
        }
    }
}

public enum Architecture: String, CaseIterable, Codable, Sendable { case x86_64, arm64 }
public enum Runtime: String, CaseIterable, Codable, Sendable {
    case dotnet
    case dotnetFramework = "dotnet-framework"
}
public enum Sharing: String, CaseIterable, Codable, Sendable {
    case exclusive, shared
    case readOnlyShared = "read-only-shared"
}
public enum IOPattern: String, CaseIterable, Codable, Sendable {
    case randomSmall = "random-small"
    case sequentialLarge = "sequential-large"
    case mixed
}
public enum Growth: String, CaseIterable, Codable, Sendable { case fixed, elastic }
public enum AccessFrequency: String, CaseIterable, Codable, Sendable { case frequent, infrequent }
/// What the application itself must speak (`protocols`).
public enum ProtocolNeed: String, CaseIterable, Codable, Sendable { case block, nfs, smb, iscsi }
public enum Migration: String, CaseIterable, Codable, Sendable {
    case none
    case windowsFileServer = "windows-file-server"
    case linuxFileServer = "linux-file-server"
    case netappONTAP = "netapp-ontap"
}
public enum CostPriority: String, CaseIterable, Codable, Sendable { case lowest, balanced, performance }
