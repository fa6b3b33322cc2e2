import Foundation
import StorageCatalog
import Testing
@testable import EmulatorCore

@Suite struct StateAttachmentTests {
    @Test func ebsTakesOneAttachmentAtATime() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let first = try store.attach(volumeID: volume.id, az: "us-east-1a", task: "t-1", mountpoint: sandbox.mountpoint("1"))
        #expect(first.task == "t-1" && first.availabilityZone == "us-east-1a" && !first.readOnly)
        #expect(first.platform == Platform(os: .linux, launchType: .ec2))
        #expect(first.server == ServerProcess.current)

        let second = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "us-east-1a", task: "t-2", mountpoint: sandbox.mountpoint("2"))
        }
        #expect(second?.description == "VolumeInUse: \(volume.id) is attached to task t-1 in us-east-1a")
        // Read-only gets no exception: ECS attaches a managed EBS volume to one task, and Multi-Attach is
        // not available through ECS.
        let readOnly = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "us-east-1a", readOnly: true, mountpoint: sandbox.mountpoint("3"))
        }
        #expect(readOnly?.awsErrorName == "VolumeInUse")
        #expect(try store.describeVolume(volume.id).attachments == [first])

        #expect(try store.detach(first.id) == first)
        let again = try store.attach(volumeID: volume.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("2"))
        #expect(again.task.hasPrefix("t-") && again.task.count == 10)
    }

    @Test func ebsReadOnlyFirstAttachmentStillExcludesOthers() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let reader = try store.attach(volumeID: volume.id, az: "us-east-1a", readOnly: true, mountpoint: sandbox.mountpoint("r"))
        #expect(reader.readOnly)
        for readOnly in [false, true] {
            let error = stateError { () throws(StateError) in
                try store.attach(volumeID: volume.id, az: "us-east-1a", readOnly: readOnly, mountpoint: sandbox.mountpoint("w"))
            }
            #expect(error == .volumeInUse(volume.id, attachments: [reader]))
        }
    }

    @Test func ebsOnlyFromItsOwnZone() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let error = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "us-east-1b", mountpoint: sandbox.mountpoint("1"))
        }
        #expect(error?.description == "InvalidVolume.ZoneMismatch: \(volume.id) is in us-east-1a; the task runs in us-east-1b")
        #expect(try store.listAttachments().isEmpty)
        let unknown = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "eu-west-1a", mountpoint: sandbox.mountpoint("1"))
        }
        #expect(unknown?.awsErrorName == "InvalidZone.NotFound")
        let missing = VolumeID.generate(for: .ebs)
        #expect(stateError { () throws(StateError) in
            try store.attach(volumeID: missing, az: "us-east-1a", mountpoint: sandbox.mountpoint("1"))
        } == .volumeNotFound(missing))
    }

    @Test func efsStandardMountsFromEveryZoneManyAtOnce() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .efs, az: "us-east-1a")
        for (index, zone) in store.region.zones.enumerated() {
            for copy in 0..<2 {
                try store.attach(volumeID: volume.id, az: zone, mountpoint: sandbox.mountpoint("\(index)-\(copy)"))
            }
        }
        #expect(try store.describeVolume(volume.id).attachments.count == 6)
        #expect(Set(try store.listAttachments().map(\.availabilityZone)) == Set(store.region.zones))
        // Deleting it while attached is refused with the file-system error name.
        let error = stateError { () throws(StateError) in try store.deleteVolume(volume.id) }
        #expect(error?.awsErrorName == "FileSystemInUse")
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.dataDirectory(volume.id)))
    }

    @Test func efsOneZoneMountsOnlyFromItsZone() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .efs, az: "us-east-1b", storageClass: .oneZone)
        try store.attach(volumeID: volume.id, az: "us-east-1b", mountpoint: sandbox.mountpoint("1"))
        try store.attach(volumeID: volume.id, az: "us-east-1b", mountpoint: sandbox.mountpoint("2"))
        let error = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("3"))
        }
        #expect(error == .oneZoneMountTargetMissing(volume.id, volumeZone: "us-east-1b", taskZone: "us-east-1a"))
        #expect(error?.awsErrorName == "ResourceInitializationError")
        #expect(try store.listAttachments().count == 2)
    }

    @Test(arguments: [ServiceID.fsxWindows, .fsxOpenZFS, .fsxONTAP])
    func fsxSingleAZFromItsZoneMultiAZFromAny(_ type: ServiceID) throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let platform: OperatingSystem = type == .fsxWindows ? .windows : .linux
        let single = try store.createVolume(type: type, az: "us-east-1a")
        try store.attach(volumeID: single.id, az: "us-east-1a", os: platform, mountpoint: sandbox.mountpoint("s1"))
        try store.attach(volumeID: single.id, az: "us-east-1a", os: platform, mountpoint: sandbox.mountpoint("s2"))
        let error = stateError { () throws(StateError) in
            try store.attach(volumeID: single.id, az: "us-east-1c", os: platform, mountpoint: sandbox.mountpoint("s3"))
        }
        #expect(error?.description == "InvalidVolume.ZoneMismatch: \(single.id) is in us-east-1a (single-AZ deployment); the task runs in us-east-1c")

        let multi = try store.createVolume(type: type, az: "us-east-1a", deployment: .multiAZ)
        for zone in store.region.zones {
            try store.attach(volumeID: multi.id, az: zone, os: platform, mountpoint: sandbox.mountpoint("m-" + zone))
        }
        #expect(try store.describeVolume(multi.id).attachments.count == 3)
    }

    @Test func lustreIsSingleAZAndShared() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .fsxLustre, az: "us-east-1c")
        try store.attach(volumeID: volume.id, az: "us-east-1c", mountpoint: sandbox.mountpoint("1"))
        try store.attach(volumeID: volume.id, az: "us-east-1c", readOnly: true, mountpoint: sandbox.mountpoint("2"))
        let error = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("3"))
        }
        #expect(error?.awsErrorName == "InvalidVolume.ZoneMismatch")
        #expect(error?.message.contains("FSx for Lustre is single-AZ") == true)
    }

    @Test(arguments: [
        (ServiceID.efs, OperatingSystem.windows, LaunchType.ec2),
        (.efs, .windows, .fargate),
        (.fsxLustre, .linux, .fargate),
        (.fsxLustre, .windows, .ec2),
        (.fsxWindows, .windows, .fargate),
        (.fsxWindows, .linux, .fargate),
        (.fsxOpenZFS, .linux, .fargate),
        (.fsxOpenZFS, .windows, .ec2),
        (.fsxONTAP, .linux, .fargate),
        (.ebs, .windows, .fargate),
    ])
    func platformRefusalsComeFromTheCatalogue(_ type: ServiceID, _ os: OperatingSystem, _ launchType: LaunchType) throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: type, az: "us-east-1a")
        let error = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "us-east-1a", launchType: launchType, os: os, mountpoint: sandbox.mountpoint("1"))
        }
        let fact = Catalog.support(type, on: Platform(os: os, launchType: launchType))
        guard case .unsupported(let reason) = fact.value else {
            Issue.record("the catalogue supports \(type) on \(os)/\(launchType)")
            return
        }
        #expect(error == .unsupportedPlatform(type, Platform(os: os, launchType: launchType), reason: reason, source: fact.source))
        #expect(error?.awsErrorName == "UnsupportedOperation")
        #expect(error?.message.contains(reason) == true && error?.message.contains(fact.source.citation) == true)
        #expect(try store.listAttachments().isEmpty)
    }

    @Test func efsOnWindowsReadsAsTheContractSays() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .efs, az: "us-east-1a")
        let error = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "us-east-1a", os: .windows, mountpoint: sandbox.mountpoint("1"))
        }
        #expect(error?.description ==
            "UnsupportedOperation: efs volumes cannot be mounted by Windows tasks: EFS is mounted by Linux container instances only "
            + "(\(Catalog.seedEFS); \(Catalog.ecsStorageOptions))")
    }

    @Test(arguments: [
        (ServiceID.ebs, OperatingSystem.linux, LaunchType.fargate),
        (.ebs, .windows, .ec2),
        (.efs, .linux, .fargate),
        (.fsxWindows, .windows, .ec2),
        (.fsxWindows, .linux, .ec2),
        (.fsxLustre, .linux, .ec2),
        (.fsxONTAP, .windows, .ec2),
    ])
    func supportedPlatformsAttach(_ type: ServiceID, _ os: OperatingSystem, _ launchType: LaunchType) throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: type, az: "us-east-1a")
        let attachment = try store.attach(volumeID: volume.id, az: "us-east-1a", launchType: launchType, os: os,
                                          mountpoint: sandbox.mountpoint("1"))
        #expect(attachment.platform == Platform(os: os, launchType: launchType))
    }

    @Test func failedZonesRefuseMountsAndMultiAZFailsOver() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let ebs = try store.createVolume(type: .ebs, az: "us-east-1a")
        let multi = try store.createVolume(type: .fsxOpenZFS, az: "us-east-1a", deployment: .multiAZ)  // standby us-east-1b
        try store.setAZFailed("us-east-1a", true)
        #expect(stateError { () throws(StateError) in
            try store.attach(volumeID: ebs.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("1"))
        } == .zoneFailed("us-east-1a"))
        // The standby serves while the preferred AZ is down.
        try store.attach(volumeID: multi.id, az: "us-east-1c", mountpoint: sandbox.mountpoint("2"))
        try store.setAZFailed("us-east-1b", true)
        let error = stateError { () throws(StateError) in
            try store.attach(volumeID: multi.id, az: "us-east-1c", mountpoint: sandbox.mountpoint("3"))
        }
        #expect(error == .volumeUnavailable(multi.id, dataZones: ["us-east-1a", "us-east-1b"]))
        #expect(error?.awsErrorName == "IncorrectState")
        try store.setAZFailed("us-east-1a", false)
        try store.attach(volumeID: ebs.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("1"))
    }

    @Test func deleteWhileAttachedIsRefusedAndChangesNothing() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        try Data("keep".utf8).write(to: URL(fileURLWithPath: sandbox.stateDirectory.dataDirectory(volume.id) + "/file"))
        let attachment = try store.attach(volumeID: volume.id, az: "us-east-1a", task: "t-9", mountpoint: sandbox.mountpoint("1"))
        let error = stateError { () throws(StateError) in try store.deleteVolume(volume.id) }
        #expect(error?.description == "VolumeInUse: \(volume.id) is attached to task t-9 in us-east-1a")
        #expect(try store.describeVolume(volume.id) == VolumeDescription(volume: volume, attachments: [attachment]))
        #expect(try String(contentsOfFile: sandbox.stateDirectory.dataDirectory(volume.id) + "/file", encoding: .utf8) == "keep")
        try store.detach(mountpoint: sandbox.mountpoint("1"))
        try store.deleteVolume(volume.id)
        #expect(try store.listVolumes().isEmpty)
    }

    @Test func refusedAttachesChangeNothing() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let kept = try store.attach(volumeID: volume.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("1"))
        let before = try store.listVolumes()
        let zonesBefore = try store.listAvailabilityZones()
        _ = stateError { () throws(StateError) in try store.attach(volumeID: volume.id, az: "us-east-1b", mountpoint: sandbox.mountpoint("2")) }
        _ = stateError { () throws(StateError) in try store.attach(volumeID: volume.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("2")) }
        _ = stateError { () throws(StateError) in try store.attach(volumeID: volume.id, az: "us-east-1a", launchType: .fargate, os: .windows, mountpoint: sandbox.mountpoint("2")) }
        #expect(try store.listVolumes() == before)
        #expect(try store.listAvailabilityZones() == zonesBefore)
        #expect(try store.listAttachments() == [kept])
    }

    @Test func mountpointsAreCanonicalAndExclusive() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let efs = try store.createVolume(type: .efs, az: "us-east-1a")
        let ebs = try store.createVolume(type: .ebs, az: "us-east-1a")
        let attachment = try store.attach(volumeID: efs.id, az: "us-east-1a", mountpoint: sandbox.root + "/mnt/./x/../one/")
        #expect(attachment.mountpoint == sandbox.mountpoint("one"))
        let busy = stateError { () throws(StateError) in
            try store.attach(volumeID: ebs.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("one"))
        }
        #expect(busy == .invalidParameter("\(sandbox.mountpoint("one")) already serves \(efs.id) (\(attachment.id))"))
        // A symbolic link to the parent names the same mount point.
        try FileManager.default.createSymbolicLink(atPath: sandbox.root + "/link", withDestinationPath: sandbox.root + "/mnt")
        #expect(try store.detach(mountpoint: sandbox.root + "/link/one") == attachment)
        #expect(stateError { () throws(StateError) in try store.detach(mountpoint: sandbox.mountpoint("one")) }?.awsErrorName
            == "InvalidAttachment.NotFound")
        #expect(stateError { () throws(StateError) in try store.detach(attachment.id) } == .attachmentNotFound(attachment.id))
        for bad in ["/", "", sandbox.stateDirectory.path, sandbox.stateDirectory.dataDirectory(ebs.id)] {
            #expect(stateError { () throws(StateError) in
                try store.attach(volumeID: ebs.id, az: "us-east-1a", mountpoint: bad)
            }?.awsErrorName == "InvalidParameterValue")
        }
        #expect(try store.listAttachments().isEmpty)
    }

    @Test func tasksAreValidated() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .efs, az: "us-east-1a")
        for task in ["", "a b", "t\n1", String(repeating: "t", count: 256)] {
            #expect(stateError { () throws(StateError) in
                try store.attach(volumeID: volume.id, az: "us-east-1a", task: task, mountpoint: sandbox.mountpoint("1"))
            }?.awsErrorName == "InvalidParameterValue")
        }
        let arn = "arn:aws:ecs:us-east-1:123456789012:task/cluster/0123abcd"
        #expect(try store.attach(volumeID: volume.id, az: "us-east-1a", task: arn, mountpoint: sandbox.mountpoint("1")).task == arn)
    }

    @Test func mountConfigurationCarriesWhatTheFUSELayerNeeds() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .fsxOpenZFS, az: "us-east-1a", sizeGiB: 100)
        let attachment = try store.attach(volumeID: volume.id, az: "us-east-1a", readOnly: true, mountpoint: sandbox.mountpoint("1"))
        let configuration = MountConfiguration(volume: volume, attachment: attachment, stateDirectory: store.directory)
        #expect(configuration.backingDirectory == sandbox.stateDirectory.dataDirectory(volume.id))
        #expect(configuration.sharedStateDirectory == sandbox.stateDirectory.sharedDirectory(volume.id))
        #expect(configuration.readOnly && configuration.capacityBytes == 100 << 30)
        #expect(configuration.serviceType == .fsxOpenZFS && configuration.mountpoint == sandbox.mountpoint("1"))
        #expect(throws: Never.self) { try configuration.validate() }
    }
}
