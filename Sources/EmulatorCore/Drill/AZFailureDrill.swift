import Foundation
public import StorageCatalog
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Mounts and unmounts for a drill. The CLI starts `berth mount --background` processes; a test or an
/// embedding program may do it another way.
public protocol DrillMounter: Sendable {
    /// Mounts `volume` at `mountpoint` for `task` in `az` on `platform` and returns once the mount answers.
    func mount(_ volume: VolumeID, at mountpoint: String, az: String, task: String, platform: Platform,
               stateDirectory: StateDirectory) throws
    /// Unmounts and waits until the attachment is released.
    func unmount(_ mountpoint: String, stateDirectory: StateDirectory) throws
}

/// What to rehearse (emulator.md §Drills).
public struct DrillPlan: Sendable {
    public var type: ServiceID
    public var storageClass: EFSStorageClass?
    public var deployment: Deployment?
    public var sizeGiB: Int?
    /// FSx for Lustre only.
    public var lustre: LustreConfiguration?
    /// The tasks' platform: the mounts are checked against it as any mount is.
    public var platform = Platform(os: .linux, launchType: .ec2)
    /// Nil: the region's first AZ.
    public var failedAZ: String?
    /// Nil: the region's second AZ.
    public var failoverAZ: String?
    public var snapshotEvery: Duration = .seconds(1)
    /// How long the writer runs in all, before the failure and after the recovery.
    public var duration: Duration = .seconds(8)
    public var failAt: Duration = .seconds(5)
    /// The writer appends and fsyncs one record, then waits this long.
    public var recordInterval: Duration = .milliseconds(20)
    /// A command run against the mount in AZ A alongside the writer (`BERTH_DRILL_MOUNT` names it).
    public var workloadCommand: String?
    /// A command run against the recovered mount in AZ B once the records are verified (`BERTH_DRILL_MOUNT`
    /// names it): the application's own check that it works on what survived. Non-zero fails the drill.
    public var recoveryCheckCommand: String?
    /// A fault injected into the volume once the writer runs (`berth drill --pause-io|--latency`).
    public var fault: DrillFault?
    /// AZ A also loses power (`berth az fail --power-loss`); the writer then fsyncs every
    /// `powerLossSyncEvery`th record only, so that some are written but not durable at the failure.
    public var powerLoss = false
    public var powerLossSyncEvery = 4

    public init(type: ServiceID) { self.type = type }

    /// Problems with the plan, for people.
    public func validate() throws(DrillError) {
        if snapshotEvery <= .zero { throw .invalidPlan("--snapshot-every must be more than 0") }
        if failAt <= .zero { throw .invalidPlan("--fail-at must be more than 0") }
        if failAt >= duration {
            throw .invalidPlan("--fail-at \(DurationText.format(failAt)) must come before the end of --duration \(DurationText.format(duration))")
        }
        if let a = failedAZ, let b = failoverAZ, a == b { throw .invalidPlan("--az and --failover-az must differ (both \(a))") }
    }
}

public enum DrillError: Error, Sendable, CustomStringConvertible {
    case invalidPlan(String)
    case state(StateError)
    case mount(String)
    /// `DrillCancellation.request` was called (the CLI does on SIGINT and SIGTERM).
    case cancelled

    public var description: String {
        switch self {
        case .cancelled: "cancelled"
        case .invalidPlan(let text): "invalid drill: \(text)"
        case .state(let error): error.description
        case .mount(let text): "mount failed: \(text)"
        }
    }
}

public struct DrillStep: Sendable, Equatable {
    /// Seconds from the start of the drill.
    public var at: Double
    public var action: String
}

/// The report; `DrillReport.jsonKeys` are the contract's spellings (emulator.md §Drills).
public struct DrillReport: Sendable {
    public var type: ServiceID
    public var failedAZ: String
    public var failoverAZ: String
    public var recovery: String
    public var recordsWritten: Int
    public var recordsRecovered: Int
    public var recordsLost: Int
    public var recoveryPointSeconds: Double
    /// Nil when no usable mount in the failover AZ was reached.
    public var recoveryTimeSeconds: Double?
    public var corruptRecords: Int
    public var snapshotsTaken: Int
    public var recordsWrittenAfterRecovery: Int
    public var workloadExitStatus: Int32?
    /// Seconds from the start: when AZ A's outage was in effect (its `az fail` had returned), and when
    /// the snapshot that was restored was requested (nil when none was). Their difference, plus one
    /// write in flight at the failure, bounds the recovery point of a restore.
    public var failedAtSeconds: Double
    public var restoredSnapshotAtSeconds: Double?
    /// Nil when no recovery check was asked for or no mount in B was reached.
    public var recoveryCheckExitStatus: Int32?
    public var steps: [DrillStep]
    /// The fault the drill ran under (`DrillPlan.fault`), as injected.
    public var fault: Fault? = nil
    /// The longest time between two acknowledgements of the writer in A (snapshots, a pause-io or
    /// latency hold it back); 0 with fewer than two records.
    public var longestWriteStallSeconds: Double = 0
    /// With `DrillPlan.powerLoss`: what the power loss took, read on the original volume once AZ A is back.
    public var powerLoss: DrillPowerLoss? = nil

    /// A corrupt record or an unfinished recovery fails the drill (emulator.md §Drills: "The exit status is
    /// non-zero when a record is corrupt or the drill could not finish").
    public var passed: Bool {
        corruptRecords == 0 && recoveryTimeSeconds != nil && (recoveryCheckExitStatus ?? 0) == 0
            && (powerLoss.map { $0.acknowledgedRecordsLost == 0 && $0.corruptRecords == 0 && $0.checked } ?? true)
    }
}

/// Runs the AZ failure rehearsal for one volume type: create a volume in AZ A, mount it, append numbered,
/// checksummed, fsynced records, snapshot on a schedule, fail A, recover into B the way the service allows,
/// verify every surviving record, and report what was lost and how long recovery took.
///
/// How each service recovers (emulator.md §Drills; seed §Amazon Elastic Block Store (Amazon EBS): volumes
/// live in one AZ and are restored from snapshots; AWS docs efs/latest/ug/storage-classes.html: Standard
/// stores data in several AZs; fsx/latest/WindowsGuide/high-availability-multiAZ.html: multi-AZ fails over
/// to the standby):
/// - data in every AZ (EFS Standard) or a standby in B (multi-AZ FSx): mount the same volume from B;
/// - data only in A (EBS, EFS One Zone, single-AZ FSx, Lustre): a new volume in B from the latest snapshot.
public final class AZFailureDrill: Sendable {
    let store: StateStore
    let plan: DrillPlan
    let mounter: any DrillMounter
    let workDirectory: String
    let onStep: @Sendable (DrillStep) -> Void
    let cancellation: DrillCancellation
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private let steps = Mutex<[DrillStep]>([])

    /// `workDirectory` gets the mount points `a` and `b`; it must be outside the state directory.
    /// `cancellation`: once requested, the drill stops at its next wait and `run` throws
    /// `DrillError.cancelled`; cleaning up (unmounting, recovering the AZ) is the caller's, as after any error.
    public init(store: StateStore, plan: DrillPlan, mounter: any DrillMounter, workDirectory: String,
                cancellation: DrillCancellation = DrillCancellation(),
                onStep: @escaping @Sendable (DrillStep) -> Void = { _ in }) {
        self.cancellation = cancellation
        self.store = store
        self.plan = plan
        self.mounter = mounter
        self.workDirectory = workDirectory
        self.onStep = onStep
        start = ContinuousClock.now
    }

    func seconds(_ instant: ContinuousClock.Instant) -> Double {
        let d = instant - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func step(_ action: String) {
        let entry = DrillStep(at: (seconds(clock.now) * 1000).rounded() / 1000, action: action)
        steps.withLock { $0.append(entry) }
        onStep(entry)
    }

    func stateCall<T>(_ body: () throws(StateError) -> T) throws(DrillError) -> T {
        do { return try body() } catch { throw .state(error) }
    }

    public func run() throws(DrillError) -> DrillReport {
        try plan.validate()
        let zones = store.region.zones
        guard zones.count >= 2 else { throw .invalidPlan("the region has one AZ; a drill needs two") }
        let zoneA = plan.failedAZ ?? zones[0]
        let zoneB = plan.failoverAZ ?? (zones[0] == zoneA ? zones[1] : zones[0])
        for zone in [zoneA, zoneB] where !zones.contains(zone) {
            throw .invalidPlan("\(zone) is not an AZ of \(store.region.name) (\(zones.joined(separator: ", ")))")
        }
        let mountA = workDirectory + "/a", mountB = workDirectory + "/b"
        for path in [mountA, mountB] {
            do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
                throw .mount("cannot create \(path): \(error)")
            }
        }

        let volume = try stateCall { () throws(StateError) in
            try store.createVolume(type: plan.type, az: zoneA, sizeGiB: plan.sizeGiB, name: "drill",
                                   storageClass: plan.storageClass, deployment: plan.deployment,
                                   standbyAZ: plan.deployment == .multiAZ ? zoneB : nil, lustre: plan.lustre)
        }
        step("created \(volume.id) (\(describe(volume))) in \(zoneA)")
        var mounted: [String] = []
        defer {
            for path in mounted.reversed() { try? mounter.unmount(path, stateDirectory: store.directory) }
            _ = try? store.setAZFailed(zoneA, false)
        }
        do { try mounter.mount(volume.id, at: mountA, az: zoneA, task: "drill-writer", platform: plan.platform,
                                 stateDirectory: store.directory) } catch {
            throw .mount("\(error)")
        }
        mounted.append(mountA)
        step("mounted \(volume.id) at \(mountA) for task drill-writer in \(zoneA)")

        let writer = DrillWriter(path: mountA + "/drill.log", interval: plan.recordInterval,
                                 syncEvery: plan.powerLoss ? max(1, plan.powerLossSyncEvery) : 1)
        let workload = try plan.workloadCommand.map { command throws(DrillError) in
            try startCommand(command, mount: mountA, role: "workload")
        }
        writer.start()
        if plan.powerLoss {
            step("writer started: one \(DrillRecord.size)-byte record every \(DurationText.format(plan.recordInterval)), fsynced every \(max(1, plan.powerLossSyncEvery))th")
        } else {
            step("writer started: one fsynced \(DrillRecord.size)-byte record every \(DurationText.format(plan.recordInterval))")
        }
        var injectedFault: Fault?
        if let fault = plan.fault {
            // After the first acknowledged record, so that the longest stall spans the fault.
            for _ in 0..<100 where writer.acknowledged.isEmpty && writer.firstError == nil {
                try sleepUntil(clock.now + .milliseconds(10))
            }
            let injected = try stateCall { () throws(StateError) in try store.injectFault(fault.request(for: volume.id)) }
            injectedFault = injected
            step("injected \(injected.kind.rawValue) \(injected.id) (\(injected.kind.fisAction)): \(fault.summary)")
        }

        // Snapshots at fixed times, so the interval between them is what was asked for.
        var latestSnapshot: SnapshotTaken?
        // Every record acknowledged before a snapshot was requested is in it (the write freeze drains
        // changes in flight first), so this instant bounds what the latest snapshot holds from below.
        var latestSnapshotRequestedAt: ContinuousClock.Instant?
        var snapshotsTaken = 0
        var next = start + plan.snapshotEvery
        let failTime = start + plan.failAt
        while next < failTime {
            try sleepUntil(next)
            let requestedAt = clock.now
            do {
                let taken = try store.takeSnapshot(of: volume.id, name: "drill-\(snapshotsTaken + 1)")
                latestSnapshot = taken
                latestSnapshotRequestedAt = requestedAt
                snapshotsTaken += 1
                step("snapshot \(taken.snapshot.id) (\(taken.copy.method.rawValue), writes paused \(milliseconds(taken.pausedSeconds)))")
            } catch {
                step("snapshot failed: \(error)")
            }
            next += plan.snapshotEvery
        }
        try sleepUntil(failTime)
        // The outage takes effect when the flag is set, at the start of setAZFailed.
        let failingAt = clock.now
        try stateCall { () throws(StateError) in _ = try store.setAZFailed(zoneA, true) }
        // By now the outage is in effect: no operation that starts later is answered.
        let failedAt = clock.now
        step("failed \(zoneA)")
        var powerLossAnswers: [PowerLossJournal.Answer] = []
        if plan.powerLoss {
            let results = try stateCall { () throws(StateError) in try store.losePower(in: zoneA) }
            powerLossAnswers = results.map(\.answer)
            step("power lost in \(zoneA): " + results.map { "\($0.attachment.mountpoint): \($0.answer.rawValue)" }.joined(separator: ", "))
        }
        // The writer stops at its first error: the outage answers EIO from the next operation on.
        let writerStopped = writer.waitForError(timeout: .seconds(2))
        writer.stop()
        if let errorText = writer.firstError {
            step("writer in \(zoneA) got \(errorText)\(writerStopped ? "" : " (late)")")
        } else {
            step("writer in \(zoneA) saw no error within 2s")
        }
        let acknowledged = writer.acknowledged
        let unsynced = writer.unsynced
        // The writer in B goes on after every sequence A wrote, so that a record A wrote but lost keeps a
        // sequence of its own (`checkAfterPowerLoss` looks for them).
        let nextSequenceInA = ((unsynced.last ?? acknowledged.last?.sequence).map { $0 &+ 1 }) ?? 0
        if plan.powerLoss { step("writer in \(zoneA): \(acknowledged.count) records acknowledged (fsynced), \(unsynced.count) written but not synced") }

        // Recover into B.
        let recoveryVolume: VolumeID
        let recovery: String
        var restoredFrom: ContinuousClock.Instant?
        switch volume.placement {
        case .regional, .multiAZ:
            recoveryVolume = volume.id
            recovery = volume.placement == .regional
                ? "mount the same file system from \(zoneB): its data is stored in every AZ"
                : "mount the same file system from \(zoneB): the multi-AZ deployment fails over to its standby"
        case .zonal:
            if let latestSnapshot {
                recoveryVolume = try stateCall { () throws(StateError) in
                    try store.createVolume(type: plan.type, az: zoneB, sizeGiB: volume.sizeGiB, name: "drill-restored",
                                           storageClass: volume.storageClass,
                                           deployment: volume.deployment, fromSnapshot: latestSnapshot.snapshot.id,
                                           lustre: volume.lustre)
                }.id
                recovery = "new volume in \(zoneB) from the latest snapshot \(latestSnapshot.snapshot.id)"
                restoredFrom = latestSnapshotRequestedAt
                step("restored \(latestSnapshot.snapshot.id) into \(recoveryVolume) in \(zoneB)")
            } else {
                recoveryVolume = try stateCall { () throws(StateError) in
                    try store.createVolume(type: plan.type, az: zoneB, sizeGiB: volume.sizeGiB, name: "drill-empty",
                                           storageClass: volume.storageClass, deployment: volume.deployment,
                                           lustre: volume.lustre)
                }.id
                recovery = "no snapshot had been taken: an empty volume in \(zoneB)"
                step("no snapshot to restore; created empty \(recoveryVolume) in \(zoneB)")
            }
        }
        var recoveryTime: Double?
        do {
            try mounter.mount(recoveryVolume, at: mountB, az: zoneB, task: "drill-recovery", platform: plan.platform,
                              stateDirectory: store.directory)
            mounted.append(mountB)
            recoveryTime = seconds(clock.now) - seconds(failingAt)
            step("mounted \(recoveryVolume) at \(mountB) in \(zoneB): recovered")
        } catch {
            step("could not mount in \(zoneB): \(error)")
        }

        // Verify what survived, then keep writing in B until the end to show the mount is usable.
        var scan = DrillLogScan()
        if recoveryTime != nil {
            // No log at all (an empty restored volume) means every record was lost.
            let bytes = FileManager.default.contents(atPath: mountB + "/drill.log").map(Array.init) ?? []
            scan = DrillLogScan.scan(bytes)
            step("verified \(scan.records.count) records, \(scan.corruptRecords) corrupt")
        }
        var recoveryCheckStatus: Int32?
        if recoveryTime != nil, let command = plan.recoveryCheckCommand {
            let check = try startCommand(command, mount: mountB, role: "recovery check")
            check.waitUntilExit()
            recoveryCheckStatus = check.terminationStatus
            step("recovery check exited with status \(check.terminationStatus)")
        }
        var writtenAfter = 0
        if recoveryTime != nil, clock.now < start + plan.duration {
            let continued = DrillWriter(path: mountB + "/drill.log", interval: plan.recordInterval,
                                        firstSequence: max((scan.lastSequence ?? UInt64.max) &+ 1, nextSequenceInA))
            continued.start()
            try sleepUntil(start + plan.duration)
            continued.stop()
            writtenAfter = continued.acknowledged.count
            step("writer in \(zoneB): \(writtenAfter) records until the end\(continued.firstError.map { ", then \($0)" } ?? "")")
        }
        let workloadStatus = workload.map { finishWorkload($0) }
        if let workloadStatus { step("workload command exited with status \(workloadStatus)") }
        var powerLoss: DrillPowerLoss?
        if plan.powerLoss {
            powerLoss = try checkAfterPowerLoss(zoneA, mountA, volume.id, acknowledged: acknowledged.map(\.sequence),
                                                unsynced: unsynced, answers: powerLossAnswers)
        }

        let recoveredSequences = Set(scan.records.map(\.sequence))
        let recovered = acknowledged.filter { recoveredSequences.contains($0.sequence) }
        let lost = acknowledged.filter { !recoveredSequences.contains($0.sequence) }
        // Seconds of acknowledged writes lost: from the point the recovered data is known to hold (the
        // later of the last recovered acknowledgement and, for a restore, the moment its snapshot was
        // requested) to the last acknowledged write. With no record recovered, from the first write.
        var recoveryPoint = 0.0
        if let lastLost = lost.last {
            let candidates = [recovered.last?.acknowledgedAt, restoredFrom].compactMap { $0 }
            let from = candidates.max() ?? acknowledged.first?.startedAt ?? lastLost.acknowledgedAt
            recoveryPoint = max(0, seconds(lastLost.acknowledgedAt) - seconds(from))
        }
        step("done")
        return DrillReport(
            type: plan.type, failedAZ: zoneA, failoverAZ: zoneB, recovery: recovery,
            recordsWritten: acknowledged.count, recordsRecovered: recovered.count, recordsLost: lost.count,
            recoveryPointSeconds: (recoveryPoint * 1000).rounded() / 1000,
            recoveryTimeSeconds: recoveryTime.map { ($0 * 1000).rounded() / 1000 },
            corruptRecords: scan.corruptRecords, snapshotsTaken: snapshotsTaken,
            recordsWrittenAfterRecovery: writtenAfter, workloadExitStatus: workloadStatus,
            failedAtSeconds: (seconds(failedAt) * 1000).rounded() / 1000,
            restoredSnapshotAtSeconds: restoredFrom.map { (seconds($0) * 1000).rounded() / 1000 },
            recoveryCheckExitStatus: recoveryCheckStatus, steps: steps.withLock { $0 },
            fault: injectedFault, longestWriteStallSeconds: (longestStall(acknowledged) * 1000).rounded() / 1000,
            powerLoss: powerLoss)
    }

    /// Once AZ A is back, reads the log on the original volume through its mount in A (the same mount,
    /// which the recovery brings back) and counts what the power loss took.
    func checkAfterPowerLoss(_ zoneA: String, _ mountA: String, _ volume: VolumeID, acknowledged: [UInt64],
                             unsynced: [UInt64], answers: [PowerLossJournal.Answer]) throws(DrillError) -> DrillPowerLoss {
        try stateCall { () throws(StateError) in _ = try store.setAZFailed(zoneA, false) }
        step("recovered \(zoneA) to read the original volume \(volume)")
        var bytes: [UInt8]?
        for _ in 0..<250 where bytes == nil {
            bytes = FileManager.default.contents(atPath: mountA + "/drill.log").map(Array.init)
            if bytes == nil { try sleepUntil(clock.now + .milliseconds(20)) }
        }
        let scan = DrillLogScan.scan(bytes ?? [])
        let present = Set(scan.records.map(\.sequence))
        let survived = unsynced.filter(present.contains).count
        let result = DrillPowerLoss(
            zone: zoneA, volumeID: volume.rawValue, checked: bytes != nil, mountsAnswered: answers.filter { $0 == .applied }.count,
            recordsUnsynced: unsynced.count, unsyncedRecordsVanished: unsynced.count - survived,
            unsyncedRecordsSurvived: survived, acknowledgedRecordsLost: acknowledged.filter { !present.contains($0) }.count,
            corruptRecords: scan.corruptRecords)
        step("original volume after the power loss: \(result.unsyncedRecordsVanished) of \(result.recordsUnsynced) unsynced records vanished, "
             + "\(result.acknowledgedRecordsLost) acknowledged records lost, \(scan.corruptRecords) corrupt")
        return result
    }

    /// The longest time between two consecutive acknowledgements.
    func longestStall(_ records: [DrillWriter.Acknowledged]) -> Double {
        zip(records, records.dropFirst()).map { seconds($1.acknowledgedAt) - seconds($0.acknowledgedAt) }.max() ?? 0
    }

    func describe(_ volume: Volume) -> String {
        [volume.type.rawValue, volume.storageClass?.rawValue, volume.deployment?.rawValue,
         volume.lustre.map { "\($0.deployment.rawValue) \($0.storageType.rawValue)" }, volume.sizeGiB.map { "\($0) GiB" }]
            .compactMap { $0 }.joined(separator: ", ")
    }

    /// Blocks this thread until `instant` (the drill is synchronous; it runs on its own thread), in steps
    /// of at most 20 ms so that a cancellation is noticed promptly.
    func sleepUntil(_ instant: ContinuousClock.Instant) throws(DrillError) {
        while true {
            if cancellation.isRequested { throw .cancelled }
            let left = instant - clock.now
            guard left > .zero else { return }
            let micros = left.components.seconds * 1_000_000 + left.components.attoseconds / 1_000_000_000_000
            usleep(UInt32(clamping: min(max(micros, 1), 20_000)))
        }
    }

    func milliseconds(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded()))ms" }

    func startCommand(_ command: String, mount: String, role: String) throws(DrillError) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["BERTH_DRILL_MOUNT"] = mount
        process.environment = environment
        do { try process.run() } catch { throw .invalidPlan("cannot start the \(role) command: \(error)") }
        step("\(role) started: sh -c \(command) with BERTH_DRILL_MOUNT=\(mount)")
        return process
    }

    /// Waits a little for the workload, then stops it: it must not hold the mount past the drill.
    func finishWorkload(_ process: Process) -> Int32 {
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }
}

/// What a power loss took from the drill's log (`berth drill az-failure --power-loss`), read on the
/// original volume once AZ A was back.
public struct DrillPowerLoss: Sendable, Equatable {
    public var zone: String
    public var volumeID: String
    /// Whether the log could be read at all.
    public var checked: Bool
    /// Mount servers that applied their journal.
    public var mountsAnswered: Int
    /// Records written but not yet fsynced when the writer stopped.
    public var recordsUnsynced: Int
    public var unsyncedRecordsVanished: Int
    public var unsyncedRecordsSurvived: Int
    /// Acknowledged (fsynced) records missing: must be 0.
    public var acknowledgedRecordsLost: Int
    public var corruptRecords: Int
}

/// Appends records to a log on its own thread, fsyncing each (or every `syncEvery`th); remembers which
/// were acknowledged (made durable by an fsync that returned) and which were only written.
final class DrillWriter: Sendable {
    struct Acknowledged: Sendable {
        var sequence: UInt64
        var startedAt: ContinuousClock.Instant
        var acknowledgedAt: ContinuousClock.Instant
    }

    let path: String
    let interval: Duration
    let firstSequence: UInt64
    let syncEvery: Int
    private let state = Mutex<(acknowledged: [Acknowledged], error: String?, unsynced: [(UInt64, ContinuousClock.Instant)])>(([], nil, []))
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    init(path: String, interval: Duration, firstSequence: UInt64 = 0, syncEvery: Int = 1) {
        self.path = path
        self.interval = interval
        self.firstSequence = firstSequence
        self.syncEvery = max(1, syncEvery)
    }

    var acknowledged: [Acknowledged] { state.withLock { $0.acknowledged } }
    /// The sequences written since the last fsync that returned.
    var unsynced: [UInt64] { state.withLock { $0.unsynced.map(\.0) } }
    var firstError: String? { state.withLock { $0.error } }

    func start() {
        let thread = Thread { [self] in self.loop() }
        thread.start()
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        while !finished.load(ordering: .acquiring) { usleep(1_000) }
    }

    /// True when the writer hit an error within `timeout`.
    func waitForError(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if firstError != nil || finished.load(ordering: .acquiring) { return firstError != nil }
            usleep(1_000)
        }
        return false
    }

    private func fail(_ what: String) {
        let text = "\(what): \(String(cString: strerror(errno)))"
        state.withLock { $0.error = $0.error ?? text }
    }

    private func loop() {
        defer { finished.store(true, ordering: .releasing) }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return fail("open") }
        defer { close(fd) }
        // The log's name is durable only once its directory is synced (ebs, like any local file system).
        let directory = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return fail("open the log's directory") }
        let directorySynced = fsync(directory) == 0
        close(directory)
        guard directorySynced else { return fail("fsync the log's directory") }
        var sequence = firstSequence
        while !stopping.load(ordering: .acquiring) {
            let began = ContinuousClock.now
            let record = DrillRecord(sequence: sequence, unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
            let bytes = record.encoded
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == bytes.count else { return fail(written < 0 ? "write" : "short write") }
            state.withLock { $0.unsynced.append((sequence, began)) }
            if (sequence &- firstSequence) % UInt64(syncEvery) == UInt64(syncEvery - 1) {
                guard fsync(fd) == 0 else { return fail("fsync") }
                let now = ContinuousClock.now
                state.withLock { state in
                    state.acknowledged += state.unsynced.map { Acknowledged(sequence: $0.0, startedAt: $0.1, acknowledgedAt: now) }
                    state.unsynced.removeAll()
                }
            }
            sequence &+= 1
            Thread.sleep(forTimeInterval: Double(interval.components.attoseconds) / 1e18 + Double(interval.components.seconds))
        }
    }
}

/// A fault to run a drill under (`berth drill az-failure --pause-io D | --latency D`).
public enum DrillFault: Sendable, Equatable {
    case pauseIO(duration: Duration)
    case latency(delay: Duration, percent: Int, operations: LatencyOperationsChoice)

    func request(for volume: VolumeID) -> FaultRequest {
        switch self {
        case .pauseIO(let duration): .pauseIO(volume, duration: duration)
        case .latency(let delay, let percent, let operations):
            .latency(volume, delay: delay, percent: percent, operations: operations, duration: nil)
        }
    }

    var summary: String {
        switch self {
        case .pauseIO(let duration): "I/O paused for \(DurationText.format(duration))"
        case .latency(let delay, let percent, let operations):
            "\(DurationText.format(delay)) added to \(percent)% of \(operations.rawValue) requests"
        }
    }
}
