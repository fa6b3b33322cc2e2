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

    /// HDD storage may carry a read-only SSD cache of up to 20% of its size ("einen schreibgeschützten
    /// SSD-Cache mit einer Größe von bis zu 20 % des Festplattenspeichers").
    public static let readCacheMaxPercent = Sourced(20, Source.seed("Amazon FSx für Lustre"))

    /// Backups exist for persistent file systems only ("you can take automatic daily backups and
    /// user-initiated backups of persistent file systems").
    public static let backedUp = Sourced<Set<LustreDeployment>>([.persistent], Source.aws("fsx/latest/LustreGuide/using-backups-fsx.html"))

    /// The largest read cache for `sizeGiB` of HDD storage.
    public static func maxReadCacheGiB(sizeGiB: Int) -> Int { sizeGiB * readCacheMaxPercent.value / 100 }
}

extension Catalog {
    /// shared/notes/aws-storage-facts.md: "HDD only on PERSISTENT_1, with a READ cache up to 20% of capacity".
    static let lustreDeploymentNote = Source("shared/notes/aws-storage-facts.md §FSx for Lustre")
}
