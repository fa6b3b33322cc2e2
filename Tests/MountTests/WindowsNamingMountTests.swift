import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Names Windows refuses are refused on `fsx-windows` mounts at every depth, by every call that makes a
/// name, and accepted on POSIX types (Microsoft, "Naming Files, Paths, and Namespaces"; seed §Amazon FSx
/// für Windows File Server).
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct WindowsNamingMountTests {
    typealias Berth = CLIMountTests.Berth

    static let refused = [
        "CON", "prn", "Aux", "nul.txt", "NUL.tar.gz", "com1", "COM9.log", "lpt1", "LpT9",
        "a<b", "a>b", "a:b", "a\"b", "a\\b", "a|b", "a?b", "a*b", "tab\there", "bell\u{7}",
        "ends-with-dot.", "ends-with-space ",
    ]
    static let accepted = ["CONSOLE", "com10", "lpt0", "nul_", "report.txt", "Grüße.txt", "a.b.c", ".hidden"]

    func errnoOf(_ result: Int32) -> Int32 { result == 0 ? 0 : errno }

    @Test func windowsRefusesReservedNamesAtEveryDepthAndPOSIXTypesDoNot() throws {
        let berth = try Berth()
        let windows = try berth.createVolume("--type", "fsx-windows", "--az", "us-east-1a")
        let posix = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let win = try berth.mountpoint("win"), nfs = try berth.mountpoint("nfs")
        #expect(try berth.run("mount", windows, win, "--az", "us-east-1a", "--background").status == 0)
        #expect(try berth.run("mount", posix, nfs, "--az", "us-east-1a", "--background").status == 0)
        var directory = win
        for depth in 0..<4 {
            if depth > 0 {
                directory += "/level\(depth)"
                #expect(mkdir(directory, 0o755) == 0)
            }
            #expect(writeFile(directory + "/source", [1]) == 0)
            for name in Self.refused {
                let path = directory + "/" + name
                #expect(openErrno(path) == EINVAL, "create \(name) at depth \(depth)")
                #expect(errnoOf(mkdir(path, 0o755)) == EINVAL, "mkdir \(name) at depth \(depth)")
                #expect(errnoOf(rename(directory + "/source", path)) == EINVAL, "rename to \(name)")
                #expect(errnoOf(symlink("source", path)) == EINVAL, "symlink \(name)")
                #expect(errnoOf(link(directory + "/source", path)) == EINVAL, "link \(name)")
            }
            for name in Self.accepted {
                #expect(openErrno(directory + "/" + name) == 0, "\(name) is a valid Windows name")
            }
        }
        // Nothing refused was created, and the source is where it was.
        let listing = Set((try? FileManager.default.contentsOfDirectory(atPath: win)) ?? [])
        #expect(listing.isDisjoint(with: Self.refused))
        #expect(listing.contains("source"))
        for name in Self.refused {
            #expect(openErrno(nfs + "/" + name) == 0, "EFS (POSIX) accepts \(name)")
        }
        for path in [win, nfs] { #expect(try berth.run("unmount", path).status == 0) }
    }

    func openErrno(_ path: String) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { return errno }
        close(fd)
        return 0
    }

    /// Sorted entries of a directory.
    func listing(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    func inodeNumber(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    @Test func namesAreCaseInsensitiveAndCasePreservingAtEveryDepth() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "fsx-windows", "--az", "us-east-1a")
        let root = try berth.mountpoint("win")
        #expect(try berth.run("mount", volume, root, "--az", "us-east-1a", "--background").status == 0)
        // Directories likewise: made as Level1/Level2/Level3, walked in other cases.
        let made = ["", "/Level1", "/Level1/Level2", "/Level1/Level2/Level3"]
        let walked = ["", "/LEVEL1", "/level1/LEVEL2", "/lEvEl1/level2/LEVEL3"]
        for depth in 1..<made.count {
            #expect(mkdir(root + made[depth], 0o755) == 0)
            #expect(errnoOf(mkdir(root + walked[depth], 0o755)) == EEXIST, "mkdir of another spelling at depth \(depth)")
        }
        for (depth, (madeDirectory, walkedDirectory)) in zip(made, walked).enumerated() {
            let directory = root + madeDirectory, other = root + walkedDirectory
            #expect(writeFile(directory + "/Report.TXT", Array("first".utf8)) == 0)
            // Opened, stat'ed through any spelling.
            #expect(readFile(other + "/report.txt") == Array("first".utf8), "depth \(depth)")
            #expect(inodeNumber(other + "/REPORT.txt") == inodeNumber(directory + "/Report.TXT"))
            // O_EXCL with another spelling: EEXIST; without: the existing file.
            let exclusive = open(other + "/report.txt", O_WRONLY | O_CREAT | O_EXCL, 0o644)
            #expect(exclusive < 0 && errno == EEXIST)
            let existing = open(other + "/rEpOrT.TxT", O_WRONLY | O_CREAT | O_APPEND, 0o644)
            #expect(existing >= 0)
            if existing >= 0 {
                #expect(write(existing, "+more", 5) == 5)
                close(existing)
            }
            #expect(readFile(directory + "/Report.TXT") == Array("first+more".utf8))
            // Listed once, in the case it was created with.
            let names = listing(directory).filter { $0.lowercased() == "report.txt" }
            #expect(names == ["Report.TXT"], "depth \(depth): \(names)")
            // A case-only rename changes only the case.
            #expect(rename(other + "/report.txt", other + "/REPORT.TXT") == 0)
            #expect(listing(directory).filter { $0.lowercased() == "report.txt" } == ["REPORT.TXT"])
            #expect(readFile(directory + "/REPORT.TXT") == Array("first+more".utf8))
            // Renamed to a new name and deleted through other spellings.
            #expect(rename(other + "/Report.txt", other + "/Final.txt") == 0)
            #expect(readFile(directory + "/FINAL.TXT") == Array("first+more".utf8))
            #expect(unlink(other + "/final.TXT") == 0)
            #expect(!listing(directory).contains { $0.lowercased() == "final.txt" || $0.lowercased() == "report.txt" })
        }
        #expect(listing(root + "/Level1") == ["Level2"], "the directory keeps the case it was made with")
        #expect(rmdir(root + "/level1/level2/level3") == 0)
        #expect(listing(root + "/Level1/Level2").isEmpty)
        #expect(try berth.run("unmount", root).status == 0)
    }

    @Test func caseFoldingFollowsUnicodeNotOnlyASCII() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "fsx-windows", "--az", "us-east-1a")
        let root = try berth.mountpoint("win")
        #expect(try berth.run("mount", volume, root, "--az", "us-east-1a", "--background").status == 0)
        let pairs = [("Éclair.txt", "éCLAIR.TXT"), ("Ωmega", "ωMEGA"), ("Файл.doc", "фАЙЛ.DOC"), ("Ärger", "äRGER"),
                     ("ΣΟΦΙΑ", "σοφια")]
        for (created, other) in pairs {
            #expect(writeFile(root + "/" + created, Array(created.utf8)) == 0)
            #expect(readFile(root + "/" + other) == Array(created.utf8), "\(other) is \(created)")
            #expect(openErrnoExclusive(root + "/" + other) == EEXIST)
        }
        // ß has no one-letter capital: "Straße" and "STRASSE" are two names, as on Windows.
        #expect(writeFile(root + "/Straße", [1]) == 0)
        #expect(writeFile(root + "/STRASSE", [2]) == 0)
        #expect(readFile(root + "/straße") == [1])
        #expect(listing(root).count == pairs.count + 2, "\(listing(root))")
        #expect(try berth.run("unmount", root).status == 0)
    }

    func openErrnoExclusive(_ path: String) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { return errno }
        close(fd)
        return 0
    }

    /// Two processes on two mounts create the same name in different cases at the same moment, 100
    /// rounds: exactly one file each time; with O_EXCL exactly one of them succeeds.
    @Test func concurrentCreatesInDifferentCasesMakeExactlyOneFile() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "fsx-windows", "--az", "us-east-1a")
        let a = try berth.mountpoint("a"), b = try berth.mountpoint("b")
        #expect(try berth.run("mount", volume, a, "--az", "us-east-1a", "--background").status == 0)
        #expect(try berth.run("mount", volume, b, "--az", "us-east-1a", "--task", "t-b", "--background").status == 0)
        let script = """
            import multiprocessing, os, sys
            rounds = 100
            def worker(root, spell, barrier, results):
                for i in range(rounds):
                    name = spell(f"race-{i}.txt")
                    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if i % 2 == 0 else 0)
                    barrier.wait()
                    try:
                        os.close(os.open(os.path.join(root, name), flags, 0o644))
                        results.put((i, 1))
                    except FileExistsError:
                        results.put((i, 0))
            if __name__ == "__main__":
                barrier = multiprocessing.Barrier(2)
                results = multiprocessing.Queue()
                workers = [multiprocessing.Process(target=worker, args=(sys.argv[1], str.lower, barrier, results)),
                           multiprocessing.Process(target=worker, args=(sys.argv[2], str.upper, barrier, results))]
                for w in workers: w.start()
                outcomes = {}
                for _ in range(2 * rounds):
                    i, ok = results.get()
                    outcomes[i] = outcomes.get(i, 0) + ok
                for w in workers: w.join()
                bad = [i for i in range(0, rounds, 2) if outcomes[i] != 1]
                print("exclusive-rounds-with-other-than-one-success", bad)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, a, b]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(printed.contains("exclusive-rounds-with-other-than-one-success []"), "\(printed)")
        let names = listing(a)
        #expect(names.count == 100, "one file per round, \(names.count) in all")
        for round in 0..<100 {
            #expect(names.filter { $0.lowercased() == "race-\(round).txt" }.count == 1, "round \(round)")
        }
        for path in [a, b] { #expect(try berth.run("unmount", path).status == 0) }
    }

    /// What the Windows rules do not change stays POSIX: rename over an existing file, hard links,
    /// permissions, timestamps; locks hold across mounts whatever the spelling.
    @Test func posixBehaviourAndLocksStayIntact() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "fsx-windows", "--az", "us-east-1a")
        let a = try berth.mountpoint("a"), b = try berth.mountpoint("b")
        #expect(try berth.run("mount", volume, a, "--az", "us-east-1a", "--background").status == 0)
        #expect(try berth.run("mount", volume, b, "--az", "us-east-1a", "--background").status == 0)
        #expect(writeFile(a + "/old.txt", Array("old".utf8)) == 0)
        #expect(writeFile(a + "/New.txt", Array("new".utf8)) == 0)
        #expect(rename(a + "/NEW.TXT", a + "/Old.txt") == 0, "rename over an existing file (another spelling)")
        #expect(listing(a) == ["Old.txt"])
        #expect(readFile(a + "/old.txt") == Array("new".utf8))
        #expect(link(a + "/old.txt", a + "/Hard.txt") == 0)
        var info = stat()
        #expect(stat(a + "/HARD.TXT", &info) == 0 && info.st_nlink == 2)
        #expect(inodeNumber(a + "/hard.txt") == inodeNumber(a + "/Old.txt"))
        #expect(errnoOf(link(a + "/old.txt", a + "/hard.TXT")) == EEXIST)
        #expect(chmod(a + "/OLD.txt", 0o600) == 0)
        #expect(stat(b + "/old.TXT", &info) == 0 && info.st_mode & 0o777 == 0o600)
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_234_567_890, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, a + "/Old.TXT", &times, 0) == 0)
        #expect(stat(b + "/old.txt", &info) == 0 && info.st_mtim.tv_sec == 1_234_567_890)
        // A POSIX lock taken through one spelling on one mount conflicts with another spelling on another.
        let holder = try LockHolder(path: a + "/Old.txt", kind: "fcntl")
        let fd = open(b + "/OLD.TXT", O_RDWR)
        #expect(fd >= 0)
        #expect(recordLock(fd, Int32(F_WRLCK)) == EAGAIN)
        holder.kill9()
        var freed = false
        for _ in 0..<200 where !freed {
            freed = recordLock(fd, Int32(F_WRLCK)) == 0
            if !freed { usleep(10_000) }
        }
        #expect(freed, "the lock is released when its holder dies")
        close(fd)
        for path in [a, b] { #expect(try berth.run("unmount", path).status == 0) }
    }
}
