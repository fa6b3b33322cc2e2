import Foundation
import Testing
@testable import EmulatorCore

/// Capacity accounting shared by several mounts: two independent handles on one state directory
/// stand for two `berth` processes (each maps the counter file itself).
@Suite struct CapacityTests {
    let root: String
    var backing: String { root + "/backing" }
    var state: String { root + "/state" }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-capacity-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/backing/sub", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
    }

    func write(_ bytes: Int, to relative: String) throws {
        try Data(repeating: 0x61, count: bytes).write(to: URL(fileURLWithPath: backing + "/" + relative))
    }

    @Test func firstOpenScansTheBackingDirectoryCountingEachInodeOnce() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write(1000, to: "a")
        try write(234, to: "sub/b")
        #expect(link(backing + "/a", backing + "/sub/a-again") == 0)
        #expect(symlink("a", backing + "/sub/link") == 0)
        let usage = try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: 10_000)
        #expect(usage.usedBytes == 1234)
        #expect(usage.freeBytes == 10_000 - 1234)
    }

    @Test func laterOpenersShareTheCounterInsteadOfRescanning() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write(100, to: "a")
        let first = try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: 1000)
        #expect(first.reserveAll(400))
        // A file that appears behind the mounts' backs is not rescanned: the counter is the truth.
        try write(5000, to: "sneaked-in")
        let second = try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: 1000)
        #expect(second.usedBytes == 500)

        // What one mount takes, the other can no longer have.
        #expect(second.reserveAll(500))
        #expect(!first.reserveAll(1))
        #expect(first.reserve(upTo: 10) == 0)
        first.release(300)
        #expect(second.usedBytes == 700)
        #expect(second.reserve(upTo: 1000) == 300, "a partial reservation takes exactly what is left")
        #expect(first.freeBytes == 0)
        // Releasing more than is used never wraps around.
        second.release(5000)
        #expect(first.usedBytes == 0)
    }

    @Test func allOrNothingReservationLeavesNoTraceWhenItFails() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let usage = try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: 100)
        #expect(usage.reserveAll(60))
        #expect(!usage.reserveAll(41))
        #expect(usage.usedBytes == 60)
        #expect(usage.reserveAll(40))
        #expect(usage.usedBytes == 100)
    }

    @Test func concurrentReservationsFromTwoHandlesNeverPassCapacity() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let capacity: UInt64 = 10_000
        let handles = [
            try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: capacity),
            try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: capacity),
        ]
        let granted = await withTaskGroup(of: UInt64.self) { group in
            for worker in 0..<8 {
                let usage = handles[worker % 2]
                group.addTask {
                    var total: UInt64 = 0
                    for _ in 0..<2000 { total += usage.reserve(upTo: 7) }
                    return total
                }
            }
            return await group.reduce(0, +)
        }
        #expect(granted == capacity)
        #expect(handles[0].usedBytes == capacity)
        #expect(handles[1].freeBytes == 0)
    }

    @Test func statfsFiguresRoundAndNeverOverstateFreeSpace() {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let provisioned = CapacityFigures.blocks(capacityBytes: 1 << 20, usedBytes: 5000, blockSize: 4096)
        #expect(provisioned.total == 256)
        #expect(provisioned.free == (1_048_576 - 5000) / 4096)
        let full = CapacityFigures.blocks(capacityBytes: 1 << 20, usedBytes: 2 << 20, blockSize: 4096)
        #expect(full.free == 0)
        let elastic = CapacityFigures.blocks(capacityBytes: CapacityFigures.elasticBytes, usedBytes: 0, blockSize: 4096)
        #expect(elastic.total * 4096 == 1 << 63, "8 EiB, as an EFS mount shows in df")
    }

    @Test func dataGenerationAndFlagsAreSharedBetweenHandles() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = try VolumeCounter(.closedWritableHandles, sharedStateDirectory: state)
        let b = try VolumeCounter(.closedWritableHandles, sharedStateDirectory: state)
        let before = b.current
        a.advance()
        #expect(b.current == before + 1)

        // The removed-names count is a counter of its own, in its own file.
        let removalsA = try VolumeCounter(.removedNames, sharedStateDirectory: state)
        let removalsB = try VolumeCounter(.removedNames, sharedStateDirectory: state)
        #expect(removalsB.current == 0)
        removalsA.advance()
        removalsA.advance()
        #expect(removalsB.current == 2)
        #expect(b.current == before + 1)

        let flagA = try SharedFlag(path: state + "/az-down")
        let flagB = try SharedFlag(path: state + "/az-down")
        let reachability = SharedFlagReachability(flags: [flagB])
        #expect(reachability.isReachable)
        flagA.set(true)
        #expect(!reachability.isReachable)
        flagA.set(false)
        #expect(reachability.isReachable)
    }

    @Test func aCorruptOrTruncatedStateFileIsReinitialised() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write(42, to: "a")
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: state + "/" + VolumeUsage.fileName))
        let usage = try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: 100)
        #expect(usage.usedBytes == 42)
    }

    @Test func anUnusableStateDirectoryIsAnErrorWithThePath() {
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect {
            _ = try VolumeUsage(sharedStateDirectory: "/nonexistent/berth", backingDirectory: "/tmp", capacityBytes: 1)
        } throws: { error in
            "\(error)".contains("/nonexistent/berth/capacity-usage")
        }
    }
}
