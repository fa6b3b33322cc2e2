import Foundation
import StorageCatalog
import Testing
@testable import EmulatorCore
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10 items 3, 8, 11 and 13: the state directory is refused unless only its user controls it, data
/// is never removed without a record saying so, a lost database is refused and rebuilt from the metadata
/// files, and the AZ flags agree with the database after any opening.
struct StateDirectoryTests {
    // MARK: A lost database (item 3)

    /// Makes a volume (with a file) and a snapshot, and lets the store go.
    func populated(_ sandbox: StateSandbox) throws -> (Volume, Snapshot) {
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .efs, az: "us-east-1b", name: "uploads")
        #expect(FileManager.default.createFile(atPath: sandbox.stateDirectory.dataDirectory(volume.id) + "/kept", contents: Data([7])))
        let snapshot = try store.describeSnapshot(store.takeSnapshot(of: volume.id).snapshot.id)
        return (volume, snapshot)
    }

    func wipeDatabase(_ directory: StateDirectory, empty: Bool) throws {
        for suffix in ["-wal", "-shm"] { unlink(directory.databasePath + suffix) }
        if empty {
            #expect(truncate(directory.databasePath, 0) == 0)
        } else {
            #expect(unlink(directory.databasePath) == 0)
        }
    }

    @Test(arguments: [true, false])
    func anEmptyOrMissingDatabaseBesideDataIsRefusedAndNothingIsDeleted(empty: Bool) throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let (volume, snapshot) = try populated(sandbox)
        try wipeDatabase(sandbox.stateDirectory, empty: empty)

        let error = stateError { () throws(StateError) in try sandbox.store() }
        guard case .stateDatabaseLost(let message)? = error else {
            Issue.record("expected stateDatabaseLost, got \(String(describing: error))")
            return
        }
        #expect(message.contains(volume.id.rawValue) && message.contains(snapshot.id.rawValue) && message.contains("berth state repair"))
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.dataDirectory(volume.id) + "/kept"))
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.snapshotDirectory(snapshot.id) + "/data/kept"))
        #expect(StateInventory.databaseIsMissingOrEmpty(sandbox.stateDirectory), "not recreated")
    }

    @Test func anUnreadableDatabaseBesideDataIsRefused() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        _ = try populated(sandbox)
        try wipeDatabase(sandbox.stateDirectory, empty: false)
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: sandbox.stateDirectory.databasePath))
        #expect(stateError { () throws(StateError) in try sandbox.store() }?.awsErrorName == "IncorrectState")
    }

    @Test func repairRebuildsTheRecordsFromTheMetadataFiles() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let (volume, snapshot) = try populated(sandbox)
        try wipeDatabase(sandbox.stateDirectory, empty: true)
        #expect(StateInventory.check(sandbox.stateDirectory).allSatisfy { $0.repairable })

        let store = try StateStore(directory: sandbox.stateDirectory, rebuildingLostDatabase: true)
        let report = try store.repair()
        #expect(report.repaired.count == 2)
        #expect(report.remaining.isEmpty, "\(report.remaining)")
        #expect(try sandbox.store().describeVolume(volume.id).volume == volume)
        #expect(try sandbox.store().describeSnapshot(snapshot.id) == snapshot)
        #expect(StateInventory.check(sandbox.stateDirectory).isEmpty)
        // A restore from the rebuilt snapshot works.
        let restored = try sandbox.store().createVolume(type: .efs, az: "us-east-1a", fromSnapshot: snapshot.id)
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.dataDirectory(restored.id) + "/kept"))
    }

    @Test func checkReportsDisagreementsAndChangesNothing() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let (volume, _) = try populated(sandbox)
        #expect(StateInventory.check(sandbox.stateDirectory).isEmpty)
        unlink(StateMetadata.volumePath(sandbox.stateDirectory, volume.id))
        let stray = sandbox.stateDirectory.volumesDirectory + "/" + VolumeID.generate(for: .ebs).rawValue
        try FileManager.default.createDirectory(atPath: stray, withIntermediateDirectories: true)
        let before = try listing(sandbox.root)

        let problems = StateInventory.check(sandbox.stateDirectory)
        #expect(problems.count == 2)
        #expect(problems.contains { $0.subject == volume.id.rawValue && $0.repairable })
        #expect(problems.contains { stray.hasSuffix($0.subject) && !$0.repairable })
        let after = try listing(sandbox.root)
        #expect(after == before, "check changes nothing: before only \(Set(before).subtracting(after).sorted()), after only \(Set(after).subtracting(before).sorted())")

        let report = try sandbox.store().repair()
        #expect(report.remaining.count == 1, "the stray directory stays, and is still reported")
        #expect(FileManager.default.fileExists(atPath: stray))
        #expect(FileManager.default.fileExists(atPath: StateMetadata.volumePath(sandbox.stateDirectory, volume.id)))
    }

    /// Every path under `root` with its size and modification time.
    func listing(_ root: String) throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root)
        var entries: [String] = []
        while let path = enumerator?.nextObject() as? String {
            let attributes = try FileManager.default.attributesOfItem(atPath: root + "/" + path)
            entries.append("\(path) \(attributes[.size] ?? 0) \(attributes[.modificationDate] ?? 0)")
        }
        return entries.sorted()
    }

    @Test func metadataFilesAreWrittenBesideVolumesAndSnapshots() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let (volume, snapshot) = try populated(sandbox)
        let volumeFile = try #require(try StateMetadata.read(VolumeMetadata.self, from: StateMetadata.volumePath(sandbox.stateDirectory, volume.id)))
        #expect(volumeFile.volume == volume && volumeFile.region == "us-east-1")
        let snapshotFile = try #require(try StateMetadata.read(SnapshotMetadata.self, from: StateMetadata.snapshotPath(sandbox.stateDirectory, snapshot.id)))
        #expect(SnapshotRecord(snapshotFile.snapshot).snapshot == snapshot && snapshot.state == .completed)
    }

    // MARK: Ownership (item 8)

    @Test(.enabled(if: geteuid() == 0, "needs root to give the directory away"))
    func aStateDirectoryOwnedBySomeoneElseIsRefused() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory.path, withIntermediateDirectories: true)
        #expect(chown(sandbox.stateDirectory.path, 65534, 65534) == 0)
        let error = stateError { () throws(StateError) in try sandbox.store() }
        #expect(error?.description.contains("is owned by") == true, "\(String(describing: error))")
        #expect(directoryEntries(sandbox.stateDirectory.path).isEmpty, "nothing was created in it")
    }

    @Test func aStateDirectoryOthersCanWriteIsRefused() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory.path, withIntermediateDirectories: true)
        #expect(chmod(sandbox.stateDirectory.path, 0o777) == 0)
        let error = stateError { () throws(StateError) in try sandbox.store() }
        #expect(error?.description.contains("writable by its group and others") == true, "\(String(describing: error))")
        #expect(chmod(sandbox.stateDirectory.path, 0o755) == 0)
        _ = try sandbox.store()
        #expect(chmod(sandbox.stateDirectory.volumesDirectory, 0o757) == 0)
        #expect(stateError { () throws(StateError) in try sandbox.store() }?.description.contains("writable by others") == true)
    }

    @Test func aSymbolicLinkInPlaceOfAStateComponentIsRefused() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        // A planted data directory: the volume's data a link to elsewhere.
        let elsewhere = sandbox.root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: elsewhere + "/precious", contents: Data([1])))
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        try FileManager.default.removeItem(atPath: data)
        #expect(symlink(elsewhere, data) == 0)
        let attach = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("m"))
        }
        #expect(attach?.description.contains("symbolic link") == true, "\(String(describing: attach))")
        #expect(try store.listAttachments().isEmpty)
        // A volumes directory that is a link: nothing is deleted through it.
        let volumes = sandbox.stateDirectory.volumesDirectory
        #expect(rename(volumes, elsewhere + "/volumes") == 0)
        #expect(symlink(elsewhere + "/volumes", volumes) == 0)
        #expect(stateError { () throws(StateError) in try store.deleteVolume(volume.id) } != nil)
        #expect(stateError { () throws(StateError) in try sandbox.store() }?.description.contains("symbolic link") == true)
        #expect(FileManager.default.fileExists(atPath: elsewhere + "/precious"))
        #expect(FileManager.default.fileExists(atPath: elsewhere + "/volumes/" + volume.id.rawValue))
    }

    @Test func aPlantedDataLinkIsNeitherSnapshottedNorRestored() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let (volume, snapshot) = try populated(sandbox)
        let elsewhere = sandbox.root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: elsewhere + "/secret", contents: Data([1])))
        let snapshotData = sandbox.stateDirectory.snapshotDirectory(snapshot.id) + "/data"
        try FileManager.default.removeItem(atPath: snapshotData)
        #expect(symlink(elsewhere, snapshotData) == 0)
        let store = try sandbox.store()
        #expect(stateError { () throws(StateError) in
            try store.createVolume(type: .efs, az: "us-east-1a", fromSnapshot: snapshot.id)
        }?.description.contains("symbolic link") == true)
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        try FileManager.default.removeItem(atPath: data)
        #expect(symlink(elsewhere, data) == 0)
        #expect(stateError { () throws(StateError) in try store.takeSnapshot(of: volume.id) }?.description.contains("symbolic link") == true)
        #expect(try store.listSnapshots().count == 1)
        #expect(try store.listVolumes().count == 1)
    }

    @Test func aZoneFlagLinkedToAnotherFileIsRefusedAndTheFileIsUntouched() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        _ = try sandbox.store()
        let target = sandbox.root + "/shadow"
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory.zonesDirectory, withIntermediateDirectories: true)
        #expect(symlink(target, sandbox.stateDirectory.zoneFlagPath("us-east-1a")) == 0)
        #expect(stateError { () throws(StateError) in try sandbox.store() }?.awsErrorName == "InvalidParameterValue")
        #expect(stateError { () throws(StateError) in try sandbox.store().setAZFailed("us-east-1a", true) } != nil)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "secret\n")
    }

    @Test func aStateDirectoryThatIsAFileIsSaidToBeNoDirectory() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        #expect(FileManager.default.createFile(atPath: sandbox.stateDirectory.path, contents: Data()))
        let error = stateError { () throws(StateError) in try sandbox.store() }
        #expect(error?.message == "the state directory \(sandbox.stateDirectory.path) is not a directory (it is a regular file)")
        let below = StateDirectory(path: sandbox.stateDirectory.path + "/berth")
        let nested = stateError { () throws(StateError) in try StateStore(directory: below) }
        #expect(nested?.message.contains("\(sandbox.stateDirectory.path) is not a directory") == true, "\(String(describing: nested))")
    }

    @Test func missingParentsOfTheStateDirectoryAreMadeOwnerOnly() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let directory = try StateDirectory.resolve(flag: nil, environment: ["HOME": sandbox.root + "/home"])
        _ = try StateStore(directory: directory)
        for path in [sandbox.root + "/home/.local", sandbox.root + "/home/.local/state", directory.path] {
            var info = stat()
            #expect(stat(path, &info) == 0 && info.st_mode & 0o7777 == 0o700, "\(path)")
        }
    }

    @Test func aPidIsTrustedOnlyWhileItRunsThisExecutable() throws {
        let me = try #require(ServerProcess.current)
        #expect(me.isBerthProcess)
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { sleeper.terminate() }
        let other = try #require(ServerProcess.identify(pid: sleeper.processIdentifier))
        #expect(other.isRunning && !other.isBerthProcess)
        #expect(!ServerProcess(pid: me.pid, startTime: me.startTime + 1).isBerthProcess, "another start time: a reused pid")
    }

    // MARK: Zone flags (item 11)

    /// `az fail` killed after setting the flag, before its commit; and `az recover` killed after its commit,
    /// before clearing the flag. The next opening of any kind repairs both.
    @Test func everyOpeningMakesTheZoneFlagsAgreeWithTheDatabase() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        _ = try sandbox.store()
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory.zonesDirectory, withIntermediateDirectories: true)
        try SharedFlag(path: sandbox.stateDirectory.zoneFlagPath("us-east-1a")).set(true)
        #expect(StateInventory.zoneFlagIsSet(sandbox.stateDirectory.zoneFlagPath("us-east-1a")))
        #expect(StateInventory.check(sandbox.stateDirectory).map(\.subject) == ["us-east-1a"])
        _ = try sandbox.store()
        #expect(!StateInventory.zoneFlagIsSet(sandbox.stateDirectory.zoneFlagPath("us-east-1a")))

        let store = try sandbox.store()
        try store.setAZFailed("us-east-1b", true)
        #expect(StateInventory.zoneFlagIsSet(sandbox.stateDirectory.zoneFlagPath("us-east-1b")), "in effect when az fail returns")
        try store.zoneFlags().flag("us-east-1b")?.set(false)
        _ = try sandbox.store()
        #expect(StateInventory.zoneFlagIsSet(sandbox.stateDirectory.zoneFlagPath("us-east-1b")))
        #expect(StateInventory.check(sandbox.stateDirectory).isEmpty)
    }

    @Test func readingCommandsMakeNoZoneFlags() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        _ = try sandbox.store().listAvailabilityZones()
        _ = try sandbox.store().listVolumes()
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory.zonesDirectory))
    }

    // MARK: Messages (item 13)

    @Test func aNameOfOnlySpacesIsRefused() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let error = stateError { () throws(StateError) in try store.createVolume(type: .ebs, az: "us-east-1a", name: "   ") }
        #expect(error?.awsErrorName == "InvalidParameterValue")
        #expect(try store.listVolumes().isEmpty)
        #expect(directoryEntries(sandbox.stateDirectory.volumesDirectory).isEmpty)
    }

    @Test func freezeAcknowledgementsGoWithTheirServers() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let shared = sandbox.root + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        let dead = try StateReapingTests().deadPID()
        #expect(FileManager.default.createFile(atPath: shared + "/freeze-ack.\(dead)", contents: Data()))
        do {
            let freeze = try WriteFreeze(sharedStateDirectory: shared)
            #expect(directoryEntries(shared).filter { $0.hasPrefix("freeze-ack.") } == ["freeze-ack.\(getpid())"])
            _ = freeze
        }
        #expect(directoryEntries(shared).filter { $0.hasPrefix("freeze-ack.") }.isEmpty)
        // A snapshotter's opening for a server that has gone leaves nothing either.
        try WriteFreeze.whileFrozen(sharedStateDirectory: shared, servers: [dead]) {}
        #expect(directoryEntries(shared).filter { $0.hasPrefix("freeze-ack.") }.isEmpty)
    }
}
