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

    /// Allocated bytes of the backing file at `relative`, as `du` counts them.
    func allocated(_ relative: String) -> UInt64 {
        var st = stat()
        guard stat(backing + "/" + relative, &st) == 0 else { return 0 }
        return UInt64(st.st_blocks) * 512
    }

    @Test func firstOpenScansAllocatedBlocksCountingEachInodeOnce() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write(1000, to: "a")
        try write(234, to: "sub/b")
        #expect(link(backing + "/a", backing + "/sub/a-again") == 0)
        #expect(symlink("a", backing + "/sub/link") == 0)
        // A sparse file: a megabyte long, no blocks.
        let sparse = open(backing + "/sparse", O_CREAT | O_WRONLY, 0o644)
        #expect(sparse >= 0 && ftruncate(sparse, 1 << 20) == 0)
        close(sparse)
        let expected = allocated("a") + allocated("sub/b") + allocated("sparse")
        #expect(allocated("a") >= 1000 && allocated("sparse") == 0)
        let usage = try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: 100_000)
        #expect(usage.usedBytes == expected)
        #expect(usage.freeBytes == 100_000 - expected)
    }

    @Test func laterOpenersShareTheCounterInsteadOfRescanning() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write(0, to: "a")
        let first = try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: 1000)
        #expect(first.reserveAll(500))
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
        let usage = try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: 100_000)
        #expect(usage.usedBytes == allocated("a") && allocated("a") > 0)
    }

    @Test func anUnusableStateDirectoryIsAnErrorWithThePath() {
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect {
            _ = try VolumeUsage(sharedStateDirectory: "/nonexistent/berth", backingDirectory: "/tmp", capacityBytes: 1)
        } throws: { error in
            "\(error)".contains("/nonexistent/berth/capacity-usage")
        }
    }

    // MARK: - The ledger: reserve, settle, release (CapacityLedger.swift), without a mount

    func emptyVolume(_ capacity: UInt64) throws -> VolumeUsage {
        try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: capacity)
    }

    @Test func writeBoundsCountOnlyBlocksTheFileMayNotHave() {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dense = Allocation(allocated: 8192, size: 5000)
        #expect(dense.newBlocksBound(offset: 0, length: 5000) == 0, "an overwrite needs no block")
        #expect(dense.newBlocksBound(offset: 6000, length: 2000) == 0, "the last block is there already")
        #expect(dense.newBlocksBound(offset: 5000, length: 4000) == 4096)
        #expect(dense.newBlocksBound(offset: 20_000, length: 1) == 4096, "past the end: one block, the gap is a hole")
        let sparse = Allocation(allocated: 4096, size: 1 << 20)
        #expect(sparse.newBlocksBound(offset: 100, length: 10) == 4096, "of a sparse file nothing is assumed")
        #expect(sparse.newBlocksBound(offset: 4000, length: 200) == 8192)
        #expect(dense.fittingLength(offset: 5000, length: 10_000, granted: 4096) == 8192 - 5000 + 4096)
        #expect(dense.fittingLength(offset: 8192, length: 10_000, granted: 4095) == 0)
        #expect(dense.fittingLength(offset: 4000, length: 10_000, granted: 0) == 8192 - 4000)
    }

    @Test func aWritePastCapacityIsShortThenENOSPCAndOverwritesStillFit() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let usage = try emptyVolume(16_384)
        let empty = Allocation(allocated: 0, size: 0)
        let first = try #require(usage.reserveWrite(empty, offset: 0, length: 20_000))
        #expect(first.length == 16_384 && first.reserved == 16_384, "short: the blocks that fit")
        #expect(usage.usedBytes == 16_384, "a reservation never passes capacity")
        let full = Allocation(allocated: 16_384, size: 16_384)
        usage.settle(first, after: full)
        #expect(usage.usedBytes == 16_384)
        #expect(usage.reserveWrite(full, offset: 16_384, length: 1) == nil, "no byte fits: ENOSPC")
        #expect(usage.usedBytes == 16_384, "a refused write takes nothing")
        let overwrite = try #require(usage.reserveWrite(full, offset: 100, length: 8000))
        #expect(overwrite.length == 8000 && overwrite.reserved == 0, "blocks the file has cost nothing")
        usage.settle(overwrite, after: full)
        #expect(usage.usedBytes == 16_384)
    }

    @Test func settleCountsWhatTheFileReallyGainedOrLost() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let usage = try emptyVolume(1 << 20)
        let before = Allocation(allocated: 0, size: 0)
        // Reserved two blocks, the file took one: the other goes back.
        let write = try #require(usage.reserveWrite(before, offset: 4000, length: 200))
        #expect(write.reserved == 8192)
        usage.settle(write, after: Allocation(allocated: 4096, size: 4200))
        #expect(usage.usedBytes == 4096)
        // The backing store took more than reserved: counted, up to the blocks the write touched
        // (4096..<12288); beyond them it is the file system's own, seen at the next scan.
        let small = try #require(usage.reserveWrite(Allocation(allocated: 4096, size: 4200), offset: 4200, length: 4000))
        #expect(small.reserved == 8192 && small.growthLimit == 8192)
        usage.settle(small, after: Allocation(allocated: 16_384, size: 8200))
        #expect(usage.usedBytes == 12_288)
        // A file measured with fewer blocks than it has (ext4 while it writes back delayed allocation)
        // makes a write look as if it took the whole file: counted as the blocks it touched at most.
        let measuredLow = try #require(usage.reserveWrite(Allocation(allocated: 0, size: 12_288), offset: 12_288, length: 4096))
        usage.settle(measuredLow, after: Allocation(allocated: 16_384, size: 16_384))
        #expect(usage.usedBytes == 16_384)
        // And a write never frees: measured with fewer blocks afterwards, it counts nothing.
        let measuredLowAfter = try #require(usage.reserveWrite(Allocation(allocated: 16_384, size: 16_384), offset: 16_384, length: 100))
        usage.settle(measuredLowAfter, after: Allocation(allocated: 0, size: 16_484))
        #expect(usage.usedBytes == 16_384)
        // A truncate, growing or not, allocates nothing; shrinking frees what the file dropped.
        let grow = usage.unreserved(Allocation(allocated: 16_384, size: 8200))
        usage.settle(grow, after: Allocation(allocated: 16_384, size: 10 << 30))
        #expect(usage.usedBytes == 16_384, "a growing truncate past capacity makes a hole")
        let shrink = usage.unreserved(Allocation(allocated: 16_384, size: 10 << 30))
        usage.settle(shrink, after: Allocation(allocated: 4096, size: 100))
        #expect(usage.usedBytes == 4096)
        // A file that could not be measured afterwards: only the reservation goes back.
        let unknown = try #require(usage.reserveWrite(Allocation(allocated: 4096, size: 100), offset: 4096, length: 4096))
        usage.settle(unknown, after: nil)
        #expect(usage.usedBytes == 4096)
    }

    @Test func hardLinksShareTheirBlocksAndTheLastNameFreesThem() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let usage = try emptyVolume(1 << 20)
        #expect(usage.reserveAll(3 * 8192))
        let linked = Allocation(allocated: 8192, size: 8192, links: 2)
        usage.removedName(of: linked)
        #expect(usage.usedBytes == 3 * 8192, "another name keeps the blocks")
        usage.removedName(of: Allocation(allocated: 8192, size: 8192, links: 1))
        #expect(usage.usedBytes == 2 * 8192, "the last name frees them")
        // O_TRUNC through one of two names empties the one inode both share: freed once.
        let truncate = usage.unreserved(linked)
        usage.settle(truncate, after: Allocation(allocated: 0, size: 0, links: 2))
        #expect(usage.usedBytes == 8192)
        usage.removedName(of: Allocation(allocated: 4096, size: 10, isRegular: false))
        #expect(usage.usedBytes == 8192, "directories and links are not counted")
    }

    @Test func anUnlinkedOpenFileCostsTheVolumeNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let usage = try emptyVolume(1 << 20)
        let orphan = Allocation(allocated: 8192, size: 8192, links: 0)
        #expect(orphan.charged == 0)
        let write = try #require(usage.reserveWrite(orphan, offset: 8192, length: 4096))
        usage.settle(write, after: Allocation(allocated: 12_288, size: 12_288, links: 0))
        #expect(usage.usedBytes == 0)
    }

    @Test func anAllocationIsAllOrNothingAndAPunchedHoleFrees() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let usage = try emptyVolume(16_384)
        let empty = Allocation(allocated: 0, size: 0)
        #expect(usage.reserveAllocation(empty, offset: 0, length: 20_000) == nil)
        #expect(usage.usedBytes == 0)
        let fits = try #require(usage.reserveAllocation(empty, offset: 0, length: 12_000))
        usage.settle(fits, after: Allocation(allocated: 12_288, size: 12_000))
        #expect(usage.usedBytes == 12_288)
        #expect(usage.reserveAllocation(Allocation(allocated: 12_288, size: 12_000), offset: 0, length: 12_000, insert: true) == nil)
        let punch = usage.unreserved(Allocation(allocated: 12_288, size: 12_000))
        usage.settle(punch, after: Allocation(allocated: 4096, size: 12_000))
        #expect(usage.usedBytes == 4096)
    }

    @Test func aSparseFilesHolesAreFoundAndOnlyTheyCost() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fd = open(backing + "/sparse", O_CREAT | O_RDWR, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        let block = [UInt8](repeating: 7, count: 4096)
        #expect(pwrite(fd, block, 4096, 0) == 4096)
        #expect(ftruncate(fd, 1 << 20) == 0)
        #expect(pwrite(fd, block, 4096, 512 << 10) == 4096)
        let file = try #require(Allocation(fd: fd))
        #expect(file.isSparse && file.charged == 8192)
        let holes = try #require(file.holes(fd: fd, offset: 0, length: 1 << 20))
        #expect(holes == [4096..<(512 << 10), (516 << 10)..<(1 << 20)])
        // Overwriting the written blocks costs nothing, on a full volume too; the holes cost their blocks.
        let usage = try emptyVolume(file.charged)
        #expect(usage.usedBytes == file.charged)
        let overwrite = try #require(usage.reserveWrite(file, offset: 100, length: 3000,
                                                        holes: file.holes(fd: fd, offset: 100, length: 3000)))
        #expect(overwrite.reserved == 0 && overwrite.length == 3000)
        usage.settle(overwrite, after: file)
        let across = file.holes(fd: fd, offset: 0, length: 8192)
        #expect(file.newBlocksBound(offset: 0, length: 8192, holes: across) == 4096)
        #expect(usage.reserveWrite(file, offset: 0, length: 8192, holes: across)?.length == 4096,
                "short: up to the hole")
        #expect(usage.reserveWrite(file, offset: 4096, length: 1, holes: file.holes(fd: fd, offset: 4096, length: 1)) == nil)
        // Past the end of file is a hole, but not the block holding the end.
        #expect(ftruncate(fd, 600_000) == 0)
        let shorter = try #require(Allocation(fd: fd))
        #expect(shorter.newBlocksBound(offset: 599_000, length: 2000,
                                       holes: shorter.holes(fd: fd, offset: 599_000, length: 2000)) == 4096)
    }
}
