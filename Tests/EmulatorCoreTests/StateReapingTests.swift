import Foundation
import StorageCatalog
import Testing
@testable import EmulatorCore
#if canImport(Glibc)
import Glibc
#endif

@Suite struct StateReapingTests {
    /// Starts `executable` and returns it running.
    func spawn(_ executable: String, _ arguments: [String] = []) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        return process
    }

    /// Kills and waits for `process`. SIGKILL, not `terminate()`: a child inherits ignored signals, and the
    /// test runner may ignore SIGTERM.
    func stop(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The pid of a process that has exited and been waited for.
    func deadPID() throws -> Int32 {
        let process = try spawn("/bin/true")
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func identifiesProcessesByPidAndStartTime() throws {
        let me = try #require(ServerProcess.current)
        #expect(me.pid == getpid() && me.isRunning)
        #expect(ServerProcess(pid: me.pid, startTime: me.startTime + 1).isRunning == false)
        #expect(ServerProcess.identify(pid: 0) == nil && ServerProcess.identify(pid: -1) == nil)
        #expect(ServerProcess.identify(pid: try deadPID()) == nil)
        let sleeper = try spawn("/bin/sleep", ["30"])
        defer { stop(sleeper) }
        let child = try #require(ServerProcess.identify(pid: sleeper.processIdentifier))
        #expect(child.startTime >= me.startTime)
    }

    @Test func attachRefusesAServerThatIsNotRunning() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let pid = try deadPID()
        let error = stateError { () throws(StateError) in
            try store.attach(volumeID: volume.id, az: "us-east-1a", pid: pid, mountpoint: sandbox.mountpoint("1"))
        }
        #expect(error?.awsErrorName == "InvalidParameterValue")
        #expect(try store.listAttachments().isEmpty)
    }

    @Test func attachmentOfAKilledServerIsReleasedOnTheNextLook() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let server = try spawn("/bin/sleep", ["30"])
        let stale = try store.attach(volumeID: volume.id, az: "us-east-1a", task: "t-dead", pid: server.processIdentifier,
                                     mountpoint: sandbox.mountpoint("1"))
        #expect(stale.server.pid == server.processIdentifier)
        #expect(try store.describeVolume(volume.id).attachments == [stale])
        #expect(store.takeReapedAttachments().isEmpty)

        stop(server)
        // Another process looks first: it releases the attachment and reports it, not this store.
        let observer = try sandbox.store()
        #expect(try observer.listVolumes().first?.attachments.isEmpty == true)
        #expect(observer.takeReapedAttachments() == [stale])
        #expect(observer.takeReapedAttachments().isEmpty)
        #expect(store.takeReapedAttachments().isEmpty)
        // The volume is free for the next task.
        let next = try store.attach(volumeID: volume.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("1"))
        #expect(next.server == ServerProcess.current)
    }

    @Test func deadPidRowsAreReapedByEveryOperation() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let pid = try deadPID()
        let operations: [(String, () throws -> Void)] = [
            ("list", { _ = try store.listVolumes() }),
            ("describe", { _ = try store.describeVolume(volume.id) }),
            ("attach", {
                let attachment = try store.attach(volumeID: volume.id, az: "us-east-1a", mountpoint: sandbox.mountpoint("live"))
                try store.detach(attachment.id)
            }),
            ("az list", { _ = try store.listAvailabilityZones() }),
            ("reap", { _ = try store.reapStaleAttachments() }),
        ]
        for (name, operation) in operations {
            let stale = try insertAttachment(store, volume: volume, server: ServerProcess(pid: pid, startTime: 1),
                                             mountpoint: sandbox.mountpoint("stale"))
            try operation()
            #expect(store.takeReapedAttachments() == [stale], "\(name)")
            #expect(try store.listAttachments().isEmpty, "\(name)")
        }
    }

    @Test func reusedPidWithAnotherStartTimeIsStale() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .efs, az: "us-east-1a")
        let me = try #require(ServerProcess.current)
        // This pid is alive, but the row says it started at another time: the pid has been reused.
        let reused = try insertAttachment(store, volume: volume, server: ServerProcess(pid: me.pid, startTime: me.startTime + 12_345),
                                          mountpoint: sandbox.mountpoint("reused"))
        let live = try insertAttachment(store, volume: volume, server: me, mountpoint: sandbox.mountpoint("live"))
        #expect(try store.reapStaleAttachments() == [reused])
        #expect(try store.listAttachments() == [live])
    }

    @Test func detachOfAReapedAttachmentSucceeds() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let stale = try insertAttachment(store, volume: volume, server: ServerProcess(pid: try deadPID(), startTime: 1),
                                         mountpoint: sandbox.mountpoint("1"))
        #expect(try store.detach(mountpoint: sandbox.mountpoint("1")) == stale)
        let other = try insertAttachment(store, volume: volume, server: ServerProcess(pid: try deadPID(), startTime: 1),
                                         mountpoint: sandbox.mountpoint("2"))
        #expect(try store.detach(other.id) == other)
        #expect(try store.listAttachments().isEmpty)
    }

    @Test func refusedOperationKeepsStaleAttachmentsForTheNextLook() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let stale = try insertAttachment(store, volume: volume, server: ServerProcess(pid: try deadPID(), startTime: 1),
                                         mountpoint: sandbox.mountpoint("1"))
        // Refused for a reason of its own (zone): the whole transaction, reaping included, rolls back.
        _ = stateError { () throws(StateError) in try store.attach(volumeID: volume.id, az: "us-east-1b", mountpoint: sandbox.mountpoint("2")) }
        #expect(store.takeReapedAttachments().isEmpty)
        #expect(try store.reapStaleAttachments() == [stale])
    }

    @Test func mountpointStates() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        #expect(DeadMounts.state(of: "/proc") == .mounted)
        #expect(DeadMounts.state(of: "/") == .mounted)
        #expect(DeadMounts.state(of: sandbox.root + "/mnt") == .notMounted)
        #expect(DeadMounts.state(of: sandbox.root + "/nowhere") == .missing)
        // Only a disconnected mount is cleared; nothing else is touched.
        #expect(DeadMounts.clear(sandbox.root + "/mnt") == false)
        #expect(FileManager.default.fileExists(atPath: sandbox.root + "/mnt"))
        #expect(DeadMounts.findExecutable("sh") != nil)
        #expect(DeadMounts.findExecutable("no-such-tool-berth") == nil)
    }

    /// Writes an attachment row directly, as a server that has since died would have left it.
    /// `berth snapshot create` killed half-way: its pending snapshot would otherwise stay pending forever,
    /// with a partial copy on disk.
    @Test func aPendingSnapshotWhoseTakerDiedBecomesErrorAndLosesItsPartialCopy() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 1)
        let (alive, _) = try store.beginSnapshot(of: volume.id, name: nil)
        #expect(alive.creator == ServerProcess.current)
        var (killed, _) = try store.beginSnapshot(of: volume.id, name: nil)
        killed.creator = ServerProcess(pid: try deadPID(), startTime: 1)
        try store.pool.write { db in try SnapshotRecord(killed).update(db) }
        let partial = sandbox.stateDirectory.snapshotDirectory(killed.id) + "/data"
        try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)

        // The next operation of anyone notices.
        try sandbox.store().reapStaleAttachments()
        #expect(try store.describeSnapshot(killed.id).state == .error)
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory.snapshotDirectory(killed.id)))
        #expect(try store.describeSnapshot(alive.id).state == .pending, "its taker is still running")
        let restore = stateError { () throws(StateError) in
            try store.createVolume(type: .ebs, az: "us-east-1b", fromSnapshot: killed.id)
        }
        #expect(restore?.awsErrorName == "IncorrectState")
        #expect(restore?.description.contains("state error") == true)
        #expect(try store.deleteSnapshot(killed.id).id == killed.id)
    }

    /// `volume create --from-snapshot` killed during its copy: its intent committed, its record never did,
    /// the directory with the partial copy stayed. Removed on the next look because the intent says so and
    /// its process is gone; a directory without such an intent stays (issue 10 item 3).
    @Test func aVolumeDirectoryIsRemovedOnlyWhenARecordSaysItWasBeingMadeByAProcessNowGone() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let kept = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 1)
        let orphan = VolumeID.generate(for: .ebs)
        let unrecorded = VolumeID.generate(for: .ebs)
        let running = VolumeID.generate(for: .ebs)
        for id in [orphan, unrecorded, running] {
            let partial = sandbox.stateDirectory.dataDirectory(id)
            try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: partial + "/half-copied", contents: Data([1, 2, 3])))
        }
        let dead = try deadPID()
        try store.pool.write { db in
            try DirectoryIntentRecord(id: orphan.rawValue, kind: .volume, action: .creating, pid: dead, processStartTime: 1,
                                      createdAt: 0).insert(db)
            let me = try #require(ServerProcess.current)
            try DirectoryIntentRecord(id: running.rawValue, kind: .volume, action: .creating, pid: me.pid,
                                      processStartTime: Int64(me.startTime), createdAt: 0).insert(db)
        }

        try sandbox.store().reapStaleAttachments()
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory.volumeDirectory(orphan)))
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.dataDirectory(kept.id)))
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.dataDirectory(unrecorded) + "/half-copied"),
                "no record says it is being made: it may be data whose record was lost")
        #expect(FileManager.default.fileExists(atPath: sandbox.stateDirectory.dataDirectory(running) + "/half-copied"),
                "its creator is still running")
        #expect(try store.pool.read { db in try DirectoryIntentRecord.fetchAll(db) }.map(\.id) == [running.rawValue])
    }

    /// `volume delete` killed after its commit, before the directory was gone.
    @Test func anInterruptedDeletionIsFinishedByTheNextCommand() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 1)
        let dead = try deadPID()
        try store.pool.write { db in
            _ = try VolumeRecord.deleteOne(db, key: volume.id.rawValue)
            try DirectoryIntentRecord(id: volume.id.rawValue, kind: .volume, action: .deleting, pid: dead, processStartTime: 1,
                                      createdAt: 0).insert(db)
        }
        #expect(StateInventory.check(sandbox.stateDirectory).map(\.subject) == [volume.id.rawValue])
        try sandbox.store().reapStaleAttachments()
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory.volumeDirectory(volume.id)))
        #expect(StateInventory.check(sandbox.stateDirectory).isEmpty)
    }

    func insertAttachment(_ store: StateStore, volume: Volume, server: ServerProcess, mountpoint: String) throws -> VolumeAttachment {
        let attachment = VolumeAttachment(
            id: AttachmentID.generate(), volumeID: volume.id, task: "t-stale", availabilityZone: volume.availabilityZone,
            readOnly: false, platform: Platform(os: .linux, launchType: .ec2), server: server, mountpoint: mountpoint,
            createdAt: date(milliseconds: milliseconds(since1970: Date())))
        try store.pool.write { db in try AttachmentRecord(attachment).insert(db) }
        return attachment
    }
}

/// A dead pid, for use inside typed-throws closures.
private func deadPIDForClosure() throws(StateError) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    do { try process.run() } catch { throw .storage("cannot run /bin/true") }
    process.waitUntilExit()
    return process.processIdentifier
}
