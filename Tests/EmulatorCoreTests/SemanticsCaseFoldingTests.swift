import Foundation
import Testing
@testable import EmulatorCore

/// docs/SEMANTICS.md, FSx for Windows: case-insensitive, case-preserving names — every spelling is
/// the same entry, no two entries of a directory differ only in case — against the core on both
/// stores. Issue 11's random-sequence findings are here as regression sequences, each as it was shrunk.
@Suite struct SemanticsCaseFoldingTests {
    func windows(_ kind: StoreKind) throws -> any TestVolume {
        try makeVolume(kind, VolumeSetup(windowsNames: true, cachePolicy: .shared))
    }

    @Test(arguments: StoreKind.allCases)
    func everySpellingIsTheSameEntryAndKeepsItsFirstSpelling(kind: StoreKind) throws {
        let volume = try windows(kind)
        defer { volume.remove() }
        try volume.mkdir("/Reports")
        try volume.put("/Reports/Q1.txt", Array("one".utf8))
        #expect(try volume.contents("/REPORTS/q1.TXT") == Array("one".utf8))
        #expect(try volume.spelling("/reports/Q1.TXT") == "Q1.txt")
        #expect(volume.errno { try volume.mkdir("/reports") } == EEXIST)
        #expect(volume.errno { try volume.create("/reports/q1.txt", flags: O_RDWR | O_EXCL) } == EEXIST)
        // O_CREAT without O_EXCL opens the existing file under its own spelling.
        try volume.put("/REPORTS/q1.txt", Array("two".utf8))
        #expect(try volume.entries("/Reports") == ["Q1.txt"])
        #expect(try volume.contents("/Reports/Q1.txt") == Array("two".utf8))
        // A case-only rename changes the spelling.
        try volume.rename("/Reports/q1.TXT", "/Reports/Q1.TXT")
        #expect(try volume.entries("/Reports") == ["Q1.TXT"])
    }

    /// Issue 11: `create a; write via A` → `lstat a` showed size 0 (one mount, for up to 1 s).
    @Test(arguments: StoreKind.allCases)
    func aWriteThroughOneSpellingIsSeenThroughAnother(kind: StoreKind) throws {
        let volume = try windows(kind)
        defer { volume.remove() }
        volume.close(try volume.create("/a"))
        let handle = try volume.open("/A", flags: O_WRONLY)
        #expect(try volume.write(handle, at: 0, Array("hello".utf8)) == 5)
        volume.close(handle)
        #expect(try volume.lstat("/a").size == 5)
    }

    /// Issue 11: `mkdir a; rmdir A; unlink a` → EISDIR; and `symlink zz a; unlink A; readlink a` → zz.
    @Test(arguments: StoreKind.allCases)
    func aRemovalThroughOneSpellingRemovesTheEntry(kind: StoreKind) throws {
        let volume = try windows(kind)
        defer { volume.remove() }
        try volume.mkdir("/a")
        try volume.rmdir("/A")
        #expect(volume.errno { try volume.unlink("/a") } == ENOENT)
        try volume.symlink("zz", "/a")
        try volume.unlink("/A")
        #expect(volume.errno { try volume.readlink("/a") } == ENOENT)
        // A create lands at the name, not at the removed link's old target.
        volume.close(try volume.create("/a"))
        #expect(volume.errno { try volume.lstat("/zz") } == ENOENT)
        #expect(try volume.lstat("/a").type == .regular)
    }

    /// Issue 11: `rename e/a Q` over `q` replaced the target and then answered ENOENT. It succeeds,
    /// `Q` holds the source's data, the source is gone, nothing else changed.
    @Test(arguments: StoreKind.allCases)
    func renameThroughAnotherSpellingOverAnotherSpellingReplacesTheTarget(kind: StoreKind) throws {
        let volume = try windows(kind)
        defer { volume.remove() }
        try volume.mkdir("/e")
        try volume.put("/e/a", Array("source".utf8))
        try volume.put("/q", Array("target".utf8))
        try volume.rename("/E/A", "/Q")
        #expect(try volume.entries("/") == ["Q", "e"])
        #expect(try volume.entries("/e") == [])
        #expect(try volume.contents("/q") == Array("source".utf8))
    }

    /// Issue 11: `mkdir X; mkdir Q; mkdir Q/X; rename X q/X` answered ESTALE every time.
    @Test(arguments: StoreKind.allCases)
    func renameIntoADirectoryReachedThroughAnotherSpellingOverAnEmptyDirectory(kind: StoreKind) throws {
        let volume = try windows(kind)
        defer { volume.remove() }
        try volume.mkdir("/X")
        try volume.mkdir("/Q")
        try volume.mkdir("/Q/X")
        try volume.rename("/X", "/q/X")
        #expect(try volume.entries("/") == ["Q"])
        #expect(try volume.entries("/Q") == ["X"])
    }

    @Test(arguments: StoreKind.allCases)
    func renameFlagsMeetEveryOtherSpelling(kind: StoreKind) throws {
        let volume = try windows(kind)
        defer { volume.remove() }
        try volume.put("/one", Array("1".utf8))
        try volume.put("/Two", Array("2".utf8))
        #expect(volume.errno { try volume.rename("/one", "/TWO", flags: .noReplace) } == EEXIST)
        try volume.rename("/ONE", "/two", flags: .exchange)
        // Swapped entries keep the names' spellings.
        #expect(try volume.entries("/") == ["Two", "one"])
        #expect(try volume.contents("/one") == Array("2".utf8))
        #expect(volume.errno { try volume.rename("/one", "/three", flags: .exchange) } == ENOENT)
        #expect(volume.errno { try volume.rename("/missing", "/three") } == ENOENT)
    }

    /// Links and removals on a case-insensitive volume with capacity: a removal through another
    /// spelling frees the blocks of the entry it removes.
    @Test(arguments: StoreKind.allCases)
    func removalsThroughOtherSpellingsFreeCapacity(kind: StoreKind) throws {
        let volume = try makeVolume(kind, VolumeSetup(windowsNames: true, capacityBytes: 1 << 20))
        defer { volume.remove() }
        try volume.put("/Data.bin", [UInt8](repeating: 1, count: 64 << 10))
        try volume.link("/DATA.BIN", "/copy")
        #expect(volume.errno { try volume.link("/data.bin", "/COPY") } == EEXIST)
        try volume.unlink("/data.BIN")
        #expect(volume.usage?.usedBytes == 64 << 10)
        try volume.unlink("/Copy")
        #expect(volume.usage?.usedBytes == 0)
        try volume.put("/x", [UInt8](repeating: 1, count: 8 << 10))
        try volume.put("/y", [UInt8](repeating: 1, count: 8 << 10))
        try volume.rename("/X", "/Y")
        #expect(volume.usage?.usedBytes == 8 << 10)
    }
}
