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

    // MARK: - One file, one view, whatever the spelling (issue 11's findings, one mount)

    /// A served fsx-windows mount at `a` of a fresh scratch volume.
    func windowsMount(_ scratch: Scratch) throws -> ServedMount {
        try ServedMount(scratch, at: "a", type: "fsx-windows", volumeID: "fs-windows",
                        extra: ["--capacity-bytes", "1073741824"])
    }

    func lstatInfo(_ path: String) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    func readlinkResult(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(path, &buffer, 255)
        if count < 0 { return "errno \(errno)" }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A change made through one spelling is seen at once through every other on the same mount, as an
    /// SMB client sees one inode per file: the kernel's inode of one spelling must not keep attributes,
    /// pages or names from before a change made through another.
    @Test func aChangeThroughOneSpellingIsSeenAtOnceThroughEveryOther() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try windowsMount(scratch)
        defer { mount.stop() }
        let root = mount.mountpoint
        // create a; write via A: lstat a shows the new size (was 0 for up to 1 s).
        #expect(writeFile(root + "/a", []) == 0)
        #expect(lstatInfo(root + "/a")?.st_size == 0)
        let fd = open(root + "/A", O_WRONLY)
        #expect(fd >= 0)
        #expect(write(fd, "hello", 5) == 5)
        #expect(lstatInfo(root + "/a")?.st_size == 5, "the size written through A")
        #expect(fchmod(fd, 0o600) == 0)
        #expect(lstatInfo(root + "/a").map { $0.st_mode & 0o777 } == 0o600, "the mode set through A")
        close(fd)
        #expect(truncate(root + "/A", 2) == 0)
        #expect(lstatInfo(root + "/a")?.st_size == 2, "the size truncated through A")
        #expect(readFile(root + "/a") == Array("he".utf8))
        // A hard link made through one spelling counts in the other's link count.
        #expect(link(root + "/A", root + "/hard") == 0)
        #expect(lstatInfo(root + "/a")?.st_nlink == 2)
        #expect(unlink(root + "/HARD") == 0)
        #expect(lstatInfo(root + "/a")?.st_nlink == 1)
        // mkdir d; rmdir D: d is gone (unlink answered EISDIR from the cached name).
        #expect(mkdir(root + "/d", 0o755) == 0)
        #expect(lstatInfo(root + "/d") != nil)
        #expect(rmdir(root + "/D") == 0)
        #expect(errnoOf(unlink(root + "/d")) == ENOENT)
        #expect(lstatInfo(root + "/d") == nil)
        // symlink zz l; unlink L: readlink l answers ENOENT (answered zz from the cached name).
        #expect(symlink("zz", root + "/l") == 0)
        #expect(readlinkResult(root + "/l") == "zz")
        #expect(unlink(root + "/L") == 0)
        #expect(readlinkResult(root + "/l") == "errno \(ENOENT)")
        // A create after the link was removed through another spelling makes the name itself, not the
        // link's old target.
        #expect(symlink("target", root + "/s") == 0)
        #expect(lstatInfo(root + "/s")?.st_mode.isLink == true)
        #expect(unlink(root + "/S") == 0)
        #expect(writeFile(root + "/s", [1]) == 0)
        #expect(lstatInfo(root + "/s")?.st_mode.isLink == false)
        #expect(lstatInfo(root + "/target") == nil, "nothing was created at the removed link's target")
        // A rename through another spelling: the old real name does not answer from the cache.
        #expect(writeFile(root + "/r", [2]) == 0)
        #expect(lstatInfo(root + "/r") != nil)
        #expect(rename(root + "/R", root + "/moved") == 0)
        #expect(lstatInfo(root + "/r") == nil)
        #expect(readFile(root + "/MOVED") == [2])
        #expect(listing(root) == ["a", "moved", "s"])
    }

    /// `rename e/A Q` over an existing `q`: q's content is replaced by A's, the result is spelled Q, and
    /// the call succeeds (it replaced q, then answered ENOENT).
    @Test func renameThroughOtherSpellingsOntoAnotherSpellingOfAFileReplacesIt() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try windowsMount(scratch)
        defer { mount.stop() }
        let root = mount.mountpoint
        #expect(mkdir(root + "/e", 0o755) == 0)
        #expect(writeFile(root + "/e/a", Array("source".utf8)) == 0)
        #expect(writeFile(root + "/q", Array("target".utf8)) == 0)
        #expect(errnoOf(rename(root + "/e/A", root + "/Q")) == 0)
        #expect(listing(root) == ["Q", "e"])
        #expect(listing(root + "/e").isEmpty)
        #expect(readFile(root + "/q") == Array("source".utf8))
        // Across directories the other way, and within one directory.
        #expect(writeFile(root + "/e/x", Array("x".utf8)) == 0)
        #expect(errnoOf(rename(root + "/q", root + "/E/X")) == 0)
        #expect(listing(root) == ["e"])
        #expect(listing(root + "/e") == ["X"])
        #expect(readFile(root + "/e/X") == Array("source".utf8))
        #expect(writeFile(root + "/e/y", Array("y".utf8)) == 0)
        #expect(errnoOf(rename(root + "/E/Y", root + "/e/X")) == 0)
        #expect(listing(root + "/e") == ["X"])
        #expect(readFile(root + "/e/x") == Array("y".utf8))
    }

    /// `mkdir X; mkdir Q; mkdir Q/X; rename X q/X`: the empty directory Q/X is replaced (answered ESTALE
    /// every time: the kernel had to move Q/X's one dentry under the other spelling `q` inside the rename).
    @Test func renameIntoADirectoryReachedThroughAnotherSpellingOverAnEmptyDirectory() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try windowsMount(scratch)
        defer { mount.stop() }
        let root = mount.mountpoint
        #expect(mkdir(root + "/X", 0o755) == 0)
        #expect(writeFile(root + "/X/inside", [1]) == 0)
        #expect(mkdir(root + "/Q", 0o755) == 0)
        #expect(mkdir(root + "/Q/X", 0o755) == 0)
        #expect(errnoOf(rename(root + "/X", root + "/q/X")) == 0)
        #expect(listing(root) == ["Q"])
        #expect(listing(root + "/Q/X") == ["inside"])
        #expect(listing(root + "/q/x") == ["inside"])
        // And back, through yet other spellings of both.
        #expect(mkdir(root + "/x", 0o755) == 0)
        #expect(errnoOf(rename(root + "/Q/x", root + "/X")) == 0)
        #expect(listing(root) == ["Q", "X"])
        #expect(readFile(root + "/X/INSIDE") == [1])
        #expect(listing(root + "/q").isEmpty)
    }
}

extension mode_t {
    var isLink: Bool { self & S_IFMT == S_IFLNK }
}
