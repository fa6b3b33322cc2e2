#if canImport(Glibc)
import Glibc

/// Which of a service's rules one mount of a volume applies: the part of `MountConfiguration` the
/// semantics core decides with, plus the shared state those rules read (capacity counter, freeze).
public struct VolumeRules: Sendable {
    /// Every change answers EROFS (a read-only attachment).
    public var readOnly: Bool
    /// Which new names are refused, and whether names match regardless of case.
    public var nameRules: any NameRules
    /// Every operation answers EIO while this says the mount is cut off (an AZ outage).
    public var reachability: any Reachability
    /// Set when capacity is enforced (a provisioned volume); nil for elastic volumes.
    public var usage: VolumeUsage?
    /// Pauses changes while a snapshot of the volume is taken; nil when nothing snapshots it.
    public var freeze: WriteFreeze?
    /// Preserves a pending snapshot's point in time before changes (copy before write); nil when nothing snapshots it.
    public var preservation: SnapshotPreservation?
    public var cachePolicy: CachePolicy
    /// Whether extended attributes exist at all (EOPNOTSUPP on EFS).
    public var extendedAttributes: Bool

    public init(readOnly: Bool = false, nameRules: any NameRules = POSIXNameRules(),
                reachability: any Reachability = AlwaysReachable(), usage: VolumeUsage? = nil,
                freeze: WriteFreeze? = nil, cachePolicy: CachePolicy = .exclusive, extendedAttributes: Bool = true,
                preservation: SnapshotPreservation? = nil) {
        self.readOnly = readOnly
        self.nameRules = nameRules
        self.reachability = reachability
        self.usage = usage
        self.freeze = freeze
        self.cachePolicy = cachePolicy
        self.extendedAttributes = extendedAttributes
        self.preservation = preservation
    }

    /// The rules a mount with `configuration` applies.
    public init(configuration: MountConfiguration, usage: VolumeUsage?, freeze: WriteFreeze?,
                preservation: SnapshotPreservation? = nil) {
        self.init(readOnly: configuration.readOnly, nameRules: configuration.nameRules,
                  reachability: configuration.reachability, usage: usage, freeze: freeze,
                  cachePolicy: configuration.cachePolicy, extendedAttributes: configuration.extendedAttributes,
                  preservation: preservation)
    }
}

/// How long a mount's kernel may keep what the server told it (seconds), by cache policy.
public struct CacheTimeouts: Sendable, Equatable {
    /// Names that lead to a file.
    public var entry: Double
    public var attributes: Double
    /// Names that lead nowhere (0: never kept).
    public var negative: Double

    public init(entry: Double, attributes: Double, negative: Double) {
        self.entry = entry
        self.attributes = attributes
        self.negative = negative
    }

    public init(_ policy: CachePolicy) {
        switch policy {
        case .exclusive:
            // Nothing else changes an exclusive volume while it is attached (passthrough_hp's
            // cache=always uses the same day-long timeouts).
            self.init(entry: 86_400, attributes: 86_400, negative: 86_400)
        case .shared:
            // Names of files and attributes are kept for 1 s, as the Linux NFS client caches them for
            // 3-60 s (EFS recommends the default actimeo; AWS docs:
            // efs/latest/ug/mounting-fs-nfs-mount-settings.html) and the SMB client for 1 s (mount.cifs
            // actimeo). Names that do not exist are never kept, so a file another mount created is
            // there at once.
            self.init(entry: 1, attributes: 1, negative: 0)
        }
    }

    /// How long a name leading to a directory (`isDirectory`) or another file may be kept on a
    /// volume of `policy` with `liveMounts` mount servers running (nil: unknown). On a shared volume
    /// with another mount a directory's name is never kept: every path walk asks for it again, so a
    /// walk never goes on through a directory another mount has since renamed or replaced. With one
    /// mount nothing else changes its names, and directory names are kept like file names.
    public func entry(isDirectory: Bool, policy: CachePolicy, liveMounts: UInt64?) -> Double {
        guard policy == .shared, isDirectory else { return entry }
        return (liveMounts ?? 2) <= 1 ? entry : 0
    }
}
#endif
