import Foundation
import StorageCatalog
import Synchronization
import Testing
@testable import EmulatorCore

/// AZ outages, snapshots and restores, reached without mounting.
@Suite struct OutageSnapshotTests {
    // MARK: Reachability

    @Test func zonalVolumeIsCutOffWhenItsZoneOrTheTaskZoneFails() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let ebs = try store.createVolume(type: .ebs, az: "us-east-1a")
        let attachment = try store.attach(volumeID: ebs.id, az: "us-east-1a", task: "t-1", mountpoint: sandbox.mountpoint("a"))
        let reachability = try store.reachability(of: ebs, for: attachment)
        #expect(reachability.isReachable)
        _ = try store.setAZFailed("us-east-1b", true)
        #expect(reachability.isReachable, "another AZ's outage leaves an EBS volume in 1a alone")
        _ = try store.setAZFailed("us-east-1a", true)
        #expect(!reachability.isReachable)
        _ = try store.setAZFailed("us-east-1a", false)
        #expect(reachability.isReachable)
    }

    @Test func standardEFSInAnotherZoneKeepsServingAndOneZoneDoesNot() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let standard = try store.createVolume(type: .efs, az: "us-east-1a")
        let oneZone = try store.createVolume(type: .efs, az: "us-east-1a", storageClass: .oneZone)
        let standardFromB = try store.reachability(
            of: standard, for: store.attach(volumeID: standard.id, az: "us-east-1b", task: "t-b", mountpoint: sandbox.mountpoint("s-b")))
        let standardFromA = try store.reachability(
            of: standard, for: store.attach(volumeID: standard.id, az: "us-east-1a", task: "t-a", mountpoint: sandbox.mountpoint("s-a")))
        // One Zone mounts only from its own AZ (ResourceInitializationError elsewhere; StateAttachmentTests).
        let oneZoneFromA = try store.reachability(
            of: oneZone, for: store.attach(volumeID: oneZone.id, az: "us-east-1a", task: "t-o", mountpoint: sandbox.mountpoint("o-a")))
        _ = try store.setAZFailed("us-east-1a", true)
        #expect(standardFromB.isReachable)
        #expect(!standardFromA.isReachable, "the task's own AZ is down")
        #expect(!oneZoneFromA.isReachable, "one-zone data lives only in 1a")
        _ = try store.setAZFailed("us-east-1a", false)
        #expect(oneZoneFromA.isReachable && standardFromA.isReachable)
    }

    @Test func multiAZDeploymentServesFromItsStandbyAndFailsOnlyWhenBothAreDown() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .fsxONTAP, az: "us-east-1a", deployment: .multiAZ, standbyAZ: "us-east-1b")
        let fromC = try store.reachability(
            of: volume, for: store.attach(volumeID: volume.id, az: "us-east-1c", task: "t-c", mountpoint: sandbox.mountpoint("c")))
        _ = try store.setAZFailed("us-east-1a", true)
        #expect(fromC.isReachable)
        _ = try store.setAZFailed("us-east-1b", true)
        #expect(!fromC.isReachable)
    }

    @Test func flagsFollowTheDatabaseAfterAProcessDiedBetweenTheTwo() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        _ = try store.setAZFailed("us-east-1c", true)
        // Simulate a crash that left the flag cleared although the database says failed.
        try store.zoneFlags().flag("us-east-1c")?.set(false)
        #expect(try !store.zoneFlags().isDown("us-east-1c"))
        #expect(try store.syncZoneFlags().isDown("us-east-1c"))
    }

    @Test func newMountsAndVolumesInAFailedZoneAreRefused() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let oneZone = try store.createVolume(type: .efs, az: "us-east-1a", storageClass: .oneZone)
        _ = try store.setAZFailed("us-east-1a", true)
        let refused = stateError { () throws(StateError) in
            try store.attach(volumeID: oneZone.id, az: "us-east-1b", task: "t-b", mountpoint: sandbox.mountpoint("b"))
        }
        #expect(refused != nil)
        #expect(stateError { () throws(StateError) in try store.createVolume(type: .ebs, az: "us-east-1a") } == .zoneFailed("us-east-1a"))
        #expect(try store.listAttachments().isEmpty)
    }

    // MARK: Snapshots

    @Test func snapshotHoldsTheDataAtItsMomentAndRestoresIntoAnotherZone() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 30)
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        try Data("before".utf8).write(to: URL(fileURLWithPath: data + "/file"))
        try FileManager.default.createDirectory(atPath: data + "/dir/sub", withIntermediateDirectories: true)
        try Data("deep".utf8).write(to: URL(fileURLWithPath: data + "/dir/sub/x"))

        let taken = try store.takeSnapshot(of: volume.id, name: "nightly")
        #expect(taken.snapshot.state == .completed)
        #expect(taken.snapshot.sourceType == .ebs)
        #expect(taken.snapshot.sizeGiB == 30)
        #expect(taken.snapshot.files == 2)
        #expect(taken.snapshot.copyMethod != nil)
        try Data("after".utf8).write(to: URL(fileURLWithPath: data + "/file"))

        let restored = try store.createVolume(type: .ebs, az: "us-east-1c", fromSnapshot: taken.snapshot.id)
        #expect(restored.sizeGiB == 30, "a restore defaults to the source's size")
        #expect(restored.fromSnapshot == taken.snapshot.id)
        let restoredData = sandbox.stateDirectory.dataDirectory(restored.id)
        #expect(try String(contentsOfFile: restoredData + "/file", encoding: .utf8) == "before")
        #expect(try String(contentsOfFile: restoredData + "/dir/sub/x", encoding: .utf8) == "deep")
    }

    /// A snapshot is incremental over the volume's previous one: what did not change since is shared
    /// (linked), not copied again; what changed in any way (data, length, mode) is copied; each snapshot
    /// restores exactly its own moment, whichever of them is deleted first.
    @Test func snapshotsAreIncrementalOverThePreviousOneAndEachRestoresItsOwnMoment() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 1)
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        try FileManager.default.createDirectory(atPath: data + "/d", withIntermediateDirectories: true)
        try Data(repeating: 1, count: 1 << 20).write(to: URL(fileURLWithPath: data + "/big"))
        try Data("same".utf8).write(to: URL(fileURLWithPath: data + "/d/same"))
        try Data("mode".utf8).write(to: URL(fileURLWithPath: data + "/d/mode"))
        try Data("old".utf8).write(to: URL(fileURLWithPath: data + "/changed"))

        let first = try store.takeSnapshot(of: volume.id, name: "first")
        #expect(first.snapshot.incrementalFrom == nil && first.copy.sharedFiles == 0)
        #expect((first.snapshot.ownBytes ?? 0) >= 1 << 20)

        try Data("new!".utf8).write(to: URL(fileURLWithPath: data + "/changed"))  // same length, new data
        #expect(chmod(data + "/d/mode", 0o600) == 0)
        let second = try store.takeSnapshot(of: volume.id, name: "second")
        #expect(second.snapshot.incrementalFrom == first.snapshot.id)
        #expect(second.copy.sharedFiles == 2, "big and d/same are shared; changed and d/mode are copied")
        #expect((second.snapshot.ownBytes ?? .max) < 1 << 20, "the 1 MiB file is not held twice")
        let firstBig = sandbox.stateDirectory.snapshotDirectory(first.snapshot.id) + "/data/big"
        let secondBig = sandbox.stateDirectory.snapshotDirectory(second.snapshot.id) + "/data/big"
        var a = stat(), b = stat()
        #expect(lstat(firstBig, &a) == 0 && lstat(secondBig, &b) == 0 && a.st_ino == b.st_ino)

        try store.deleteSnapshot(first.snapshot.id)
        let restored = try store.createVolume(type: .ebs, az: "us-east-1b", fromSnapshot: second.snapshot.id)
        let restoredData = sandbox.stateDirectory.dataDirectory(restored.id)
        #expect(try String(contentsOfFile: restoredData + "/changed", encoding: .utf8) == "new!")
        #expect(try Data(contentsOf: URL(fileURLWithPath: restoredData + "/big")) == Data(repeating: 1, count: 1 << 20))
        var mode = stat()
        #expect(lstat(restoredData + "/d/mode", &mode) == 0 && mode.st_mode & 0o777 == 0o600)
        #expect(lstat(restoredData + "/big", &mode) == 0 && mode.st_nlink == 1, "a restore shares nothing with the snapshot")

        // A third snapshot after a rewrite of big in place (same length): copied, not shared.
        try Data(repeating: 2, count: 1 << 20).write(to: URL(fileURLWithPath: data + "/big"))
        let third = try store.takeSnapshot(of: volume.id)
        #expect(third.snapshot.incrementalFrom == second.snapshot.id)
        let thirdBig = sandbox.stateDirectory.snapshotDirectory(third.snapshot.id) + "/data/big"
        #expect(try Data(contentsOf: URL(fileURLWithPath: thirdBig)) == Data(repeating: 2, count: 1 << 20))
        #expect(try Data(contentsOf: URL(fileURLWithPath: secondBig)) == Data(repeating: 1, count: 1 << 20))
    }

    @Test func restoreKeepsTypeAndSizeRules() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 30)
        let snapshot = try store.takeSnapshot(of: volume.id).snapshot
        let before = try store.listVolumes().count
        let wrongType = stateError { () throws(StateError) in try store.createVolume(type: .efs, az: "us-east-1b", fromSnapshot: snapshot.id) }
        #expect(wrongType?.awsErrorName == "InvalidParameterValue")
        let tooSmall = stateError { () throws(StateError) in
            try store.createVolume(type: .ebs, az: "us-east-1b", sizeGiB: 10, fromSnapshot: snapshot.id)
        }
        #expect(tooSmall?.description.contains("smaller") == true)
        #expect(try store.listVolumes().count == before, "a refused restore creates nothing")
        #expect(try store.createVolume(type: .ebs, az: "us-east-1b", sizeGiB: 40, fromSnapshot: snapshot.id).sizeGiB == 40)
    }

    @Test func restoredSizeRules() throws {
        var snapshot = Snapshot(
            id: try SnapshotID(parsing: "snap-0123456789abcdef0"), volumeID: try VolumeID(parsing: "vol-0123456789abcdef0"),
            name: nil, createdAt: Date(), state: .completed, sourceType: .ebs, sourceAvailabilityZone: "us-east-1a", sizeGiB: 20)
        #expect(try StateStore.restoredSize(snapshot, type: .ebs, requested: nil) == 20)
        #expect(try StateStore.restoredSize(snapshot, type: .ebs, requested: 25) == 25)
        #expect(stateError { () throws(StateError) in try StateStore.restoredSize(snapshot, type: .ebs, requested: 19) } != nil)
        snapshot.state = .pending
        #expect(stateError { () throws(StateError) in try StateStore.restoredSize(snapshot, type: .ebs, requested: nil) }
            == .snapshotPending(snapshot.id))
    }

    @Test func deletingAVolumeKeepsItsSnapshotsAndDeletingASnapshotRemovesItsData() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .fsxWindows, az: "us-east-1a")
        try Data("x".utf8).write(to: URL(fileURLWithPath: sandbox.stateDirectory.dataDirectory(volume.id) + "/x"))
        let snapshot = try store.takeSnapshot(of: volume.id).snapshot
        _ = try store.deleteVolume(volume.id)
        #expect(try store.listSnapshots().map(\.id) == [snapshot.id])
        let restored = try store.createVolume(type: .fsxWindows, az: "us-east-1b", fromSnapshot: snapshot.id)
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.dataDirectory(restored.id) + "/x"))
        _ = try store.deleteSnapshot(snapshot.id)
        #expect(try store.listSnapshots().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory.snapshotDirectory(snapshot.id)))
        #expect(stateError { () throws(StateError) in try store.describeSnapshot(snapshot.id) } == .snapshotNotFound(snapshot.id))
    }

    @Test func noSnapshotWhileEveryZoneHoldingTheDataIsDown() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        _ = try store.setAZFailed("us-east-1a", true)
        #expect(stateError { () throws(StateError) in try store.takeSnapshot(of: volume.id) } != nil)
        #expect(try store.listSnapshots().isEmpty, "a refused snapshot leaves no pending record")
        _ = try store.setAZFailed("us-east-1a", false)
        #expect(try store.takeSnapshot(of: volume.id).snapshot.state == .completed)
    }

    @Test func pendingSnapshotCannotBeDeletedOrRestored() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let (pending, _) = try store.beginSnapshot(of: volume.id, name: nil)
        #expect(stateError { () throws(StateError) in try store.deleteSnapshot(pending.id) } == .snapshotPending(pending.id))
        #expect(stateError { () throws(StateError) in try store.createVolume(type: .ebs, az: "us-east-1b", fromSnapshot: pending.id) }
            == .snapshotPending(pending.id))
    }

    // MARK: Write freeze

    /// A change that started before the freeze finishes before the copy runs; a change that starts during
    /// the freeze waits until it ends.
    @Test func freezeWaitsForChangesInFlightAndHoldsNewOnes() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let shared = sandbox.root + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        let freeze = try WriteFreeze(sharedStateDirectory: shared)
        let events = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        let watcher = Thread {
            while !stop.load(ordering: .acquiring) {
                freeze.acknowledgeIfRequested()
                usleep(1_000)
            }
        }
        watcher.start()
        defer { stop.store(true, ordering: .releasing) }

        freeze.enterChange()
        let inFlight = Thread {
            usleep(100_000)
            events.withLock { $0.append("change before freeze finished") }
            freeze.leaveChange()
        }
        inFlight.start()
        try WriteFreeze.whileFrozen(sharedStateDirectory: shared, servers: [getpid()]) {
            events.withLock { $0.append("copy") }
            let late = Thread {
                freeze.enterChange()
                events.withLock { $0.append("change during freeze ran") }
                freeze.leaveChange()
            }
            late.start()
            usleep(100_000)
            events.withLock { $0.append("copy done") }
        }
        let deadline = Date().addingTimeInterval(5)
        while events.withLock({ $0.count }) < 4, Date() < deadline { usleep(1_000) }
        #expect(events.withLock { $0 } == ["change before freeze finished", "copy", "copy done", "change during freeze ran"])
    }

    /// The kernel sends a write() that starts inside a page it does not hold whole and crosses into
    /// the next as two WRITE requests, the second once the first is answered. A freeze requested
    /// between them waits for the second (same handle, where the first ended), so the snapshot holds
    /// all of that write() or none; an unrelated write waits for the thaw.
    @Test func theRestOfASplitWriteGetsInBeforeTheFreezeAndOthersWait() throws {
        try withWatchedFreeze(continuationGrace: 5_000_000_000) { freeze, shared, events in
            // The first part: bytes 4032..<4096 of a 76-byte append, answered.
            freeze.enterWrite(handle: 7, offset: 4032)
            freeze.wrote(handle: 7, offset: 4032, written: 64)
            freeze.leaveChange()
            Thread {
                usleep(200_000)  // the freeze is requested meanwhile
                freeze.enterWrite(handle: 7, offset: 4096)
                events.add("rest of the write")
                freeze.wrote(handle: 7, offset: 4096, written: 12)
                freeze.leaveChange()
            }.start()
            Thread {
                usleep(100_000)
                freeze.enterWrite(handle: 8, offset: 4096)  // another handle: not a rest
                events.add("unrelated write")
                freeze.leaveChange()
            }.start()
            try WriteFreeze.whileFrozen(sharedStateDirectory: shared, servers: [getpid()]) {
                events.add("copy")
                usleep(300_000)
            }
            let deadline = Date().addingTimeInterval(5)
            while events.all.count < 3, Date() < deadline { usleep(1_000) }
            #expect(events.all == ["rest of the write", "copy", "unrelated write"])
        }
    }

    /// A write that really ended on a page boundary holds the freeze back only for the grace, and
    /// a write elsewhere on the same handle is no rest: it waits for the thaw.
    @Test func aRestThatNeverComesHoldsTheFreezeOnlyForTheGrace() throws {
        try withWatchedFreeze(continuationGrace: 300_000_000) { freeze, shared, events in
            freeze.enterWrite(handle: 7, offset: 0)  // from a page boundary to one: nothing to follow
            freeze.wrote(handle: 7, offset: 0, written: 8192)
            freeze.leaveChange()
            freeze.enterWrite(handle: 7, offset: 8292)  // from inside a page to a boundary: a rest may follow
            freeze.wrote(handle: 7, offset: 8292, written: 4096 - 100)
            freeze.leaveChange()
            Thread {
                usleep(100_000)
                freeze.enterWrite(handle: 7, offset: 100)  // same handle, not where the last write ended
                events.add("other write")
                freeze.leaveChange()
            }.start()
            let requested = Date()
            try WriteFreeze.whileFrozen(sharedStateDirectory: shared, servers: [getpid()]) {
                events.add("copy after \(Date().timeIntervalSince(requested) >= 0.29 ? "the grace" : "less than the grace")")
            }
            let deadline = Date().addingTimeInterval(5)
            while events.all.count < 2, Date() < deadline { usleep(1_000) }
            #expect(events.all == ["copy after the grace", "other write"])
        }
    }

    /// A sequential writer whose every write is max_write long and starts where the last ended (dd
    /// bs=1M) is let past a requested freeze once, not for as long as it writes: the freeze is
    /// acknowledged, and the writer is held while the snapshot copies.
    @Test func aSequentialWriterDoesNotRunPastTheFreeze() throws {
        try withWatchedFreeze(continuationGrace: 5_000_000_000) { freeze, shared, _ in
            let writes = Atomic<Int>(0), stop = Atomic<Bool>(false), stopped = Atomic<Bool>(false)
            Thread {
                var offset: Int64 = 0
                while !stop.load(ordering: .acquiring) {
                    let continuation = freeze.enterWrite(handle: 3, offset: offset)
                    freeze.wrote(handle: 3, offset: offset, written: 1 << 20, continuation: continuation)
                    freeze.leaveChange()
                    offset += 1 << 20
                    writes.wrappingAdd(1, ordering: .releasing)
                }
                stopped.store(true, ordering: .releasing)
            }.start()
            defer {
                stop.store(true, ordering: .releasing)
                while !stopped.load(ordering: .acquiring) { usleep(1_000) }
            }
            while writes.load(ordering: .acquiring) < 100 { usleep(1_000) }
            let (before, after) = try WriteFreeze.whileFrozen(sharedStateDirectory: shared, servers: [getpid()], timeout: 3) {
                let before = writes.load(ordering: .acquiring)
                usleep(200_000)
                return (before, writes.load(ordering: .acquiring))
            }
            #expect(before == after, "no write while the snapshot copies")
        }
    }

    /// A mount server's freeze in a fresh sandbox with its watcher running while `body` runs, and a
    /// list for `body` to record the order of events in.
    func withWatchedFreeze(continuationGrace: UInt64,
                           _ body: (WriteFreeze, String, EventLog) throws -> Void) throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let shared = sandbox.root + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        let freeze = try WriteFreeze(sharedStateDirectory: shared, continuationGraceNanoseconds: continuationGrace)
        let events = EventLog()
        let stop = Atomic<Bool>(false)
        Thread {
            while !stop.load(ordering: .acquiring) {
                freeze.acknowledgeIfRequested()
                usleep(1_000)
            }
        }.start()
        defer { stop.store(true, ordering: .releasing) }
        try body(freeze, shared, events)
    }

    @Test func freezeIgnoresServersThatAreGone() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let shared = sandbox.root + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        // pid_max is at most 4194304; this pid cannot exist.
        let ran = try WriteFreeze.whileFrozen(sharedStateDirectory: shared, servers: [4_194_305], timeout: 2) { true }
        #expect(ran)
    }

    // MARK: Drill plans

    @Test func drillPlanRefusesImpossibleSchedules() {
        var plan = DrillPlan(type: .ebs)
        #expect(throws: Never.self) { try plan.validate() }
        plan.failAt = .seconds(9)
        #expect(drillError { () throws(DrillError) in try plan.validate() }?.description.contains("--fail-at") == true)
        plan = DrillPlan(type: .ebs)
        plan.snapshotEvery = .zero
        #expect(drillError { () throws(DrillError) in try plan.validate() }?.description.contains("--snapshot-every") == true)
        plan = DrillPlan(type: .ebs)
        plan.failedAZ = "us-east-1a"
        plan.failoverAZ = "us-east-1a"
        #expect(drillError { () throws(DrillError) in try plan.validate() }?.description.contains("must differ") == true)
    }

    func drillError(_ body: () throws(DrillError) -> Void) -> DrillError? {
        do { try body(); return nil } catch { return error }
    }
}

/// FSx options validated against the catalogue, reached without mounting.
@Suite struct FSxOptionTests {
    @Test func lustreOptionsFollowTheCatalogue() throws {
        #expect(throws: Never.self) { try LustreConfiguration().validate(sizeGiB: 1200) }
        #expect(throws: Never.self) { try LustreConfiguration(storageType: .hdd, readCacheGiB: 1200).validate(sizeGiB: 6000) }
        #expect(throws: StateError.self) { try LustreConfiguration(storageType: .hdd, readCacheGiB: 1201).validate(sizeGiB: 6000) }
        #expect(throws: StateError.self) { try LustreConfiguration(deployment: .scratch, storageType: .hdd).validate(sizeGiB: 6000) }
        #expect(throws: StateError.self) { try LustreConfiguration(readCacheGiB: 10).validate(sizeGiB: 6000) }
        #expect(!LustreConfiguration(deployment: .scratch).hasBackups)
        #expect(LustreConfiguration(deployment: .persistent).hasBackups)
    }

    @Test func lustreOptionsAreStoredAndDefaulted() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let plain = try store.createVolume(type: .fsxLustre, az: "us-east-1a")
        #expect(plain.lustre == LustreConfiguration(deployment: .persistent, storageType: .ssd, readCacheGiB: 0))
        let hdd = try store.createVolume(type: .fsxLustre, az: "us-east-1a", sizeGiB: 3600,
                                         lustre: LustreConfiguration(storageType: .hdd, readCacheGiB: 720))
        #expect(try store.describeVolume(hdd.id).volume.lustre?.readCacheGiB == 720)
        #expect(stateError { () throws(StateError) in
            try store.createVolume(type: .efs, az: "us-east-1a", lustre: LustreConfiguration())
        }?.awsErrorName == "InvalidParameterValue")
        let scratch = try store.createVolume(type: .fsxLustre, az: "us-east-1a", lustre: LustreConfiguration(deployment: .scratch))
        #expect(stateError { () throws(StateError) in try store.takeSnapshot(of: scratch.id) }?.awsErrorName == "UnsupportedOperation")
        #expect(try store.listSnapshots().isEmpty)
    }

    @Test func openZFSSnapshotsCannotBeDeletedWhileAClone() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .fsxOpenZFS, az: "us-east-1a")
        let snapshot = try store.takeSnapshot(of: volume.id).snapshot
        let clone = try store.createVolume(type: .fsxOpenZFS, az: "us-east-1c", fromSnapshot: snapshot.id)
        #expect(clone.cloneOf == snapshot.id)
        #expect(stateError { () throws(StateError) in try store.deleteSnapshot(snapshot.id) }
            == .snapshotHasClones(snapshot.id, clones: [clone.id]))
        _ = try store.deleteVolume(clone.id)
        #expect(throws: Never.self) { try store.deleteSnapshot(snapshot.id) }
        // EBS restores are not clones: their snapshots stay deletable.
        let ebs = try store.createVolume(type: .ebs, az: "us-east-1a")
        let ebsSnapshot = try store.takeSnapshot(of: ebs.id).snapshot
        let restored = try store.createVolume(type: .ebs, az: "us-east-1b", fromSnapshot: ebsSnapshot.id)
        #expect(restored.cloneOf == nil)
        #expect(throws: Never.self) { try store.deleteSnapshot(ebsSnapshot.id) }
    }
}

/// FSx for OpenZFS clones share their snapshot's files until first use.
@Suite struct CloneSharingTests {
    func inode(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    @Test func aCloneLinksItsSnapshotsFilesAndCopiesOneOutOnFirstUse() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .fsxOpenZFS, az: "us-east-1a")
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        try FileManager.default.createDirectory(atPath: data + "/dir/sub", withIntermediateDirectories: true)
        try Data("deep".utf8).write(to: URL(fileURLWithPath: data + "/dir/sub/file"))
        try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: data + "/big"))
        let snapshot = try store.takeSnapshot(of: volume.id).snapshot
        let snapshotData = sandbox.stateDirectory.snapshotDirectory(snapshot.id) + "/data"
        let clone = try store.createVolume(type: .fsxOpenZFS, az: "us-east-1b", fromSnapshot: snapshot.id)
        let cloneData = sandbox.stateDirectory.dataDirectory(clone.id)
        // Linked, not copied: the clone is ready whatever the size.
        #expect(inode(cloneData + "/big") == inode(snapshotData + "/big"))
        #expect(inode(cloneData + "/dir/sub/file") == inode(snapshotData + "/dir/sub/file"))
        #expect(inode(cloneData + "/dir") != inode(snapshotData + "/dir"), "directories are the clone's own")
        let sharing = try #require(CloneSharing(sharedStateDirectory: sandbox.stateDirectory.sharedDirectory(clone.id)))
        // First use copies the file out; the snapshot keeps its data whatever the clone then does.
        let sub = open(cloneData + "/dir/sub", O_RDONLY | O_DIRECTORY)
        defer { close(sub) }
        #expect(sharing.copyUpIfShared(in: sub, name: "file") == 0)
        #expect(inode(cloneData + "/dir/sub/file") != inode(snapshotData + "/dir/sub/file"))
        #expect(try String(contentsOfFile: cloneData + "/dir/sub/file", encoding: .utf8) == "deep")
        try Data("changed".utf8).write(to: URL(fileURLWithPath: cloneData + "/dir/sub/file"))
        #expect(try String(contentsOfFile: snapshotData + "/dir/sub/file", encoding: .utf8) == "deep")
        // A second call finds nothing left to copy.
        let copied = inode(cloneData + "/dir/sub/file")
        #expect(sharing.copyUpIfShared(in: sub, name: "file") == 0)
        #expect(inode(cloneData + "/dir/sub/file") == copied)
        // Other types restore by copying: nothing is shared.
        let ebs = try store.createVolume(type: .ebs, az: "us-east-1a")
        let ebsSnapshot = try store.takeSnapshot(of: ebs.id).snapshot
        let restored = try store.createVolume(type: .ebs, az: "us-east-1b", fromSnapshot: ebsSnapshot.id)
        #expect(CloneSharing(sharedStateDirectory: sandbox.stateDirectory.sharedDirectory(restored.id)) == nil)
    }
}

/// Events recorded from several threads, in the order they happened.
final class EventLog: Sendable {
    private let list = Mutex<[String]>([])
    func add(_ event: String) { list.withLock { $0.append(event) } }
    var all: [String] { list.withLock { $0 } }
}
