public import StorageCatalog

/// An FSx for Lustre volume's deployment, storage type and SSD read cache (`LustreOptionFacts` says
/// what is allowed and where that comes from). Stored in `Volume.options`.
public struct LustreConfiguration: Sendable, Equatable, Codable {
    public var deployment: LustreDeployment
    public var storageType: LustreStorageType
    /// HDD only; 0 for none.
    public var readCacheGiB: Int

    public init(deployment: LustreDeployment = .persistent, storageType: LustreStorageType = .ssd, readCacheGiB: Int = 0) {
        self.deployment = deployment
        self.storageType = storageType
        self.readCacheGiB = readCacheGiB
    }

    /// Checks the choices against the catalogue for a file system of `sizeGiB`.
    public func validate(sizeGiB: Int) throws(StateError) {
        let allowed = LustreOptionFacts.storageTypes
        if !(allowed.value[deployment] ?? []).contains(storageType) {
            throw .invalidParameter(
                "a \(deployment.rawValue) FSx for Lustre file system has \((allowed.value[deployment] ?? []).map(\.rawValue).sorted().joined(separator: " or ")) storage, not \(storageType.rawValue) (\(allowed.source))")
        }
        if readCacheGiB < 0 { throw .invalidParameter("--read-cache-gib is 0 or more, not \(readCacheGiB)") }
        if readCacheGiB > 0 && storageType != .hdd {
            throw .invalidParameter("an SSD read cache is for HDD storage only (--storage-type hdd) (\(LustreOptionFacts.readCacheMaxPercent.source))")
        }
        let most = LustreOptionFacts.maxReadCacheGiB(sizeGiB: sizeGiB)
        if readCacheGiB > most {
            throw .invalidParameter(
                "the SSD read cache is at most \(LustreOptionFacts.readCacheMaxPercent.value)% of the HDD storage: \(most) GiB for \(sizeGiB) GiB, not \(readCacheGiB) (\(LustreOptionFacts.readCacheMaxPercent.source))")
        }
    }

    /// Whether the file system can be backed up (`berth snapshot create`).
    public var hasBackups: Bool { LustreOptionFacts.backedUp.value.contains(deployment) }

    static let deploymentKey = "lustreDeployment", storageTypeKey = "storageType", readCacheKey = "readCacheGiB"

    var options: [String: String] {
        [Self.deploymentKey: deployment.rawValue, Self.storageTypeKey: storageType.rawValue, Self.readCacheKey: String(readCacheGiB)]
    }

    init?(options: [String: String]) {
        guard let deployment = options[Self.deploymentKey].flatMap(LustreDeployment.init(rawValue:)) else { return nil }
        self.deployment = deployment
        storageType = options[Self.storageTypeKey].flatMap(LustreStorageType.init(rawValue:)) ?? .ssd
        readCacheGiB = options[Self.readCacheKey].flatMap { Int($0) } ?? 0
    }
}

extension Volume {
    /// FSx for Lustre volumes only; volumes made before these options existed read as persistent SSD.
    public var lustre: LustreConfiguration? {
        guard type == .fsxLustre else { return nil }
        return LustreConfiguration(options: options) ?? LustreConfiguration()
    }
}

extension Volume {
    static let cloneOfKey = "cloneOf"

    /// FSx for OpenZFS: the snapshot this volume is a clone of (`--from-snapshot` on fsx-openzfs), which
    /// cannot be deleted while the clone exists.
    public var cloneOf: SnapshotID? { options[Self.cloneOfKey].flatMap(SnapshotID.init(rawValue:)) }
}
