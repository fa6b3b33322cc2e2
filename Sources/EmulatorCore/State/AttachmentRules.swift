import StorageCatalog

/// The rules `StateStore.attach` enforces, as functions of the facts alone, in the order they are checked.
/// Each one cites where the rule comes from; docs/SEMANTICS.md lists them per service.
enum AttachmentRules {
    /// The task's platform must be able to get the service at all. The reason and source come from
    /// `Catalog.support(_:on:)`, the same fact the planner reads (emulator.md §Common to all: "Support for
    /// the platform is checked at mount time, from the same facts the planner uses").
    static func checkPlatform(_ type: ServiceID, _ platform: Platform) throws(StateError) {
        let support = Catalog.support(type, on: platform)
        if case .unsupported(let reason) = support.value {
            throw .unsupportedPlatform(type, platform, reason: reason, source: support.source)
        }
    }

    /// Which AZs a task may mount the volume from.
    static func checkZone(_ volume: Volume, taskZone: String) throws(StateError) {
        switch volume.placement {
        case .regional, .multiAZ:
            // EFS Standard has a mount target in every AZ (AWS docs: efs/latest/ug/accessing-fs.html, "For
            // EFS file systems that use Regional storage classes, you can create a mount target in each
            // Availability Zone"). A multi-AZ FSx deployment serves the VPC from its active file server
            // whichever AZ that is in (AWS docs: fsx/latest/WindowsGuide/high-availability-multiAZ.html).
            return
        case .zonal(let zone) where zone == taskZone:
            return
        case .zonal(let zone):
            switch volume.type {
            case .efs:
                // One Zone: "EFS One Zone file systems support only a single mount target which is located in
                // the same Availability Zone as the file system"; EC2 instances elsewhere must name that AZ
                // (`mount -t efs -o az=…`) (AWS docs: efs/latest/ug/mounting-one-zone.html). ECS's
                // efsVolumeConfiguration has no AZ option (AmazonECS/latest/APIReference/API_EFSVolumeConfiguration.html),
                // so a task in another AZ cannot pass one and fails to resolve the mount target. That last
                // step is an inference from the API plus reported "Failed to resolve fs-…" errors
                // (shared/notes/aws-storage-facts.md), not a documented rule; Berth refuses such mounts so that
                // a design relying on them shows up here rather than in production.
                throw .oneZoneMountTargetMissing(volume.id, volumeZone: zone, taskZone: taskZone)
            case .ebs:
                // "InvalidVolume.ZoneMismatch: The specified volume and instance are in different Availability
                // Zones" (AWS docs: AWSEC2/latest/APIReference/errors-overview.html); emulator.md table: "only
                // from its own AZ (ZoneMismatch)".
                throw .zoneMismatch(volume.id, type: volume.type, volumeZone: zone, taskZone: taskZone)
            case .fsxLustre, .fsxWindows, .fsxOpenZFS, .fsxONTAP:
                // emulator.md table: fsx-lustre "its AZ (single-AZ service)", the other FSx types "single-az or
                // multi-az deployment". Berth reads a single-AZ deployment as mountable from its AZ only.
                // This is stricter than AWS, whose VPC routing lets clients in other AZs reach a single-AZ
                // file system at a cross-AZ charge; the refusal flags designs that tie tasks in several AZs
                // to one AZ's file server.
                throw .zoneMismatch(volume.id, type: volume.type, volumeZone: zone, taskZone: taskZone)
            }
        }
    }

    /// Some AZ holding the volume's data must be up: a multi-AZ deployment fails over to its standby
    /// (high-availability-multiAZ.html); a zonal volume is cut off with its AZ (emulator.md §Model).
    static func checkAvailable(_ volume: Volume, regionZones: [String], failedZones: Set<String>) throws(StateError) {
        let dataZones = volume.dataZones(in: regionZones)
        if dataZones.allSatisfy(failedZones.contains) {
            throw .volumeUnavailable(volume.id, dataZones: dataZones)
        }
    }

    /// How many tasks may have the volume at once, from the catalogue: EBS one ("Amazon EBS unterstützt
    /// keinen gleichzeitigen Zugriff auf ein Volume", seed §Amazon Elastic Block Store (Amazon EBS)), every
    /// file system many.
    ///
    /// EBS read-only attachments get no exception: EBS Multi-Attach (io1/io2 only, up to 16 Nitro instances in
    /// one AZ) is not offered for ECS-managed volumes, and ECS attaches a managed volume to exactly one task
    /// (AWS docs: AmazonECS/latest/developerguide/ebs-volumes.html; ebs/latest/userguide/ebs-volumes-multi.html).
    /// So a second attachment is refused with VolumeInUse whether either one is read-only or not.
    static func checkExclusivity(_ volume: Volume, existing: [VolumeAttachment]) throws(StateError) {
        guard Catalog.facts(volume.type).concurrentTasks.value == .one, !existing.isEmpty else { return }
        throw .volumeInUse(volume.id, attachments: existing)
    }
}
