import Foundation
import StorageCatalog
import Testing
@testable import EmulatorCore

/// Races between `berth` processes. Each contender runs on its own thread with its own `StateStore`, hence
/// its own `DatabasePool` and SQLite connections on the same database file: SQLite's locking (WAL,
/// BEGIN IMMEDIATE, busy timeout) and the flock around opening work on file descriptors, so this exercises the
/// same locking as separate processes would, without needing the CLI.
@Suite(.serialized) struct StateConcurrencyTests {
    /// Runs `body(i)` for i in 0..<count on `count` threads released together; returns the results.
    func race<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        let results = Results<T>(count: count)
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for index in 0..<count {
            done.enter()
            let thread = Thread {
                start.wait()
                results.set(index, body(index))
                done.leave()
            }
            thread.start()
        }
        for _ in 0..<count { start.signal() }
        done.wait()
        return results.values
    }

    @Test func fiftyRacingAttachesToOneEBSVolumeHaveOneWinner() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let volume = try sandbox.store().createVolume(type: .ebs, az: "us-east-1a")
        let directory = sandbox.stateDirectory
        let outcomes = race(50) { index in
            Result<VolumeAttachment, StateError> { () throws(StateError) in
                let store = try StateStore(directory: directory)
                return try store.attach(volumeID: volume.id, az: "us-east-1a", task: "t-\(index)",
                                        mountpoint: sandbox.mountpoint("\(index)"))
            }
        }
        let winners = outcomes.compactMap { try? $0.get() }
        let refusals = outcomes.compactMap { outcome -> StateError? in
            if case .failure(let error) = outcome { return error }
            return nil
        }
        #expect(winners.count == 1)
        #expect(refusals.count == 49)
        #expect(refusals.allSatisfy { $0.awsErrorName == "VolumeInUse" }, "\(refusals.filter { $0.awsErrorName != "VolumeInUse" })")
        if let winner = winners.first {
            #expect(refusals.allSatisfy { $0 == .volumeInUse(volume.id, attachments: [winner]) })
        }
        #expect(try sandbox.store().describeVolume(volume.id).attachments == winners)
    }

    @Test func racingFirstOpensAndCreatesAllSucceed() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let directory = sandbox.stateDirectory
        // A fresh directory: every contender may be the one that creates and migrates the database.
        let outcomes = race(20) { index in
            Result<Volume, StateError> { () throws(StateError) in
                let store = try StateStore(directory: directory)
                return try store.createVolume(type: index.isMultiple(of: 2) ? .ebs : .efs, az: "us-east-1b", name: "v\(index)")
            }
        }
        let created = outcomes.compactMap { try? $0.get() }
        #expect(created.count == 20, "\(outcomes)")
        let listed = try sandbox.store().listVolumes().map(\.volume)
        #expect(Set(listed.map(\.id)) == Set(created.map(\.id)))
        #expect(Set(listed.compactMap(\.name)).count == 20)
        #expect(try sandbox.store().listAvailabilityZones().count == 3)
        #expect(directoryEntries(directory.volumesDirectory).count == 20)
    }
}

/// Results written by racing threads. @unchecked: every access holds `lock`.
private final class Results<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [T?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: T) { lock.withLock { slots[index] = value } }
    var values: [T] { lock.withLock { slots.compactMap { $0 } } }
}
