public import StorageCatalog

/// The emulated volume that stands for a pick, so that `berth drill az-failure --profile` rehearses what
/// `berth recommend` chose: the service, its EFS storage class or FSx deployment, its size and the tasks'
/// platform, read from the pick's `configuration`.
public struct EmulatedVolumeChoice: Sendable, Equatable {
    public var service: ServiceID
    public var storageClass: EFSStorageClass?
    public var deployment: Deployment?
    public var sizeGiB: Int?
    public var platform: Platform
    /// FSx for Lustre: the pick's deployment, storage type and read cache.
    public var lustreDeployment: LustreDeployment?
    public var lustreStorageType: LustreStorageType?
    public var lustreReadCacheGiB: Int?
}

extension Recommendation {
    /// Nil when no service fits.
    public var emulatedVolume: EmulatedVolumeChoice? {
        guard let pick = recommended else { return nil }
        let configuration = pick.configuration
        var choice = EmulatedVolumeChoice(
            service: pick.service, storageClass: nil, deployment: nil, sizeGiB: nil,
            platform: Platform(os: profile.platform.os, launchType: profile.platform.launchType),
            lustreDeployment: nil, lustreStorageType: nil, lustreReadCacheGiB: nil)
        switch pick.service {
        case .efs:
            // Configurator.efs writes "standard" or "one-zone", the emulator's spellings.
            choice.storageClass = configuration["storageClass"].flatMap(Self.text).flatMap(EFSStorageClass.init(rawValue:)) ?? .standard
        case .ebs:
            choice.sizeGiB = configuration["sizeInGiB"].flatMap(Self.integer)
        case .fsxWindows, .fsxOpenZFS, .fsxONTAP:
            // FSx deployment types: SINGLE_AZ_1/2 or MULTI_AZ_1/2 (AWS docs fsx CreateFileSystem API).
            let deploymentType = configuration["deploymentType"].flatMap(Self.text) ?? ""
            choice.deployment = deploymentType.hasPrefix("MULTI_AZ") ? .multiAZ : .singleAZ
            choice.sizeGiB = configuration["storageCapacityGiB"].flatMap(Self.integer)
        case .fsxLustre:
            // PERSISTENT_1/2 and SCRATCH_1/2 (AWS docs fsx/latest/LustreGuide/using-fsx-lustre.html).
            choice.sizeGiB = configuration["storageCapacityGiB"].flatMap(Self.integer)
            let deploymentType = configuration["deploymentType"].flatMap(Self.text) ?? ""
            choice.lustreDeployment = deploymentType.hasPrefix("SCRATCH") ? .scratch : .persistent
            choice.lustreStorageType = configuration["storageType"].flatMap(Self.text) == "HDD" ? .hdd : .ssd
            choice.lustreReadCacheGiB = configuration["readCacheGiB"].flatMap(Self.integer)
        }
        return choice
    }

    private static func text(_ value: JSONValue) -> String? {
        if case .string(let text) = value { return text }
        return nil
    }

    private static func integer(_ value: JSONValue) -> Int? {
        if case .int(let number) = value { return number }
        return nil
    }
}
