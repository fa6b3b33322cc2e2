/// FSx for Lustre's own choices, which the emulator's `berth volume create` validates against: the
/// deployment (scratch or persistent), the storage type, the SSD read cache of HDD storage, and which
/// deployments have backups. The planner's `Configurator.lustre` picks among the same.
public enum LustreDeployment: String, CaseIterable, Codable, Sendable {
    /// Temporary storage: data is not replicated and does not survive a file server's failure.
    case scratch
    /// Longer-term storage, replicated within its AZ.
    case persistent
}

public enum LustreStorageType: String, CaseIterable, Codable, Sendable {
    case ssd, hdd
}

public enum LustreOptionFacts {
    static let deploymentPage = Source.aws("fsx/latest/LustreGuide/using-fsx-lustre.html")

    /// Both deployments offer SSD; HDD only a persistent one ("HDD storage is supported only in one of
    /// the persistent deployment types").
    public static let storageTypes = Sourced<[LustreDeployment: Set<LustreStorageType>]>(
        [.scratch: [.ssd], .persistent: [.ssd, .hdd]], deploymentPage + Catalog.lustreDeploymentNote)

    /// HDD storage may carry a read-only SSD cache of up to 20% of its size (the course text: "a read-only
    /// SSD cache of up to 20% of the HDD storage"; AWS: DriveCacheType READ, sized at 20%).
    public static let readCacheMaxPercent = Sourced(
        20, Catalog.lustreCreateAPI + Catalog.seedLustre)

    /// Backups exist for persistent file systems only ("you can take automatic daily backups and
    /// user-initiated backups of persistent file systems").
    public static let backedUp = Sourced<Set<LustreDeployment>>([.persistent], Source.aws("fsx/latest/LustreGuide/using-backups-fsx.html"))

    /// The largest read cache for `sizeGiB` of HDD storage.
    public static func maxReadCacheGiB(sizeGiB: Int) -> Int { sizeGiB * readCacheMaxPercent.value / 100 }
}

extension Catalog {
    /// HDD storage on PERSISTENT_1 only: the CreateFileSystem storage-capacity rules name HDD for
    /// PERSISTENT_1 alone (checked 2026-11-26).
    static let lustreDeploymentNote = Catalog.lustreCreateAPI
    /// Lustre's deployment types, storage types, per-unit throughput and drive cache, as CreateFileSystem takes them.
    public static let lustreCreateAPI = Source.aws("fsx/latest/APIReference/API_CreateFileSystemLustreConfiguration.html")
}
