import EmulatorCore
import BerthTestSupport
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `berth fault` against real mounts: the FUSE layer asks the fault gate before every read, write and sync,
/// and each command is in effect (or over) when it returns (emulator.md §Faults beyond an outage).
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct FaultMountTests {
    typealias Berth = CLIMountTests.Berth

    /// An ebs volume mounted in us-east-1a with a file `f` on it.
    func mountedVolume(_ berth: Berth, extra: [String] = []) throws -> (volume: String, file: String) {
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "1")
        let mountpoint = try berth.mountpoint("m")
        let mount = try berth.run(["mount", volume, mountpoint, "--az", "us-east-1a", "--background"] + extra)
        guard mount.status == 0 else { throw MountTestError.notReady("mount: \(mount.stderr)") }
        let file = mountpoint + "/f"
        #expect(writeFile(file, Array("before\n".utf8)) == 0)
        return (volume, file)
    }

    /// Appends a line and fsyncs it; 0 or the errno of the first call that failed.
    static func appendAndSync(_ path: String) -> Int32 {
        let fd = open(path, O_WRONLY | O_APPEND)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let line = Array("during\n".utf8)
        guard write(fd, line, line.count) == line.count else { return errno }
        return fsync(fd) == 0 ? 0 : errno
    }

    /// Runs `appendAndSync` on a thread; the result once it finished.
    final class Writer: Sendable {
        let result = Mutex<(code: Int32, finishedAt: Date)?>(nil)
        init(_ path: String) {
            Thread { [self] in
                let code = FaultMountTests.appendAndSync(path)
                result.withLock { $0 = (code, Date()) }
            }.start()
        }
        func wait() -> (code: Int32, finishedAt: Date)? {
            _ = waitUntil(timeout: 120) { result.withLock { $0 } != nil }
            return result.withLock { $0 }
        }
    }

    func status(_ berth: Berth, _ volume: String) throws -> String? {
        let run = try berth.run("volume", "describe", volume, "--format", "json")
        return (try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])?["status"] as? String
    }

    @Test func aWriteDuringAPauseCompletesAfterItAndTheVolumeIsImpairedMeanwhile() throws {
        let berth = try Berth()
        let (volume, file) = try mountedVolume(berth)
        let pause = try berth.run("fault", "pause-io", volume, "--duration", "2s")
        #expect(pause.status == 0, "\(pause.stderr)")
        let end = try #require(try faultEnd(berth))
        #expect(try status(berth, volume) == "impaired")
        let writer = Writer(file)
        let result = try #require(writer.wait())
        #expect(result.code == 0, "the write completes: \(String(cString: strerror(result.code)))")
        #expect(result.finishedAt >= end, "the write completed only after the pause ended")
        #expect(readFile(file) == Array("before\nduring\n".utf8))
        #expect(try status(berth, volume) == "ok")
    }

    @Test func aPausePastTheMountsIOTimeoutAnswersEIO() throws {
        let berth = try Berth()
        let (volume, file) = try mountedVolume(berth, extra: ["--io-timeout", "300ms"])
        let pause = try berth.run("fault", "pause-io", volume, "--duration", "1m")
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(Self.appendAndSync(file) == EIO, "as Linux's NVMe driver fails I/O past nvme_core.io_timeout")
        let id = try #require(try faultIDs(berth).first)
        #expect(try berth.run("fault", "clear", id).status == 0)
        #expect(Self.appendAndSync(file) == 0, "over once clear returned")
    }

    @Test func faultClearReleasesWaitingWritesAtOnce() throws {
        let berth = try Berth()
        // The default ebs I/O timeout is 30 s: a write still waiting for this 10-minute pause when it ran out
        // would answer EIO. It succeeds only if `fault clear` released it.
        let (volume, file) = try mountedVolume(berth)
        #expect(try berth.run("fault", "pause-io", volume, "--duration", "10m").status == 0)
        let writer = Writer(file)
        usleep(300_000)
        #expect(writer.result.withLock { $0 } == nil, "the write waits while paused")
        let id = try #require(try faultIDs(berth).first)
        let clear = try berth.run("fault", "clear", id)
        #expect(clear.status == 0, "\(clear.stderr)")
        #expect(writer.wait()?.code == 0)
        #expect(try faultList(berth).first?["status"] as? String == "stopped")
    }

    @Test func latencyAddsTheDelayAskedToWritesOnly() throws {
        let berth = try Berth()
        let (volume, file) = try mountedVolume(berth)
        let latency = try berth.run("fault", "latency", volume, "--delay", "250ms", "--percent", "100", "--operations", "write")
        #expect(latency.status == 0, "\(latency.stderr)")
        let started = DispatchTime.now().uptimeNanoseconds
        #expect(Self.appendAndSync(file) == 0)
        // A write and an fsync, each delayed: at least twice the delay (a lower bound, not a speed target).
        #expect(DispatchTime.now().uptimeNanoseconds - started >= 500_000_000)
        let list = try faultList(berth)
        #expect(list.first?["fisAction"] as? String == "aws:ebs:volume-io-latency")
        #expect(list.first?["delayMilliseconds"] as? Int == 250)
        #expect(try berth.run("fault", "clear", try #require(list.first?["id"] as? String)).status == 0)
    }

    @Test func badFaultCommandsAreRefusedWithTheirReason() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "1")
        let noDuration = try berth.run("fault", "pause-io", volume, "--duration", "soon")
        #expect(noDuration.status == 64 && noDuration.stderr.contains("500ms, 2s, 5m or 1h"), "\(noDuration.stderr)")
        let unknown = try berth.run("fault", "pause-io", "vol-0123456789abcdef0", "--duration", "2s")
        #expect(unknown.status == 1 && unknown.stderr.hasPrefix("InvalidVolume.NotFound"), "\(unknown.stderr)")
        let percent = try berth.run("fault", "latency", volume, "--delay", "1s", "--percent", "0")
        #expect(percent.status == 1 && percent.stderr.contains("--percent"), "\(percent.stderr)")
        let clear = try berth.run("fault", "clear", "fault-nope")
        #expect(clear.status == 1 && clear.stderr.hasPrefix("ResourceNotFoundException"), "\(clear.stderr)")
        #expect(try faultList(berth).isEmpty)
    }

    func faultList(_ berth: Berth) throws -> [[String: Any]] {
        let run = try berth.run("fault", "list", "--format", "json")
        return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]] ?? []
    }

    func faultIDs(_ berth: Berth) throws -> [String] { try faultList(berth).compactMap { $0["id"] as? String } }

    func faultEnd(_ berth: Berth) throws -> Date? {
        guard let text = try faultList(berth).first?["endsAt"] as? String else { return nil }
        return ISO8601DateFormatter().date(from: text)
    }

    @Test func aDrillUnderPauseIONamesTheFaultAndItsStall() throws {
        let berth = try Berth()
        let run = try berth.run(["drill", "az-failure", "--format", "json", "--quiet", "--type", "efs",
                                 "--pause-io", "1s", "--fail-at", "3s", "--duration", "4s"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let fault = report["fault"] as? [String: Any]
        #expect(fault?["kind"] as? String == "pause-io")
        #expect(fault?["fisAction"] as? String == "aws:ebs:pause-volume-io")
        // The writer's records wait out the pause: two acknowledgements at least the pause apart.
        #expect((report["longestWriteStallSeconds"] as? Double ?? 0) >= 0.95, "\(report["longestWriteStallSeconds"] ?? "none")")
        #expect(report["corruptRecords"] as? Int == 0 && report["recordsLost"] as? Int == 0)
        let bad = try berth.run(["drill", "az-failure", "--type", "efs", "--pause-io", "1s", "--latency", "5ms"])
        #expect(bad.status == 64 && bad.stderr.contains("not both"), "\(bad.stderr)")
    }
}
