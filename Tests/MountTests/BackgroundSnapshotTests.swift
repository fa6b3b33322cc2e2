import BerthTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `berth snapshot create` returns at the snapshot's point in time with it `pending`, and a background
/// process finishes the copy (emulator.md §Snapshots: "`--wait` waits for `completed`").
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct BackgroundSnapshotTests {
    typealias Berth = CLIMountTests.Berth

    /// Enough data that the copy is still running when the command returns (and when a test stops it).
    static let ballast = 256 << 20

    func snapshot(_ berth: Berth, _ id: String) throws -> [String: Any] {
        let run = try berth.run("snapshot", "describe", id, "--format", "json")
        return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
    }

    func json(_ run: CLITestRun) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
    }

    /// A volume whose data directory holds `ballast` bytes (written to the backing directory directly).
    func volumeWithBallast(_ berth: Berth) throws -> String {
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "2")
        let data = berth.state + "/volumes/" + volume + "/data"
        let chunk = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        #expect(FileManager.default.createFile(atPath: data + "/ballast", contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: data + "/ballast"))
        for _ in 0..<(Self.ballast >> 20) { handle.write(chunk) }
        try handle.close()
        return volume
    }

    /// The pid of the background process finishing a snapshot of `volume`.
    func finisher(of volume: String) -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.contains("_finish-snapshot") && arguments.contains(volume) { return pid }
        }
        return nil
    }

    @Test func createReturnsPendingAndTheCopyCompletesInTheBackgroundWithThePointInTime() throws {
        let berth = try Berth()
        let volume = try volumeWithBallast(berth)
        let mount = try berth.mountpoint("a")
        #expect(try berth.run("mount", volume, mount, "--az", "us-east-1a", "--background").status == 0)
        #expect(writeFile(mount + "/config", Array("before".utf8)) == 0)

        let created = try berth.run("snapshot", "create", volume, "--format", "json")
        #expect(created.status == 0, "\(created.stderr)")
        let shown = try json(created)
        #expect(shown["state"] as? String == "pending", "returns at the point in time, before the copy")
        let id = try #require(shown["id"] as? String)
        // Written while the snapshot is pending: never reaches it.
        #expect(writeFile(mount + "/config", Array("after".utf8)) == 0)
        #expect(waitUntil(timeout: 120) { (try? snapshot(berth, id))?["state"] as? String != "pending" })
        let done = try snapshot(berth, id)
        #expect(done["state"] as? String == "completed")
        #expect(done["bytes"] as? Int ?? 0 >= Self.ballast)
        #expect(readFile(berth.state + "/snapshots/\(id)/data/config") == Array("before".utf8))
        #expect(try berth.run("unmount", mount).status == 0)
    }

    @Test func waitReturnsTheSnapshotCompleted() throws {
        let berth = try Berth()
        let volume = try volumeWithBallast(berth)
        let created = try berth.run("snapshot", "create", volume, "--wait", "--progress", "--format", "json")
        #expect(created.status == 0, "\(created.stderr)")
        let shown = try json(created)
        #expect(shown["state"] as? String == "completed")
        #expect(shown["bytes"] as? Int ?? 0 >= Self.ballast)
        #expect(finisher(of: volume) == nil, "nothing left running")
    }

    @Test func aKilledCopyLeavesTheSnapshotInErrorAndReleasesItsPendingTable() throws {
        let berth = try Berth()
        let volume = try volumeWithBallast(berth)
        let mount = try berth.mountpoint("a")
        #expect(try berth.run("mount", volume, mount, "--az", "us-east-1a", "--background").status == 0)
        let created = try berth.run("snapshot", "create", volume)
        #expect(created.status == 0, "\(created.stderr)")
        let id = created.trimmedStdout
        let pid = try #require(finisher(of: volume))
        // Stopped, it stays pending for as long as this test needs.
        #expect(kill(pid, SIGSTOP) == 0)
        try #require(try snapshot(berth, id)["state"] as? String == "pending")
        let shared = berth.state + "/volumes/" + volume + "/shared"
        let tables = { ((try? FileManager.default.contentsOfDirectory(atPath: shared)) ?? []).filter { $0.hasPrefix("pending.") && $0 != "pending.lock" } }
        #expect(tables().count == 1, "the mounts follow its pending table")
        let restore = try berth.run("volume", "create", "--type", "ebs", "--az", "us-east-1b", "--from-snapshot", id)
        #expect(restore.status == 1 && restore.stderr.hasPrefix("IncorrectState"), "\(restore.stderr)")
        let early = try berth.run("snapshot", "delete", id)
        #expect(early.status == 1 && early.stderr.hasPrefix("IncorrectState"), "\(early.stderr)")

        #expect(kill(pid, SIGKILL) == 0)
        #expect(waitUntil(timeout: 10) { finisher(of: volume) == nil })
        let listed = try berth.run("snapshot", "list", "--format", "json")
        let snapshots = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(snapshots.first { $0["id"] as? String == id }?["state"] as? String == "error")
        #expect(tables().isEmpty, "mounts stop preserving for it")
        #expect(!FileManager.default.fileExists(atPath: berth.state + "/snapshots/" + id), "its partial copy is gone")
        // The mount writes on, and the next snapshot works.
        #expect(writeFile(mount + "/later", [1]) == 0)
        #expect(try berth.run("snapshot", "delete", id).status == 0)
        let next = try berth.run("snapshot", "create", volume, "--wait")
        #expect(next.status == 0, "\(next.stderr)")
        #expect(readFile(berth.state + "/snapshots/\(next.trimmedStdout)/data/later") == [1])
        #expect(try berth.run("unmount", mount).status == 0)
    }

    /// `snapshot create --wait` whose copy is killed: the waiting command ends at once (not when some
    /// timeout runs out) with exit status 1 and a message naming the snapshot and why; the snapshot is
    /// `error` with that reason as its stateMessage (EC2's StateMessage), and can be deleted.
    @Test func waitEndsWithTheReasonWhenTheCopyIsKilled() throws {
        let berth = try Berth()
        let volume = try volumeWithBallast(berth)
        let create = try berth.process(["snapshot", "create", volume, "--wait", "--format", "json"])
        let out = Pipe(), err = Pipe()
        create.standardOutput = out
        create.standardError = err
        try create.run()
        defer { if create.isRunning { create.terminate() } }
        // Past its point in time (the snapshot is listed pending), the copy is killed.
        var pending: String?
        #expect(waitUntil(timeout: 30) {
            let listed = (try? berth.run("snapshot", "list", "--format", "json"))?.stdout ?? "[]"
            let snapshots = (try? JSONSerialization.jsonObject(with: Data(listed.utf8))) as? [[String: Any]] ?? []
            pending = snapshots.first { $0["state"] as? String == "pending" }?["id"] as? String
            return pending != nil
        })
        let id = try #require(pending)
        let pid = try #require(finisher(of: volume))
        #expect(kill(pid, SIGKILL) == 0)
        let killed = Date()
        #expect(waitUntil(timeout: 10) { !create.isRunning }, "the waiting command ends")
        #expect(Date().timeIntervalSince(killed) < 10)
        create.waitUntilExit()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let reason = "the process copying it (pid \(pid)) is gone (killed, crashed or the machine restarted); the copy was abandoned"
        #expect(create.terminationStatus == 1)
        #expect(stderr.contains("IncorrectState: \(id) failed (state error): \(reason); delete it and take another"), "\(stderr)")
        #expect(stdout.isEmpty, "\(stdout)")
        let shown = try snapshot(berth, id)
        #expect(shown["state"] as? String == "error")
        #expect(shown["stateMessage"] as? String == reason)
        let text = try berth.run("snapshot", "describe", id)
        #expect(text.stdout.contains("stateMessage") && text.stdout.contains(reason), "\(text.stdout)")
        let listed = try berth.run("snapshot", "list")
        #expect(listed.stdout.contains("  error: \(reason)"), "\(listed.stdout)")
        #expect(try berth.run("snapshot", "delete", id).status == 0)
        let after = try berth.run("snapshot", "list", "--format", "json").stdout
        #expect((try JSONSerialization.jsonObject(with: Data(after.utf8)) as? [Any])?.isEmpty == true, "\(after)")
    }
}
