import Foundation
import Testing
@testable import EmulatorCore

/// docs/SEMANTICS.md, capacity: a provisioned volume counts allocated blocks, as the services' own
/// file systems do (sparse files allowed, growing truncates succeed, writes that need blocks past
/// capacity fail with ENOSPC, short where part fits, `df` agrees with `du`), against the core on both
/// stores.
@Suite struct SemanticsCapacityTests {
    static let capacity: UInt64 = 256 << 10

    /// `df`'s used blocks (total - free) equal `du`'s, and the counter equals both.
    func expectDfEqualsDu(_ volume: any TestVolume, _ comment: Comment? = nil) throws {
        let space = try volume.statfs()
        let du = try volume.du()
        #expect((space.totalBlocks - space.freeBlocks) * space.blockSize == du, comment)
        #expect(volume.usage?.usedBytes == du, comment)
    }

    @Test(arguments: StoreKind.allCases)
    func growingTruncateMakesASparseFileAndNeverAnswersENOSPC(kind: StoreKind) throws {
        let volume = try makeVolume(kind, VolumeSetup(capacityBytes: Self.capacity))
        defer { volume.remove() }
        try volume.put("/sparse", [])
        // Far past capacity (pjdfstest truncate/12, ftruncate/12): a hole, no blocks.
        try volume.truncate("/sparse", 1 << 30)
        let handle = try volume.openNode("/sparse", flags: O_RDWR)
        try volume.ftruncate(handle, 2 << 30)
        #expect(try volume.lstat("/sparse").size == 2 << 30)
        #expect(try volume.lstat("/sparse").allocated == 0)
        #expect(volume.usage?.usedBytes == 0)
        // A write in the middle needs one block: it fits.
        #expect(try volume.write(handle, at: 1 << 29, Array("x".utf8)) == 1)
        #expect(volume.usage?.usedBytes == 4096)
        try expectDfEqualsDu(volume)
        volume.close(handle)
    }

    @Test(arguments: StoreKind.allCases)
    func aWriteNeedingBlocksPastCapacityIsShortThenENOSPC(kind: StoreKind) throws {
        let volume = try makeVolume(kind, VolumeSetup(capacityBytes: Self.capacity))
        defer { volume.remove() }
        let handle = try volume.create("/big")
        // 200 KiB fit; 100 more are asked for: 56 KiB of it fits, block-aligned.
        #expect(try volume.write(handle, at: 0, [UInt8](repeating: 1, count: 200 << 10)) == 200 << 10)
        #expect(try volume.write(handle, at: 200 << 10, [UInt8](repeating: 2, count: 100 << 10)) == 56 << 10)
        #expect(volume.usage?.freeBytes == 0)
        #expect(volume.errno { try volume.write(handle, at: 256 << 10, [3]) } == ENOSPC)
        // Overwriting blocks the file has costs nothing, on a full volume too.
        #expect(try volume.write(handle, at: 0, [UInt8](repeating: 9, count: 8192)) == 8192)
        #expect(try volume.read(handle, at: 0, count: 2) == [9, 9])
        try expectDfEqualsDu(volume)
        volume.close(handle)
    }

    @Test(arguments: StoreKind.allCases)
    func fallocatePastCapacityIsAllOrNothing(kind: StoreKind) throws {
        let volume = try makeVolume(kind, VolumeSetup(capacityBytes: Self.capacity))
        defer { volume.remove() }
        let handle = try volume.create("/f")
        #expect(volume.errno { try volume.fallocate(handle, mode: 0, 0, 512 << 10) } == ENOSPC)
        #expect(try volume.lstat("/f").allocated == 0)
        #expect(volume.usage?.usedBytes == 0)
        try volume.fallocate(handle, mode: 0, 0, 128 << 10)
        #expect(volume.usage?.usedBytes == 128 << 10)
        // Punching a hole frees its blocks.
        try volume.fallocate(handle, mode: AllocateMode.punchHole | AllocateMode.keepSize, 0, 64 << 10)
        #expect(volume.usage?.usedBytes == 64 << 10)
        try expectDfEqualsDu(volume)
        volume.close(handle)
    }

    /// Issue 11: a create with O_TRUNC of a hard-linked file left its freed bytes counted as used.
    @Test(arguments: StoreKind.allCases)
    func truncatingOpensFreeAHardLinkedFilesBlocksOnce(kind: StoreKind) throws {
        let volume = try makeVolume(kind, VolumeSetup(capacityBytes: Self.capacity))
        defer { volume.remove() }
        try volume.put("/a", [UInt8](repeating: 1, count: 64 << 10))
        try volume.link("/a", "/b")
        #expect(volume.usage?.usedBytes == 64 << 10)  // counted once for two names
        let created = try volume.create("/b", flags: O_RDWR | O_TRUNC)
        volume.close(created)
        #expect(volume.usage?.usedBytes == 0)
        try volume.put("/a", [UInt8](repeating: 1, count: 32 << 10))
        let opened = try volume.open("/b", flags: O_WRONLY | O_TRUNC)
        volume.close(opened)
        #expect(volume.usage?.usedBytes == 0)
        try expectDfEqualsDu(volume)
    }

    @Test(arguments: StoreKind.allCases)
    func namesFreeBlocksOnlyWithTheLastOneAndRenameOverFreesTheTarget(kind: StoreKind) throws {
        let volume = try makeVolume(kind, VolumeSetup(capacityBytes: Self.capacity))
        defer { volume.remove() }
        try volume.put("/a", [UInt8](repeating: 1, count: 16 << 10))
        try volume.put("/b", [UInt8](repeating: 1, count: 32 << 10))
        try volume.link("/b", "/b2")
        try volume.rename("/a", "/b")  // b loses a name; b2 keeps its blocks
        #expect(volume.usage?.usedBytes == 48 << 10)
        try volume.rename("/b", "/b2")  // b2's last name: its blocks go
        #expect(volume.usage?.usedBytes == 16 << 10)
        try volume.link("/b2", "/c")
        try volume.rename("/b2", "/c")  // two names of one file: nothing changes
        #expect(try volume.entries("/").sorted() == ["b2", "c"])
        #expect(volume.usage?.usedBytes == 16 << 10)
        try volume.rename("/b2", "/c", flags: .exchange)
        #expect(volume.usage?.usedBytes == 16 << 10)
        try expectDfEqualsDu(volume)
    }

    /// Elastic volumes: no capacity, statfs reports 8 EiB.
    @Test(arguments: StoreKind.allCases)
    func elasticVolumesReportEightExbibytes(kind: StoreKind) throws {
        let volume = try makeVolume(kind)
        defer { volume.remove() }
        try volume.put("/f", [UInt8](repeating: 1, count: 1 << 20))
        let space = try volume.statfs()
        #expect(space.totalBlocks * space.blockSize == CapacityFigures.elasticBytes)
        #expect(space.freeBlocks < space.totalBlocks)
    }

    /// setattr's size goes through the capacity rule like truncate: shrinking frees, growing is a hole.
    @Test(arguments: StoreKind.allCases)
    func setattrSizeFollowsTheCapacityRule(kind: StoreKind) throws {
        let volume = try makeVolume(kind, VolumeSetup(capacityBytes: Self.capacity))
        defer { volume.remove() }
        try volume.put("/f", [UInt8](repeating: 1, count: 64 << 10))
        try volume.setSize("/f", 4096)
        #expect(volume.usage?.usedBytes == 4096)
        try volume.setSize("/f", 1 << 30)
        #expect(try volume.lstat("/f").size == 1 << 30)
        #expect(volume.usage?.usedBytes == 4096)
        try volume.chmod("/f", 0o600)
        #expect(try volume.lstat("/f").mode & 0o7777 == 0o600)
        try expectDfEqualsDu(volume)
    }
}
