import EmulatorCore
import BerthTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `berth az fail --power-loss`, mounting for real (emulator.md §Faults beyond an outage): what a task had
/// not made durable is gone when the AZ recovers, what it had synced is all there; a database written
/// with synchronous commits recovers with every committed row.
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct PowerLossMountTests {
    typealias Berth = CLIMountTests.Berth

    /// Writes `bytes` to `path` (created or truncated), then fsyncs it; with `closing` false the
    /// descriptor is returned open.
    func writeSynced(_ path: String, _ bytes: [UInt8], sync: Bool) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return -1 }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, !sync || fsync(fd) == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    func syncDirectory(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return fsync(fd) == 0
    }

    func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The `answer` of each mount in `az fail --format json`'s `powerLoss`.
    func answers(_ stdout: String) -> [String] {
        let object = (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
        return (object?["powerLoss"] as? [[String: Any]] ?? []).compactMap { $0["answer"] as? String }
    }

    @Test func onEBSWhatWasNotSyncedIsGoneAndWhatWasSyncedStays() throws {
        let berth = try Berth()
        let (_, a) = try berth.mountedEBSVolumeInUSEast1a()
        defer { berth.recoverAndCutOff(a) }
        let synced = Array(repeating: UInt8(ascii: "s"), count: 10_000)
        let kept = writeSynced(a + "/synced", synced, sync: true)
        #expect(kept >= 0)
        defer { close(kept) }
        close(writeSynced(a + "/renamed", [1, 2, 3], sync: true))
        close(writeSynced(a + "/dsync", [0, 0], sync: true))
        #expect(mkdir(a + "/dir", 0o755) == 0)
        #expect(syncDirectory(a))
        var before = statvfs()
        #expect(statvfs(a, &before) == 0)
        // Since the syncs: an overwrite and an append not synced, a new name, a rename and a removal in
        // a directory not synced, a file synced whose directory was not, and 16 MiB not synced.
        let dsync = open(a + "/dsync", O_WRONLY | O_DSYNC | O_CLOEXEC)
        #expect(pwrite(dsync, "DS", 2, 0) == 2)  // O_DSYNC: durable when it returns
        close(dsync)
        let big = writeSynced(a + "/big", Array(repeating: 7, count: 16 << 20), sync: false)
        #expect(big >= 0)
        close(big)
        #expect(pwrite(kept, "XXXX", 4, 100) == 4)
        #expect(pwrite(kept, "tail", 4, 10_000) == 4)
        let unsynced = writeSynced(a + "/unsynced", [9, 9], sync: false)
        close(unsynced)
        #expect(rename(a + "/renamed", a + "/renamed-later") == 0)
        #expect(rmdir(a + "/dir") == 0)
        let inDirectory = writeSynced(a + "/synced-name-not", [5], sync: true)
        close(inDirectory)

        let fail = try berth.run("az", "fail", "us-east-1a", "--power-loss", "--format", "json")
        #expect(fail.status == 0, "\(fail.stderr)")
        #expect(answers(fail.stdout) == ["applied"], "\(fail.stdout)")
        #expect(try berth.run("az", "recover", "us-east-1a").status == 0)
        #expect(waitUntil(timeout: 5) { readFile(a + "/synced") != nil })

        #expect(readFile(a + "/synced") == synced, "the synced data, without the later overwrite and append")
        #expect(!exists(a + "/unsynced"))
        #expect(!exists(a + "/synced-name-not"), "its data was synced, its name (the directory) was not")
        #expect(readFile(a + "/renamed") == [1, 2, 3])
        #expect(!exists(a + "/renamed-later"))
        #expect(exists(a + "/dir"))
        #expect(!exists(a + "/big"))
        #expect(readFile(a + "/dsync") == Array("DS".utf8))
        // The volume's used space is what it was at the syncs again (the capacity counter is recounted).
        var after = statvfs()
        #expect(statvfs(a, &after) == 0)
        #expect(abs(Int(after.f_bfree) - Int(before.f_bfree)) <= 4, "free blocks \(before.f_bfree) before, \(after.f_bfree) after")
        // The mount works on: a new file, synced with its directory, survives the next power loss.
        close(writeSynced(a + "/after", [7], sync: true))
        #expect(syncDirectory(a))
        #expect(try berth.run("az", "fail", "us-east-1a", "--power-loss").status == 0)
        #expect(try berth.run("az", "recover", "us-east-1a").status == 0)
        #expect(waitUntil(timeout: 5) { readFile(a + "/after") == [7] })
    }

    /// The links the journal keeps of removed names are its own: a program sees the link count it made
    /// (pjdfstest rename/23 failed with them showing), and a power loss still brings the names back.
    @Test func theJournalsHeldLinksAreNotCountedInWhatProgramsSee() throws {
        let berth = try Berth()
        let (_, a) = try berth.mountedEBSVolumeInUSEast1a()
        defer { berth.recoverAndCutOff(a) }
        for (name, byte) in [("dst", UInt8(1)), ("src", 2)] {
            let fd = writeSynced(a + "/" + name, [byte], sync: true)
            #expect(fd >= 0)
            close(fd)
        }
        #expect(link(a + "/dst", a + "/other") == 0)
        let directory = open(a, O_RDONLY | O_DIRECTORY)
        #expect(fsync(directory) == 0, "the names are durable")
        close(directory)
        #expect(rename(a + "/src", a + "/dst") == 0)
        var st = stat()
        #expect(lstat(a + "/other", &st) == 0 && st.st_nlink == 1, "renamed over: one link left")
        let open = Glibc.open(a + "/other", O_RDONLY)
        #expect(unlink(a + "/other") == 0)
        #expect(fstat(open, &st) == 0 && st.st_nlink == 0, "removed while open: no link left")
        close(open)
        #expect(try berth.run("az", "fail", "us-east-1a", "--power-loss").status == 0)
        #expect(try berth.run("az", "recover", "us-east-1a").status == 0)
        #expect(readFile(a + "/dst") == [1] && readFile(a + "/other") == [1], "the power loss puts both names back")
        #expect(readFile(a + "/src") == [2])
    }

    @Test func onEFSWhatACloseSentStaysAndNamesAreKept() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let a = try berth.mountpoint("a"), b = try berth.mountpoint("b")
        #expect(try berth.run("mount", volume, a, "--az", "us-east-1a", "--background").status == 0)
        #expect(try berth.run("mount", volume, b, "--az", "us-east-1b", "--background").status == 0)
        defer {
            _ = try? berth.run("az", "recover", "us-east-1a")
            for path in [a, b] { _ = try? berth.run("unmount", path, "--force") }
        }
        close(writeSynced(a + "/closed", [1, 2, 3], sync: false))
        let open = writeSynced(a + "/open", [4, 5, 6], sync: false)
        #expect(open >= 0)
        defer { close(open) }
        let fail = try berth.run("az", "fail", "us-east-1a", "--power-loss", "--format", "json")
        #expect(fail.status == 0, "\(fail.stderr)")
        #expect(answers(fail.stdout) == ["applied"], "only the mount in 1a loses power: \(fail.stdout)")
        // The mount in 1b serves on, and sees what the client in 1a had sent.
        #expect(waitUntil(timeout: 5) { readFile(b + "/closed") == [1, 2, 3] })
        #expect(readFile(b + "/open") == [], "created (a name is sent at once), its data never sent")
    }

    /// SQLite with synchronous commits on an ebs mount, power lost while a writer commits: it opens again,
    /// its integrity check passes and every row whose commit returned is there. WAL with FULL; DELETE
    /// (rollback journal) with EXTRA, which SQLite says DELETE needs to survive a power loss right after
    /// a commit (https://www.sqlite.org/pragma.html#pragma_synchronous). And the control: with
    /// synchronous OFF (no fsync at all) committed rows are lost, so the power loss is real.
    @Test(arguments: [("wal", "full"), ("delete", "extra"), ("wal", "off")])
    func sqliteKeepsEveryCommittedRow(_ mode: String, _ synchronous: String) throws {
        let syncs = synchronous != "off"
        let berth = try Berth()
        let (_, a) = try berth.mountedEBSVolumeInUSEast1a()
        defer { berth.recoverAndCutOff(a) }
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        writer.arguments = ["python3", "-c", Self.writerScript, a + "/db.sqlite", mode, synchronous]
        let out = Pipe()
        writer.standardOutput = out
        try writer.run()
        // Commits for a while (each commit rewrites older rows too, so pages below the synced size are
        // overwritten), then the power goes.
        usleep(1_500_000)
        let fail = try berth.run("az", "fail", "us-east-1a", "--power-loss", "--format", "json")
        #expect(fail.status == 0, "\(fail.stderr)")
        #expect(answers(fail.stdout) == ["applied"], "\(fail.stdout)")
        #expect(waitUntil(timeout: 10) { !writer.isRunning })
        if writer.isRunning { writer.terminate() }
        writer.waitUntilExit()
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        let committed = lines.compactMap { Int($0) }
        #expect(committed.count > 5, "the writer committed: \(lines.suffix(3))")
        // It stopped at the outage: an error, or SIGBUS in WAL mode, whose index is a shared memory map of
        // the -shm file that can no longer be read.
        #expect(lines.last?.hasPrefix("error") == true || writer.terminationReason == .uncaughtSignal,
                "\(lines.suffix(2)), \(writer.terminationReason), \(writer.terminationStatus)")

        #expect(try berth.run("az", "recover", "us-east-1a").status == 0)
        let (status, report) = try runPython(Self.checkScript, [a + "/db.sqlite"])
        let reportLines = report.split(separator: "\n", omittingEmptySubsequences: false)
        let present = Set((reportLines.dropFirst().first ?? "").split(separator: ",").compactMap { Int($0) })
        let missing = committed.filter { !present.contains($0) }
        if syncs {
            #expect(status == 0, "\(report)")
            #expect(reportLines.first == "ok", "integrity_check: \(reportLines.first ?? "")")
            #expect(missing.isEmpty, "committed rows missing after the power loss: \(missing.prefix(10))")
        } else {
            #expect(status != 0 || !missing.isEmpty, "without fsync, committed rows are lost: \(report.prefix(200))")
        }
    }

    /// `berth drill az-failure --power-loss`: the report names the fault, every acknowledged (fsynced) record
    /// is on the original volume, and the records written but not synced at the failure are gone.
    @Test(arguments: ["ebs", "efs"])
    func aDrillWithPowerLossCountsTheUnsyncedRecordsThatVanished(_ type: String) throws {
        let berth = try Berth()
        let run = try berth.run(["drill", "az-failure", "--format", "json", "--quiet", "--type", type, "--power-loss",
                                 "--fail-at", "2s", "--duration", "3s", "--record-interval", "5ms"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let fault = report["fault"] as? [String: Any]
        #expect(fault?["kind"] as? String == "power-loss")
        let lost = try #require(report["powerLoss"] as? [String: Any], "\(run.stdout)")
        #expect(lost["checked"] as? Bool == true && lost["mountsAnswered"] as? Int == 1, "\(lost)")
        #expect(lost["acknowledgedRecordsLost"] as? Int == 0 && lost["corruptRecords"] as? Int == 0, "\(lost)")
        let unsynced = try #require(lost["recordsUnsynced"] as? Int)
        #expect(lost["unsyncedRecordsVanished"] as? Int == unsynced && lost["unsyncedRecordsSurvived"] as? Int == 0, "\(lost)")
        #expect(report["passed"] as? Bool == true)
    }

    static let writerScript = """
        import os, sqlite3, sys
        path, mode, sync = sys.argv[1:4]
        con = sqlite3.connect(path, isolation_level=None, timeout=1)
        try:
            con.execute("PRAGMA journal_mode=" + mode)
            con.execute("PRAGMA synchronous=" + sync)
            con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
            fd = os.open(os.path.dirname(path), os.O_RDONLY)
            os.fsync(fd)  # the database file's name is durable from here on
            os.close(fd)
            i = 0
            while True:
                i += 1
                con.execute("BEGIN")
                con.execute("INSERT INTO t VALUES (?, ?)", (i, "x" * (i % 2000)))
                con.execute("UPDATE t SET payload = payload || 'y' WHERE id = ?", (max(1, i // 2),))
                con.execute("COMMIT")
                print(i, flush=True)
        except Exception as e:
            print("error", e, flush=True)
        """

    static let checkScript = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        print(con.execute("PRAGMA integrity_check").fetchone()[0])
        print(",".join(str(r[0]) for r in con.execute("SELECT id FROM t ORDER BY id")))
        """
}
