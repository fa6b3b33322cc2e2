import Foundation
import Testing
@testable import EmulatorCore
#if canImport(Glibc)
import Glibc
#endif

/// The case index of FSx for Windows directories, reached without mounting: two instances over one
/// shared directory stand for two mount servers.
@Suite struct CaseFoldedDirectoriesTests {
    struct Fixture {
        let root: String
        var shared: String { root + "/shared" }
        var directory: String { root + "/dir" }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-fold-\(UUID().uuidString)").path
            for path in [root + "/shared", root + "/dir"] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            }
        }

        func touch(_ name: String) { _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data()) }
        func remove(_ name: String) { try? FileManager.default.removeItem(atPath: directory + "/" + name) }

        /// The directory's descriptor and identity, as a mount server has them.
        func open() -> (Int32, InodeKey) {
            let fd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            var st = stat()
            fstat(fd, &st)
            return (fd, InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)))
        }

        func cleanUp() { try? FileManager.default.removeItem(atPath: root) }
    }

    func spelling(_ folding: CaseFoldedDirectories, _ name: String, _ fd: Int32, _ key: InodeKey) -> String? {
        folding.spelling(of: Array(name.utf8), in: fd, key: key).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func findsAnySpellingAndPrefersTheExactOne() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        fixture.touch("Report.TXT")
        let (fd, key) = fixture.open()
        defer { close(fd) }
        let folding = try CaseFoldedDirectories(sharedStateDirectory: fixture.shared, rules: WindowsNameRules())
        #expect(spelling(folding, "report.txt", fd, key) == "Report.TXT")
        #expect(spelling(folding, "Report.TXT", fd, key) == "Report.TXT")
        #expect(spelling(folding, "other.txt", fd, key) == nil)
    }

    @Test func ownChangesUpdateTheIndexAndOtherServersChangesInvalidateIt() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let (fd, key) = fixture.open()
        defer { close(fd) }
        let serverA = try CaseFoldedDirectories(sharedStateDirectory: fixture.shared, rules: WindowsNameRules())
        let serverB = try CaseFoldedDirectories(sharedStateDirectory: fixture.shared, rules: WindowsNameRules())
        #expect(spelling(serverA, "a.txt", fd, key) == nil)
        #expect(spelling(serverB, "a.txt", fd, key) == nil)
        // Server A creates A.txt under the lock and records it.
        _ = serverA.withLock(fd) {
            fixture.touch("A.txt")
            serverA.recordChange(in: key, added: Array("A.txt".utf8))
        }
        #expect(spelling(serverA, "a.TXT", fd, key) == "A.txt")
        #expect(spelling(serverB, "a.TXT", fd, key) == "A.txt", "B's index was invalidated by A's change")
        // Server B renames it to a.TXT.
        _ = serverB.withLock(fd) {
            try? FileManager.default.moveItem(atPath: fixture.directory + "/A.txt", toPath: fixture.directory + "/a.TXT")
            serverB.recordRename(from: key, Array("A.txt".utf8), to: key, Array("a.TXT".utf8))
        }
        #expect(spelling(serverA, "A.TXT", fd, key) == "a.TXT")
        #expect(spelling(serverB, "A.TXT", fd, key) == "a.TXT")
        _ = serverA.withLock(fd) {
            fixture.remove("a.TXT")
            serverA.recordChange(in: key, removed: Array("a.TXT".utf8))
        }
        #expect(spelling(serverB, "a.txt", fd, key) == nil)
    }

    @Test func theLockMakesCheckThenCreateAtomicAcrossServers() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let (fd, key) = fixture.open()
        defer { close(fd) }
        let servers = try (0..<2).map { _ in
            try CaseFoldedDirectories(sharedStateDirectory: fixture.shared, rules: WindowsNameRules())
        }
        for round in 0..<50 {
            let spellings = ["file-\(round)", "FILE-\(round)"]
            await withTaskGroup(of: Void.self) { group in
                for (server, name) in zip(servers, spellings) {
                    group.addTask {
                        _ = server.withLock(fd) {
                            guard server.spelling(of: Array(name.utf8), in: fd, key: key) == nil else { return }
                            fixture.touch(name)
                            server.recordChange(in: key, added: Array(name.utf8))
                        }
                    }
                }
            }
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.directory)
        #expect(names.count == 50)
    }

    @Test func posixRulesAreCaseSensitive() {
        let rules = POSIXNameRules()
        #expect(!rules.caseInsensitive)
        let windows = WindowsNameRules()
        #expect(windows.caseInsensitive)
        let key = { (name: String) in Array(name.utf8).withUnsafeBufferPointer { windows.matchKey(forName: $0) } }
        #expect(key("Report.txt") == key("REPORT.TXT"))
        #expect(key("Ωmega") == key("ωMEGA"))
        #expect(key("Straße") != key("STRASSE"))
    }
}
