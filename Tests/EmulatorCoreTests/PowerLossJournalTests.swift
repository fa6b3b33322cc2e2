import Foundation
import Glibc
import StorageCatalog
import Synchronization
import Testing
@testable import EmulatorCore

/// The power-loss undo journal on a real directory, driven as the mount server drives it (each hook
/// next to the system call it precedes or follows), without mounting: after `apply`, exactly what had
/// been made durable is there.
@Suite struct PowerLossJournalTests {
    /// A volume's data and shared directories in a temporary directory, and a journal.
    final class Fixture {
        let root: String
        let data: Int32
        let journal: PowerLossJournal

        init(_ rules: PowerLossRules = .forService(.ebs)) throws {
            root = NSTemporaryDirectory() + "berth-powerloss-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/shared", withIntermediateDirectories: true)
            data = open(root + "/data", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            journal = try PowerLossJournal(sharedStateDirectory: root + "/shared", name: PowerLossJournal.nextName(), rules: rules)
        }

        deinit {
            close(data)
            try? FileManager.default.removeItem(atPath: root)
        }

        var dataKey: InodeKey { Self.key(data) }

        static func key(_ fd: Int32) -> InodeKey {
            var st = stat()
            fstat(fd, &st)
            return InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        }

        func path(_ name: String) -> String { root + "/data/" + name }
        func contents(_ name: String) -> [UInt8]? { FileManager.default.contents(atPath: path(name)).map(Array.init) }
        func put(_ name: String, _ bytes: [UInt8]) { _ = FileManager.default.createFile(atPath: path(name), contents: Data(bytes)) }
        func names() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: root + "/data")) ?? []).sorted() }
        func inode(_ name: String) -> UInt64? {
            var st = stat()
            return lstat(path(name), &st) == 0 ? UInt64(st.st_ino) : nil
        }

        /// write(2) at `offset` as the mount does: the journal first.
        func write(_ fd: Int32, _ bytes: [UInt8], at offset: UInt64) {
            journal.willWrite(fd, key: Self.key(fd), offset: offset, length: UInt64(bytes.count))
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            #expect(written == bytes.count)
        }
    }

    static func pattern(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) &+ seed } }

    @Test func overwritesAndAppendsSinceTheLastSyncAreTakenBack() throws {
        let f = try Fixture()
        let original = Self.pattern(3 * 4096 + 100, seed: 1)
        f.put("file", original)
        let fd = open(f.path("file"), O_RDWR | O_CLOEXEC)
        defer { close(fd) }
        f.write(fd, Self.pattern(1000, seed: 9), at: 5000)            // inside block 1
        f.write(fd, Self.pattern(9000, seed: 3), at: UInt64(original.count))  // append
        f.write(fd, Self.pattern(4096, seed: 5), at: 0)               // block 0
        f.write(fd, Self.pattern(10, seed: 6), at: 2)                 // block 0 again: saved once
        f.write(fd, Self.pattern(200, seed: 8), at: 3 * 4096 + 50)    // straddles the synced end
        #expect(f.contents("file") != original)
        let outcome = f.journal.apply()
        #expect(outcome.filesReverted == 1 && outcome.failures == 0)
        #expect(f.contents("file") == original)
        #expect(!f.journal.tracks(Fixture.key(fd)))
    }

    @Test func syncedDataIsKept() throws {
        let f = try Fixture()
        f.put("file", Self.pattern(5000, seed: 1))
        let fd = open(f.path("file"), O_RDWR | O_CLOEXEC)
        defer { close(fd) }
        f.write(fd, Self.pattern(3000, seed: 2), at: 4000)
        #expect(fsync(fd) == 0)
        f.journal.synced(Fixture.key(fd))
        let synced = try #require(f.contents("file"))
        f.write(fd, Self.pattern(100, seed: 4), at: 100)
        f.write(fd, Self.pattern(100, seed: 4), at: 7000)
        f.journal.apply()
        #expect(f.contents("file") == synced)
    }

    @Test func truncationsAndHolesAreTakenBack() throws {
        let f = try Fixture()
        let original = Self.pattern(20_000, seed: 3)
        f.put("file", original)
        let fd = open(f.path("file"), O_RDWR | O_CLOEXEC)
        defer { close(fd) }
        f.journal.willTruncate(fd, key: Fixture.key(fd), to: 10)
        #expect(ftruncate(fd, 10) == 0)
        f.write(fd, Self.pattern(50, seed: 7), at: 30_000)
        f.journal.willAllocate(fd, key: Fixture.key(fd), mode: AllocateMode.punchHole | AllocateMode.keepSize, offset: 0, length: 8192)
        try DirectoryStore(borrowingRoot: f.data).allocate(fd, mode: AllocateMode.punchHole | AllocateMode.keepSize, offset: 0, length: 8192)
        f.journal.apply()
        #expect(f.contents("file") == original)
    }

    @Test func aFileMadeAfterTheLastSyncIsEmptiedAndItsNameRemoved() throws {
        let f = try Fixture()
        let mark = f.journal.beginCreate(Array("new".utf8), in: f.data, key: f.dataKey, flags: O_CREAT | O_EXCL)
        let fd = openat(f.data, "new", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        f.journal.finish(mark, succeeded: fd >= 0)
        defer { close(fd) }
        f.write(fd, Self.pattern(10_000, seed: 1), at: 0)
        #expect(fsync(fd) == 0)
        f.journal.synced(Fixture.key(fd))  // its data is durable; its name is not (no directory fsync)
        #expect(f.names() == ["new"])
        let outcome = f.journal.apply()
        #expect(outcome.namesReverted == 1)
        #expect(f.names().isEmpty)
    }

    @Test func nameChangesSinceTheDirectoryFsyncAreTakenBack() throws {
        let f = try Fixture()
        f.put("old", Self.pattern(100, seed: 1))
        f.put("a", Self.pattern(200, seed: 2))
        f.put("b", Self.pattern(300, seed: 3))
        #expect(mkdirat(f.data, "empty", 0o750) == 0)
        let before = ["a", "b", "old"].map { ($0, f.inode($0), f.contents($0)) }
        // unlink old
        var mark = f.journal.beginRemove(Array("old".utf8), in: f.data, key: f.dataKey, isDirectory: false)
        f.journal.finish(mark, succeeded: unlinkat(f.data, "old", 0) == 0)
        // rename a over b
        mark = f.journal.beginRename(Array("a".utf8), in: f.data, key: f.dataKey, to: Array("b".utf8), in: f.data,
                                     newKey: f.dataKey, flags: [])
        f.journal.finish(mark, succeeded: renameat(f.data, "a", f.data, "b") == 0)
        // rmdir empty, mkdir made, symlink link
        mark = f.journal.beginRemove(Array("empty".utf8), in: f.data, key: f.dataKey, isDirectory: true)
        f.journal.finish(mark, succeeded: unlinkat(f.data, "empty", AT_REMOVEDIR) == 0)
        mark = f.journal.beginNewName(Array("made".utf8), in: f.data, key: f.dataKey, isDirectory: true)
        f.journal.finish(mark, succeeded: mkdirat(f.data, "made", 0o700) == 0)
        mark = f.journal.beginNewName(Array("link".utf8), in: f.data, key: f.dataKey, isDirectory: false)
        f.journal.finish(mark, succeeded: symlinkat("/etc/passwd", f.data, "link") == 0)
        // A failed change records nothing.
        mark = f.journal.beginNewName(Array("made".utf8), in: f.data, key: f.dataKey, isDirectory: true)
        f.journal.finish(mark, succeeded: mkdirat(f.data, "made", 0o700) == 0)
        #expect(f.names() == ["b", "link", "made"])
        #expect(f.journal.pendingNameChanges == 5)

        let outcome = f.journal.apply()
        #expect(outcome.namesReverted == 5 && outcome.failures == 0)
        #expect(f.names() == ["a", "b", "empty", "old"])
        for (name, inode, contents) in before {
            #expect(f.inode(name) == inode, "\(name) is the same file again")
            #expect(f.contents(name) == contents)
        }
        var st = stat()
        #expect(lstat(f.path("empty"), &st) == 0 && st.st_mode & 0o7777 == 0o750)
        #expect(f.journal.pendingNameChanges == 0)
        #expect(lstat("/etc/passwd", &st) == 0 && st.st_mode & S_IFMT == S_IFREG, "the link was removed, not its target")
    }

    /// A name made and removed again between two directory fsyncs was never durable: nothing is held for it,
    /// and a power loss leaves the directory as at its fsync.
    @Test func aNameMadeAndRemovedSinceTheFsyncLeavesNothingBehind() throws {
        let f = try Fixture()
        f.put("kept", [1])
        for round in 0..<3 {
            var mark = f.journal.beginCreate(Array("tmp".utf8), in: f.data, key: f.dataKey, flags: O_CREAT)
            let fd = openat(f.data, "tmp", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            f.journal.finish(mark, succeeded: fd >= 0)
            close(fd)
            mark = f.journal.beginRemove(Array("tmp".utf8), in: f.data, key: f.dataKey, isDirectory: false)
            f.journal.finish(mark, succeeded: unlinkat(f.data, "tmp", 0) == 0)
            #expect(f.journal.pendingNameChanges == 0, "round \(round)")
        }
        // Made, renamed, removed: the rename makes it no longer fresh, so its removal is held.
        var mark = f.journal.beginCreate(Array("a".utf8), in: f.data, key: f.dataKey, flags: O_CREAT | O_EXCL)
        let fd = openat(f.data, "a", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        f.journal.finish(mark, succeeded: fd >= 0)
        close(fd)
        mark = f.journal.beginRename(Array("a".utf8), in: f.data, key: f.dataKey, to: Array("kept".utf8), in: f.data,
                                     newKey: f.dataKey, flags: [])
        f.journal.finish(mark, succeeded: renameat(f.data, "a", f.data, "kept") == 0)
        mark = f.journal.beginRemove(Array("kept".utf8), in: f.data, key: f.dataKey, isDirectory: false)
        f.journal.finish(mark, succeeded: unlinkat(f.data, "kept", 0) == 0)
        #expect(f.journal.pendingNameChanges == 3)
        f.journal.apply()
        #expect(f.names() == ["kept"])
        #expect(f.contents("kept") == [1])
    }

    @Test func aDirectoryFsyncKeepsItsNames() throws {
        let f = try Fixture()
        try FileManager.default.createDirectory(atPath: f.path("sub"), withIntermediateDirectories: false)
        let sub = openat(f.data, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(sub) }
        var mark = f.journal.beginCreate(Array("kept".utf8), in: f.data, key: f.dataKey, flags: O_CREAT)
        var fd = openat(f.data, "kept", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        f.journal.finish(mark, succeeded: fd >= 0)
        close(fd)
        mark = f.journal.beginCreate(Array("lost".utf8), in: sub, key: Fixture.key(sub), flags: O_CREAT)
        fd = openat(sub, "lost", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        f.journal.finish(mark, succeeded: fd >= 0)
        close(fd)
        // O_CREAT of an existing name makes no new name.
        #expect(f.journal.beginCreate(Array("kept".utf8), in: f.data, key: f.dataKey, flags: O_CREAT) == nil)
        #expect(fsync(f.data) == 0)
        f.journal.directorySynced(f.dataKey)
        f.journal.apply()
        #expect(f.names() == ["kept", "sub"])
        #expect((try? FileManager.default.contentsOfDirectory(atPath: f.path("sub"))) == [])
    }

    @Test func onEFSACloseMakesDataDurableAndNamesAreDurableAtOnce() throws {
        let f = try Fixture(.forService(.efs))
        f.put("file", Self.pattern(5000, seed: 1))
        #expect(f.journal.beginCreate(Array("x".utf8), in: f.data, key: f.dataKey, flags: O_CREAT | O_EXCL) == nil)
        #expect(f.journal.beginRemove(Array("file".utf8), in: f.data, key: f.dataKey, isDirectory: false) == nil)
        let fd = open(f.path("file"), O_RDWR | O_CLOEXEC)
        f.write(fd, Self.pattern(100, seed: 2), at: 0)
        let key = Fixture.key(fd)
        close(fd)
        f.journal.closed(key, wrote: true)
        let closed = try #require(f.contents("file"))
        let again = open(f.path("file"), O_RDWR | O_CLOEXEC)
        defer { close(again) }
        f.write(again, Self.pattern(100, seed: 3), at: 200)
        f.journal.apply()
        #expect(f.contents("file") == closed)
    }

    /// O_DIRECT: on efs durable at once; on ebs an overwrite reaches the device (kept) while what it
    /// appends is not.
    @Test func directWrites() throws {
        let f = try Fixture()
        let original = Self.pattern(8192, seed: 1)
        f.put("file", original)
        let fd = open(f.path("file"), O_RDWR | O_CLOEXEC)
        defer { close(fd) }
        f.write(fd, Self.pattern(4096, seed: 2), at: 0)  // buffered: saved
        let direct = Self.pattern(4096, seed: 3)
        f.journal.willWrite(fd, key: Fixture.key(fd), offset: 0, length: 4096, direct: true)
        #expect(direct.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, 0) } == 4096)
        f.journal.willWrite(fd, key: Fixture.key(fd), offset: 8192, length: 4096, direct: true)
        #expect(direct.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, 8192) } == 4096)
        f.journal.apply()
        #expect(f.contents("file") == direct + Array(original[4096...]), "the direct overwrite stays, its append goes")

        let efs = try Fixture(.forService(.efs))
        efs.put("file", original)
        let other = open(efs.path("file"), O_RDWR | O_CLOEXEC)
        defer { close(other) }
        efs.journal.willWrite(other, key: Fixture.key(other), offset: 8192, length: 4096, direct: true)
        #expect(direct.withUnsafeBytes { pwrite(other, $0.baseAddress, 4096, 8192) } == 4096)
        efs.journal.apply()
        #expect(efs.contents("file") == original + direct)
    }

    @Test func lustreKeepsNamesButNotClosedData() {
        let rules = PowerLossRules.forService(.fsxLustre)
        #expect(!rules.dataDurableOnClose && rules.namesDurableAtOnce)
        let ebs = PowerLossRules.forService(.ebs)
        #expect(!ebs.dataDurableOnClose && !ebs.namesDurableAtOnce)
        for type in [ServiceID.efs, .fsxWindows, .fsxOpenZFS, .fsxONTAP] {
            #expect(PowerLossRules.forService(type).dataDurableOnClose)
        }
    }

    @Test func aRequestIsAnsweredByApplyingTheJournal() throws {
        let f = try Fixture()
        f.put("file", Self.pattern(100, seed: 1))
        let fd = open(f.path("file"), O_RDWR | O_CLOEXEC)
        defer { close(fd) }
        f.write(fd, Self.pattern(100, seed: 2), at: 100)
        #expect(f.journal.answerRequest(drain: {}) == nil)
        let shared = f.root + "/shared"
        let answered = Atomic<Bool>(false)
        let thread = Thread {
            let answer = PowerLossJournal.request(sharedStateDirectory: shared, pid: getpid(), timeout: 10)
            answered.store(answer == .applied, ordering: .sequentiallyConsistent)
        }
        thread.start()
        var outcome: PowerLossJournal.Outcome?
        for _ in 0..<2000 where outcome == nil {
            outcome = f.journal.answerRequest(drain: {})
            usleep(1000)
        }
        #expect(outcome?.filesReverted == 1)
        for _ in 0..<2000 where !answered.load(ordering: .sequentiallyConsistent) { usleep(1000) }
        let wasAnswered = answered.load(ordering: .sequentiallyConsistent)
        #expect(wasAnswered)
        #expect(f.contents("file") == Self.pattern(100, seed: 1))
        #expect(PowerLossJournal.request(sharedStateDirectory: f.root + "/nothing", pid: getpid()) == .noJournal)
    }
}
