public import StorageCatalog

/// The emulated volume that stands for a pick, so that `berth drill az-failure --profile` rehearses what
/// `berth recommend` chose: the service, its EFS storage class or FSx deployment, its size and the tasks'
/// platform, read from the pick's typed configuration.
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
        guard let pick = recommended, let configuration = pick.configuration else { return nil }
        var choice = EmulatedVolumeChoice(
            service: pick.service, storageClass: nil, deployment: nil, sizeGiB: nil,
            platform: Platform(os: profile.platform.os, launchType: profile.platform.launchType),
            lustreDeployment: nil, lustreStorageType: nil, lustreReadCacheGiB: nil)
        switch configuration.service {
        case .efs(let c):
            choice.storageClass = c.storageClass
        case .ebs(let c):
            choice.sizeGiB = c.sizeInGiB
        case .windows(let c):
            choice.deployment = c.deploymentType.deployment
            choice.sizeGiB = c.storageCapacityGiB
        case .openZFS(let c):
            choice.deployment = c.deploymentType.deployment
            choice.sizeGiB = c.storageCapacityGiB
        case .ontap(let c):
            choice.deployment = c.deploymentType.deployment
            choice.sizeGiB = c.storageCapacityGiB
        case .lustre(let c):
            choice.sizeGiB = c.storageCapacityGiB
            choice.lustreDeployment = c.tier.deploymentType.family
            choice.lustreStorageType = c.tier.storageType
            choice.lustreReadCacheGiB = c.readCacheGiB
        }
        return choice
    }
}
