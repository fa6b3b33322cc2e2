import Foundation
import GRDB
import StorageCatalog
import Testing
@testable import EmulatorCore

@Suite struct StateVolumeTests {
    @Test func defaultRegionIsStoredOnFirstUse() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        #expect(store.region == .default)
        let zones = try store.listAvailabilityZones()
        #expect(zones.map(\.name) == ["us-east-1a", "us-east-1b", "us-east-1c"])
        #expect(zones.allSatisfy { $0.status == .available && $0.volumeIDs.isEmpty })
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.databasePath))
        let mode = try sandbox.store().pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func configuredRegionIsKeptAndOnlyExtended() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let eu = try RegionConfiguration(name: "eu-west-1", zones: ["a", "b"])
        #expect(try sandbox.store(region: eu).region == eu)
        // A later process without configuration sees the stored region.
        #expect(try sandbox.store().region == eu)
        #expect(try sandbox.store(region: eu).region == eu)
        let other = try RegionConfiguration(name: "us-east-1", zones: ["a"])
        let mismatch = stateError { () throws(StateError) in try sandbox.store(region: other) }
        #expect(mismatch == .regionMismatch(stateDirectory: sandbox.stateDirectory.path, stored: eu, requested: other))
        let fewer = try RegionConfiguration(name: "eu-west-1", zones: ["a"])
        #expect(stateError { () throws(StateError) in try sandbox.store(region: fewer) }?.awsErrorName == "InvalidParameterValue")
        let more = try RegionConfiguration(name: "eu-west-1", zones: ["a", "b", "c"])
        #expect(try sandbox.store(region: more).region.zones == ["eu-west-1a", "eu-west-1b", "eu-west-1c"])
        #expect(try sandbox.store().listAvailabilityZones().map(\.name) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    }

    @Test func environmentConfiguresTheRegion() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try StateStore(stateDirectoryFlag: nil,
                                   environment: ["BERTH_STATE_DIR": sandbox.stateDirectory.path, "BERTH_AZS": "a,b"])
        #expect(store.region.zones == ["us-east-1a", "us-east-1b"])
        #expect(store.directory == sandbox.stateDirectory)
    }

    @Test func createListDescribeDelete() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a", name: "db")
        #expect(volume.id.rawValue.hasPrefix("vol-"))
        #expect(volume.sizeGiB == VolumeOptions.defaultEBSSizeGiB && volume.capacityBytes == 20 << 30)
        #expect(volume.name == "db" && volume.storageClass == nil && volume.deployment == nil)
        #expect(volume.placement == .zonal("us-east-1a"))
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.dataDirectory(volume.id), isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.sharedDirectory(volume.id)))

        let other = try store.createVolume(type: .efs, az: "us-east-1b")
        // Another process (a second store) sees both, exactly as created.
        let described = try sandbox.store().describeVolume(volume.id)
        #expect(described.volume == volume && described.attachments.isEmpty)
        #expect(try store.listVolumes().map(\.volume) == [volume, other])

        #expect(try store.deleteVolume(volume.id) == volume)
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory.volumeDirectory(volume.id)))
        #expect(try store.listVolumes().map(\.volume.id) == [other.id])
        let gone = stateError { () throws(StateError) in try store.describeVolume(volume.id) }
        #expect(gone?.description == "InvalidVolume.NotFound: \(volume.id) does not exist")
        #expect(stateError { () throws(StateError) in try store.deleteVolume(volume.id) } == .volumeNotFound(volume.id))
        let missingFS = try VolumeID(parsing: "fs-0123456789abcdef0")
        #expect(stateError { () throws(StateError) in try store.describeVolume(missingFS) }?.awsErrorName == "FileSystemNotFound")
    }

    @Test func serviceDefaults() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let efs = try store.createVolume(type: .efs, az: "us-east-1a")
        #expect(efs.id.rawValue.hasPrefix("fs-") && efs.storageClass == .standard && efs.sizeGiB == nil && efs.capacityBytes == nil)
        #expect(efs.placement == .regional)
        let oneZone = try store.createVolume(type: .efs, az: "us-east-1b", storageClass: .oneZone)
        #expect(oneZone.placement == .zonal("us-east-1b"))
        let lustre = try store.createVolume(type: .fsxLustre, az: "us-east-1a")
        #expect(lustre.sizeGiB == 1_200 && lustre.deployment == nil)
        for (type, minimum) in [(ServiceID.fsxWindows, 32), (.fsxOpenZFS, 64), (.fsxONTAP, 1_024)] {
            let volume = try store.createVolume(type: type, az: "us-east-1c")
            #expect(volume.deployment == .singleAZ && volume.sizeGiB == minimum && volume.standbyAvailabilityZone == nil)
            #expect(volume.sizeGiB == Catalog.facts(type).capacityGiB?.value.lowerBound)
        }
        let sized = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 1)
        #expect(sized.sizeGiB == 1)
    }

    @Test func multiAZDeploymentsPickAStandby() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let next = try store.createVolume(type: .fsxWindows, az: "us-east-1c", deployment: .multiAZ)
        #expect(next.placement == .multiAZ(preferred: "us-east-1c", standby: "us-east-1a"))
        let chosen = try store.createVolume(type: .fsxONTAP, az: "us-east-1a", deployment: .multiAZ, standbyAZ: "us-east-1c")
        #expect(chosen.standbyAvailabilityZone == "us-east-1c")
        try store.setAZFailed("us-east-1b", true)
        let skipsFailed = try store.createVolume(type: .fsxOpenZFS, az: "us-east-1a", deployment: .multiAZ)
        #expect(skipsFailed.standbyAvailabilityZone == "us-east-1c")
        #expect(stateError { () throws(StateError) in
            try store.createVolume(type: .fsxOpenZFS, az: "us-east-1a", deployment: .multiAZ, standbyAZ: "us-east-1a")
        }?.awsErrorName == "InvalidParameterValue")

        let single = try StateSandbox()
        defer { single.cleanUp() }
        let lonely = try single.store(region: RegionConfiguration(name: "us-east-1", zones: ["a"]))
        let error = stateError { () throws(StateError) in try lonely.createVolume(type: .fsxWindows, az: "us-east-1a", deployment: .multiAZ) }
        #expect(error?.awsErrorName == "InvalidParameterValue")
        #expect(try lonely.listVolumes().isEmpty)
    }

    @Test(arguments: [
        (ServiceID.ebs, 0), (.ebs, 65_537), (.fsxLustre, 1_000), (.fsxLustre, 1_300), (.fsxWindows, 31), (.fsxOpenZFS, 63), (.fsxONTAP, 1_023),
    ])
    func refusesSizesOutsideTheCatalogueRange(_ type: ServiceID, _ size: Int) throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let error = stateError { () throws(StateError) in try store.createVolume(type: type, az: "us-east-1a", sizeGiB: size) }
        #expect(error?.awsErrorName == "InvalidParameterValue")
        #expect(error?.message.contains("not \(size)") == true)
        #expect(try store.listVolumes().isEmpty)
        #expect(directoryEntries(sandbox.stateDirectory.volumesDirectory).isEmpty)
    }

    @Test func refusesOptionsTheServiceDoesNotHave() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        struct Request {
            var type: ServiceID
            var sizeGiB: Int? = nil
            var name: String? = nil
            var storageClass: EFSStorageClass? = nil
            var deployment: Deployment? = nil
            var standbyAZ: String? = nil
        }
        let refused = [
            Request(type: .efs, sizeGiB: 10),
            Request(type: .ebs, storageClass: .standard),
            Request(type: .fsxWindows, storageClass: .oneZone),
            Request(type: .ebs, deployment: .singleAZ),
            Request(type: .efs, deployment: .multiAZ),
            Request(type: .fsxLustre, deployment: .multiAZ),
            Request(type: .fsxOpenZFS, standbyAZ: "us-east-1b"),
            Request(type: .ebs, name: ""),
            Request(type: .ebs, name: "a\nb"),
            Request(type: .ebs, name: String(repeating: "x", count: 257)),
        ]
        for request in refused {
            let error = stateError { () throws(StateError) in
                try store.createVolume(type: request.type, az: "us-east-1a", sizeGiB: request.sizeGiB, name: request.name,
                                       storageClass: request.storageClass, deployment: request.deployment,
                                       standbyAZ: request.standbyAZ)
            }
            #expect(error?.awsErrorName == "InvalidParameterValue", "\(request)")
        }
        let lustre = stateError { () throws(StateError) in try store.createVolume(type: .fsxLustre, az: "us-east-1a", deployment: .singleAZ) }
        #expect(lustre?.message.contains("always single-AZ") == true)
        #expect(try store.listVolumes().isEmpty)
        #expect(directoryEntries(sandbox.stateDirectory.volumesDirectory).isEmpty)
    }

    @Test func unknownAZIsInvalidZoneNotFoundAndCreatesNothing() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let error = stateError { () throws(StateError) in try store.createVolume(type: .ebs, az: "us-east-1z") }
        #expect(error?.description == "InvalidZone.NotFound: \"us-east-1z\" is not an Availability Zone of us-east-1 (us-east-1a, us-east-1b, us-east-1c)")
        #expect(try store.listVolumes().isEmpty)
        #expect(directoryEntries(sandbox.stateDirectory.volumesDirectory).isEmpty)
    }

    @Test func schemaRefusesAnUnknownType() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in
                try db.execute(sql: """
                    INSERT INTO volume (id, type, availabilityZone, createdAt, options)
                    VALUES ('vol-0123456789abcdef0', 'nfs', 'us-east-1a', 0, '{}')
                    """)
            }
        }
        #expect(try store.listVolumes().isEmpty)
    }

    @Test func zonesListWhereEachVolumesDataLives() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let ebs = try store.createVolume(type: .ebs, az: "us-east-1b")
        let standard = try store.createVolume(type: .efs, az: "us-east-1a")
        let multi = try store.createVolume(type: .fsxWindows, az: "us-east-1a", deployment: .multiAZ)
        let zones = Dictionary(uniqueKeysWithValues: try store.listAvailabilityZones().map { ($0.name, Set($0.volumeIDs)) })
        #expect(zones["us-east-1a"] == [standard.id, multi.id])
        #expect(zones["us-east-1b"] == [ebs.id, standard.id, multi.id])
        #expect(zones["us-east-1c"] == [standard.id])
    }

    @Test func failedZonesRefuseNewVolumesUntilRecovered() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let failed = try store.setAZFailed("us-east-1a", true)
        #expect(failed.status == .failed)
        #expect(try sandbox.store().listAvailabilityZones().first?.status == .failed)
        let error = stateError { () throws(StateError) in try store.createVolume(type: .ebs, az: "us-east-1a") }
        #expect(error?.description == "IncorrectState: us-east-1a is failed; nothing is created or mounted there until `berth az recover us-east-1a`")
        #expect(stateError { () throws(StateError) in try store.setAZFailed("us-east-1q", true) }?.awsErrorName == "InvalidZone.NotFound")
        #expect(try store.setAZFailed("us-east-1a", false).status == .available)
        #expect(throws: Never.self) { try store.createVolume(type: .ebs, az: "us-east-1a") }
    }

    /// Issue 10 item 3: a directory no record names may be data whose record was lost; it is reported by
    /// `berth state check`, never removed.
    @Test func aDirectoryNoRecordNamesIsNeverRemoved() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let owned = try store.createVolume(type: .ebs, az: "us-east-1a")
        let unrecorded = VolumeID.generate(for: .efs)
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory.dataDirectory(unrecorded), withIntermediateDirectories: true)
        try sandbox.store().reapStaleAttachments()
        _ = try sandbox.store().listVolumes()
        #expect(directoryEntries(sandbox.stateDirectory.volumesDirectory) == [owned.id.rawValue, unrecorded.rawValue].sorted())
        let problems = StateInventory.check(sandbox.stateDirectory)
        #expect(problems.map(\.subject) == [unrecorded.rawValue])
        #expect(problems.first?.repairable == false, "no volume.json to rebuild its record from")
    }
}
