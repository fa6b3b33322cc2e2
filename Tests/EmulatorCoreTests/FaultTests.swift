import Foundation
import StorageCatalog
import Synchronization
import Testing
@testable import EmulatorCore
#if canImport(Glibc)
import Glibc
#endif

/// `berth fault`: the records, the shared words every mount reads, and the gate a mount asks before each
/// read, write and sync — all without mounting (the mount tests check that the FUSE layer asks it).
@Suite struct FaultTests {
    func faultWords() throws -> (VolumeFaults, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-faults-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (try VolumeFaults(sharedStateDirectory: directory), directory)
    }

    func inSeconds(_ seconds: Double) -> UInt64 { realtimeNanoseconds() + UInt64(seconds * 1e9) }

    @Test func withNoFaultEveryRequestProceeds() throws {
        let (faults, directory) = try faultWords()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gate = FaultGate(faults: faults, ioTimeout: .seconds(30))
        for access in [FaultGate.Access.read, .write, .sync] {
            #expect(gate.step(access, now: realtimeNanoseconds(), draw: 0) == .proceed)
            #expect(gate.admit(access) == 0)
        }
    }

    @Test func aPauseHoldsReadsWritesAndSyncsUntilItEnds() throws {
        let (faults, directory) = try faultWords()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gate = FaultGate(faults: faults, ioTimeout: nil)
        let end = inSeconds(0.3)
        faults.setPause(endsAt: end)
        for access in [FaultGate.Access.read, .write, .sync] {
            #expect(gate.step(access, now: realtimeNanoseconds(), draw: 9_999) == .waitForPause)
        }
        #expect(gate.step(.write, now: end, draw: 0) == .proceed, "a pause is over at its end")
        #expect(gate.admit(.write) == 0)
        #expect(realtimeNanoseconds() >= end, "the write went on only after the pause ended")
    }

    @Test func aPausePastTheIOTimeoutAnswersEIO() throws {
        let (faults, directory) = try faultWords()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        faults.setPause(endsAt: inSeconds(60))
        #expect(FaultGate(faults: faults, ioTimeout: .milliseconds(100)).admit(.sync) == EIO)
        faults.clearPause()
        #expect(FaultGate(faults: faults, ioTimeout: .milliseconds(100)).admit(.sync) == 0)
    }

    @Test func clearingAPauseReleasesTheWaitingRequest() throws {
        let (faults, directory) = try faultWords()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        faults.setPause(endsAt: 0)
        let gate = FaultGate(faults: faults, ioTimeout: nil)
        let answered = Mutex<Int32?>(nil)
        let waiter = Thread { let code = gate.admit(.write); answered.withLock { $0 = code } }
        waiter.start()
        usleep(200_000)
        #expect(answered.withLock { $0 } == nil, "an indefinite pause holds the write")
        faults.clearPause()
        for _ in 0..<5_000 where answered.withLock({ $0 }) == nil { usleep(1_000) }
        #expect(answered.withLock { $0 } == 0, "the write completes once the pause is cleared")
    }

    @Test func latencyDelaysItsShareOfTheOperationsAsked() throws {
        let (faults, directory) = try faultWords()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gate = FaultGate(faults: faults, ioTimeout: nil)
        faults.setLatency(LatencyFault(delayNanoseconds: 40_000_000, shareOf10000: 2_500, operations: .write), endsAt: 0)
        let now = realtimeNanoseconds()
        #expect(gate.step(.write, now: now, draw: 2_499) == .delay(nanoseconds: 40_000_000))
        #expect(gate.step(.write, now: now, draw: 2_500) == .proceed, "outside the 25% share")
        #expect(gate.step(.sync, now: now, draw: 0) == .delay(nanoseconds: 40_000_000), "syncs count as writes")
        #expect(gate.step(.read, now: now, draw: 0) == .proceed, "reads were not asked for")
        faults.setLatency(LatencyFault(delayNanoseconds: 40_000_000, shareOf10000: 10_000, operations: .all), endsAt: inSeconds(60))
        let before = DispatchTime.now().uptimeNanoseconds
        #expect(gate.admit(.read) == 0)
        #expect(DispatchTime.now().uptimeNanoseconds - before >= 40_000_000, "the delay asked is added")
        faults.setLatency(LatencyFault(delayNanoseconds: 40_000_000, shareOf10000: 10_000, operations: .all), endsAt: now - 1)
        #expect(gate.step(.read, now: realtimeNanoseconds(), draw: 0) == .proceed, "a latency whose end passed is over")
        faults.clearLatency()
        #expect(gate.step(.read, now: now, draw: 0) == .proceed)
    }

    @Test func faultWordsAreSharedBetweenOpeners() throws {
        let (writer, directory) = try faultWords()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let reader = try VolumeFaults(sharedStateDirectory: directory)
        #expect(reader.isQuiet)
        writer.setPause(endsAt: 0)
        #expect(reader.pause(at: realtimeNanoseconds()) == 0)
        writer.clearPause()
        #expect(reader.isQuiet)
    }

    // MARK: Records

    func volume(_ store: StateStore, _ type: ServiceID = .ebs) throws(StateError) -> Volume {
        try store.createVolume(type: type, az: "us-east-1a", sizeGiB: type == .efs ? nil : 1)
    }

    @Test func pauseIOIsInEffectWhenTheCommandReturnsAndTheVolumeIsImpaired() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try volume(store)
        let fault = try store.injectFault(.pauseIO(volume.id, duration: .seconds(60)))
        #expect(fault.kind == .pauseIO && fault.status() == .active)
        let words = try VolumeFaults(sharedStateDirectory: store.directory.sharedDirectory(volume.id))
        #expect(words.pause(at: realtimeNanoseconds()) != nil, "every mount of the volume sees the pause")
        #expect(try store.volumeStatuses()[volume.id] == .impaired)
        #expect(try store.listFaults().map(\.id) == [fault.id])

        let cleared = try store.clearFault(fault.id)
        #expect(cleared.status() == .stopped)
        #expect(words.pause(at: realtimeNanoseconds()) == nil, "over when clear returns")
        #expect(try store.volumeStatuses()[volume.id] == nil)
        #expect(try store.clearFault(fault.id).status() == .stopped, "clearing twice is not an error")
    }

    @Test func aSecondFaultOfOneKindOnOneVolumeIsRefused() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try volume(store, .efs)
        let first = try store.injectFault(.latency(volume.id, delay: .milliseconds(5), percent: 50, operations: .read, duration: nil))
        let error = stateError { () throws(StateError) in
            try store.injectFault(.latency(volume.id, delay: .milliseconds(5), percent: 50, operations: .read, duration: nil))
        }
        #expect(error?.awsErrorName == "ConflictException")
        #expect(error?.description.contains(first.id.rawValue) == true)
        // A pause beside the latency is another kind: allowed.
        _ = try store.injectFault(.pauseIO(volume.id, duration: .seconds(1)))
        #expect(try store.listFaults().count == 2)
    }

    @Test func badFaultRequestsAreRefusedAndChangeNothing() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try volume(store)
        let missing = try #require(VolumeID(rawValue: "vol-0123456789abcdef0"))
        let refusals: [(FaultRequest, String)] = [
            (.pauseIO(missing, duration: .seconds(1)), "InvalidVolume.NotFound"),
            (.pauseIO(volume.id, duration: .zero), "InvalidParameterValue"),
            (.latency(volume.id, delay: .zero, percent: 10, operations: .all, duration: nil), "InvalidParameterValue"),
            (.latency(volume.id, delay: .seconds(61), percent: 10, operations: .all, duration: nil), "InvalidParameterValue"),
            (.latency(volume.id, delay: .milliseconds(1), percent: 0, operations: .all, duration: nil), "InvalidParameterValue"),
            (.latency(volume.id, delay: .milliseconds(1), percent: 101, operations: .all, duration: nil), "InvalidParameterValue"),
        ]
        for (request, name) in refusals {
            #expect(stateError { () throws(StateError) in try store.injectFault(request) }?.awsErrorName == name, "\(request)")
        }
        #expect(try store.listFaults().isEmpty)
        #expect(stateError { () throws(StateError) in try store.clearFault(try FaultID(parsing: "fault-x")) }?.awsErrorName
                == "ResourceNotFoundException")
    }

    @Test func aFaultEndsByItselfWhenItsDurationRunsOut() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try volume(store)
        let fault = try store.injectFault(.pauseIO(volume.id, duration: .milliseconds(200)))
        let words = try VolumeFaults(sharedStateDirectory: store.directory.sharedDirectory(volume.id))
        let gate = FaultGate(faults: words, ioTimeout: nil)
        #expect(gate.admit(.write) == 0)
        #expect(try store.listFaults().first?.status() == .completed)
        #expect(try store.volumeStatuses()[volume.id] == nil)
        #expect(fault.endsAt != nil)
    }

    @Test func deletingAVolumeDropsItsFaults() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try volume(store)
        _ = try store.injectFault(.pauseIO(volume.id, duration: .seconds(60)))
        try store.deleteVolume(volume.id)
        #expect(try store.listFaults().isEmpty)
    }
}
