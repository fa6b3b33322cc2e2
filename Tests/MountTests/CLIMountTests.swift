import EmulatorCore
import BerthTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The emulator as users run it: `berth volume create`, `berth mount`, `berth unmount` against one state
/// directory, mounting for real. These are the rows of emulator.md's table that involve the state: who may
/// attach, from which AZ, on which platform, and what a killed server leaves behind.
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct CLIMountTests {
    /// One state directory and a place for mount points; unmounts whatever is left when done.
    final class Berth {
        let root = "/tmp/berth-cli-\(UUID().uuidString.prefix(8))"
        var state: String { root + "/state" }

        init() throws {
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        }

        deinit {
            // A background server may still be mounting when the test ends: its mount then appears after
            // the first look, and the removal stops at it (some full runs left such a directory behind).
            for _ in 0..<5 {
                let mounts = (FileHandle(forReadingAtPath: "/proc/mounts").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }) ?? ""
                for line in mounts.split(separator: "\n") {
                    let path = String(line.split(separator: " ").dropFirst().first ?? "")
                    if path.hasPrefix(root) { ServedMount.forceUnmount(path) }
                }
                if (try? FileManager.default.removeItem(atPath: root)) != nil || !FileManager.default.fileExists(atPath: root) { return }
                usleep(200_000)
            }
        }

        /// A new empty directory to mount on.
        func mountpoint(_ name: String) throws -> String {
            let path = root + "/" + name
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }

        func process(_ arguments: [String]) throws -> Process {
            let process = Process()
            process.executableURL = try ServedMount.berthBinary()
            process.arguments = arguments + ["--state-dir", state]
            return process
        }

        /// Runs berth to completion. A `--background` mount's server lets go of our pipes once ready.
        @discardableResult
        func run(_ arguments: String...) throws -> CLITestRun { try run(arguments) }

        func run(_ arguments: [String]) throws -> CLITestRun {
            try CommandRun.run(try ServedMount.berthBinary(), arguments + ["--state-dir", state])
        }

        func createVolume(_ arguments: String...) throws -> String {
            let run = try run(["volume", "create"] + arguments)
            guard run.status == 0 else { throw MountTestError.notReady("volume create: \(run.stderr)") }
            return run.trimmedStdout
        }

        /// A new 1 GiB ebs volume in us-east-1a, mounted at `mountpoint("a")`, for tests that fail that AZ;
        /// pair with `recoverAndCutOff`.
        func mountedEBSVolumeInUSEast1a() throws -> (volume: String, mountpoint: String) {
            let volume = try createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "1")
            let a = try mountpoint("a")
            #expect(try run("mount", volume, a, "--az", "us-east-1a", "--background").status == 0)
            return (volume, a)
        }

        /// Brings us-east-1a back and unmounts `mountpoint` whoever uses it (a test's clean-up).
        func recoverAndCutOff(_ mountpoint: String) {
            _ = try? run("az", "recover", "us-east-1a")
            _ = try? run("unmount", mountpoint, "--force")
        }

        /// The volume's attachments as `berth volume describe --format json` reports them.
        func attachments(_ id: String) throws -> [[String: Any]] {
            let run = try run("volume", "describe", id, "--format", "json")
            let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            return object?["attachments"] as? [[String: Any]] ?? []
        }
    }

    @Test func secondEBSAttachmentIsRefusedWithVolumeInUseAndChangesNothing() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "1")
        let first = try berth.run("mount", volume, try berth.mountpoint("a"), "--az", "us-east-1a", "--task", "t-1", "--background")
        #expect(first.status == 0, "\(first.stderr)")

        let second = try berth.run("mount", volume, try berth.mountpoint("b"), "--az", "us-east-1a", "--task", "t-2", "--background")
        #expect(second.status == 1)
        #expect(second.stderr.hasPrefix("VolumeInUse: \(volume)"))
        #expect(second.stderr.contains("t-1") && second.stderr.contains("us-east-1a"))
        #expect(!ServedMount.isMounted(berth.root + "/b"))
        #expect(try berth.attachments(volume).map { $0["task"] as? String } == ["t-1"])

        // A read-only second attachment is refused too: EBS volumes here are not Multi-Attach io2.
        let readOnly = try berth.run("mount", volume, berth.root + "/b", "--az", "us-east-1a", "--read-only", "--background")
        #expect(readOnly.stderr.hasPrefix("VolumeInUse"))

        #expect(try berth.run("unmount", berth.root + "/a").status == 0)
        #expect(!ServedMount.isMounted(berth.root + "/a"))
        #expect(try berth.attachments(volume).isEmpty)
        let again = try berth.run("unmount", berth.root + "/a")
        #expect(again.status == 1)
        #expect(again.stderr.hasPrefix("InvalidAttachment.NotFound"))
    }

    @Test func mountFromAnotherAZIsRefusedWithZoneMismatch() throws {
        let berth = try Berth()
        let ebs = try berth.createVolume("--type", "ebs", "--az", "us-east-1a")
        let run = try berth.run("mount", ebs, try berth.mountpoint("a"), "--az", "us-east-1b", "--background")
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("InvalidVolume.ZoneMismatch: \(ebs) is in us-east-1a; the task runs in us-east-1b"))
        #expect(!ServedMount.isMounted(berth.root + "/a"))

        let lustre = try berth.createVolume("--type", "fsx-lustre", "--az", "us-east-1a", "--size-gib", "1200")
        #expect(try berth.run("mount", lustre, berth.root + "/a", "--az", "us-east-1c", "--background")
            .stderr.hasPrefix("InvalidVolume.ZoneMismatch"))
        let oneZone = try berth.createVolume("--type", "efs", "--az", "us-east-1a", "--storage-class", "one-zone")
        let refused = try berth.run("mount", oneZone, berth.root + "/a", "--az", "us-east-1b", "--background")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(oneZone))
        #expect(try berth.attachments(oneZone).isEmpty)
    }

    @Test func platformChecksUseThePlannersFacts() throws {
        let berth = try Berth()
        let mountpoint = try berth.mountpoint("a")
        let efs = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let lustre = try berth.createVolume("--type", "fsx-lustre", "--az", "us-east-1a", "--size-gib", "1200")
        let windows = try berth.createVolume("--type", "fsx-windows", "--az", "us-east-1a", "--size-gib", "32")
        let refusals: [(String, [String])] = [
            (efs, ["--os", "windows"]), (lustre, ["--launch-type", "fargate"]), (lustre, ["--os", "windows"]),
            (windows, ["--launch-type", "fargate"]),
        ]
        for (volume, platform) in refusals {
            let run = try berth.run(["mount", volume, mountpoint, "--az", "us-east-1a", "--background"] + platform)
            #expect(run.status == 1, "\(volume) \(platform)")
            #expect(run.stderr.hasPrefix("UnsupportedOperation"), "\(run.stderr)")
            #expect(run.stderr.contains("https://docs.aws.amazon.com/"), "a refusal names its source: \(run.stderr)")
            #expect(try berth.attachments(volume).isEmpty)
        }
        // What the platforms do support mounts.
        let allowed: [(String, [String])] = [(efs, ["--launch-type", "fargate"]), (windows, ["--os", "windows"])]
        for (volume, platform) in allowed {
            let run = try berth.run(["mount", volume, mountpoint, "--az", "us-east-1a", "--background"] + platform)
            #expect(run.status == 0, "\(volume) \(platform): \(run.stderr)")
            let unmount = try berth.run("unmount", mountpoint)
            #expect(unmount.status == 0, "\(unmount.stderr)")
        }
    }

    @Test func dataFsyncedBeforeUnmountIsThereAfterTheNextMountAndDfShowsTheSize() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1b", "--size-gib", "3")
        let mountpoint = try berth.mountpoint("a")
        #expect(try berth.run("mount", volume, mountpoint, "--az", "us-east-1b", "--background").status == 0)
        var fs = statvfs()
        #expect(statvfs(mountpoint, &fs) == 0)
        #expect(UInt64(fs.f_blocks) * UInt64(fs.f_frsize) == 3 << 30)
        try FileManager.default.createDirectory(atPath: mountpoint + "/pgdata", withIntermediateDirectories: true)
        #expect(writeFile(mountpoint + "/pgdata/base.dat", Array(repeating: 0xC3, count: 200_000)) == 0)
        #expect(try berth.run("unmount", mountpoint).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: mountpoint).isEmpty)

        #expect(try berth.run("mount", volume, mountpoint, "--az", "us-east-1b", "--background").status == 0)
        #expect(readFile(mountpoint + "/pgdata/base.dat") == Array(repeating: 0xC3, count: 200_000))
        #expect(try berth.run("unmount", mountpoint).status == 0)
    }

    @Test func writesPastTheProvisionedSizeFailWithENOSPC() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "1")
        let mountpoint = try berth.mountpoint("a")
        #expect(try berth.run("mount", volume, mountpoint, "--az", "us-east-1a", "--background").status == 0)
        defer { _ = try? berth.run("unmount", mountpoint) }
        let fd = open(mountpoint + "/fill", O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0)
        let chunk = [UInt8](repeating: 7, count: 1 << 20)
        var written = 0
        var failure: Int32 = 0
        while written <= 2 << 30 {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { failure = errno; break }
            written += n
        }
        close(fd)
        #expect(failure == ENOSPC)
        // Within one block of 1 GiB: ext4 allocates the 1 GiB file's extent-tree block at writeback, and
        // a write's before/after measure sees it or not by timing (SEMANTICS.md §Capacity, "Not
        // enforced"). Seen in full runs under load: 4 KiB short once, 4 KiB over once.
        #expect(abs(written - (1 << 30)) <= 4096, "wrote \(written) bytes")
    }

    @Test func fiftyRacingMountsOfOneEBSVolumeGiveExactlyOneSuccess() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a")
        var processes: [(Process, Pipe)] = []
        for index in 0..<50 {
            let process = try berth.process(["mount", volume, try berth.mountpoint("m\(index)"), "--az", "us-east-1a",
                                             "--task", "t-\(index)", "--background"])
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            processes.append((process, err))
        }
        for (process, _) in processes { try process.run() }
        var statuses: [Int32] = []
        var refusals = 0
        for (process, err) in processes {
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            statuses.append(process.terminationStatus)
            if text.hasPrefix("VolumeInUse: \(volume)") { refusals += 1 }
        }
        #expect(statuses.filter { $0 == 0 }.count == 1)
        #expect(refusals == 49)
        let mounted = (0..<50).filter { ServedMount.isMounted(berth.root + "/m\($0)") }
        #expect(mounted.count == 1)
        #expect(try berth.attachments(volume).count == 1)
        for index in mounted { #expect(try berth.run("unmount", berth.root + "/m\(index)").status == 0) }
    }

    @Test func aSIGKILLedServerLeavesNoAttachmentAndNoDeadMountOnceBerthRunsAgain() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "1")
        let mountpoint = try berth.mountpoint("a")
        let mount = try berth.run("mount", volume, mountpoint, "--az", "us-east-1a", "--background")
        let pid = try #require(Int32(mount.trimmedStdout), "mount --background prints the server's pid")
        let fd = open(mountpoint + "/journal", O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0)
        let record = [UInt8]("committed\n".utf8)
        #expect(record.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == record.count)
        #expect(fsync(fd) == 0)
        close(fd)
        // A shell prompt or `ls -l` of the parent stats the mount point; on an EBS volume the kernel then
        // keeps its attributes for a day and answers stat from them even after the server died.
        var info = stat()
        #expect(stat(mountpoint, &info) == 0)

        kill(pid, SIGKILL)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(5)
        while kill(pid, 0) == 0, Date() < deadline { usleep(10_000) }  // not our child: poll until it is gone
        _ = waitpid(pid, &status, WNOHANG)
        #expect(ServedMount.isMounted(mountpoint), "the kernel keeps the dead mount until someone clears it")
        #expect(stat(mountpoint, &info) == 0, "stat is still answered from the cache")

        // Any berth command notices: the attachment is released and the dead mount point cleared.
        #expect(try berth.attachments(volume).isEmpty)
        #expect(!ServedMount.isMounted(mountpoint))
        #expect(try berth.run("mount", volume, mountpoint, "--az", "us-east-1a", "--background").status == 0)
        #expect(readFile(mountpoint + "/journal") == record)
        #expect(try berth.run("unmount", mountpoint).status == 0)
    }

    @Test func efsStandardIsSharedAcrossAZsWithCloseToOpen() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a", "--name", "uploads")
        let a = try berth.mountpoint("a"), b = try berth.mountpoint("b")
        #expect(try berth.run("mount", volume, a, "--az", "us-east-1a", "--task", "web-1", "--background").status == 0)
        #expect(try berth.run("mount", volume, b, "--az", "us-east-1c", "--task", "web-2", "--background").status == 0)
        #expect(writeFile(a + "/upload.png", [1, 2, 3, 4]) == 0)
        #expect(readFile(b + "/upload.png") == [1, 2, 3, 4])
        var fs = statvfs()
        #expect(statvfs(b, &fs) == 0)
        #expect(UInt64(fs.f_blocks) * UInt64(fs.f_frsize) >= 1 << 50, "EFS is elastic: df shows a very large size")
        #expect(try berth.attachments(volume).count == 2)
        #expect(try berth.run("unmount", a).status == 0)
        #expect(try berth.run("unmount", b).status == 0)
    }

    @Test func readOnlyMountThroughTheCLIRefusesChangesWithEROFS() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "fsx-ontap", "--az", "us-east-1a", "--size-gib", "1024")
        let mountpoint = try berth.mountpoint("a")
        #expect(try berth.run("mount", volume, mountpoint, "--az", "us-east-1a", "--read-only", "--background").status == 0)
        defer { _ = try? berth.run("unmount", mountpoint) }
        #expect(writeFile(mountpoint + "/new", [1]) == EROFS)
        #expect(mkdir(mountpoint + "/dir", 0o755) == -1 && errno == EROFS)
        #expect(try berth.attachments(volume).first?["readOnly"] as? Bool == true)
    }

    @Test func foregroundMountUnmountsAndReleasesOnSIGINT() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let mountpoint = try berth.mountpoint("a")
        let process = try berth.process(["mount", volume, mountpoint, "--az", "us-east-1a"])
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !ServedMount.isMounted(mountpoint), Date() < deadline { usleep(10_000) }
        #expect(ServedMount.isMounted(mountpoint))
        #expect(try berth.attachments(volume).count == 1)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(!ServedMount.isMounted(mountpoint))
        #expect(try berth.attachments(volume).isEmpty)
    }

    /// A caller that ignores SIGTERM (a shell's background job, a test runner) must not pass that on to
    /// the mount server, or `berth unmount` could never stop it.
    @Test func backgroundServerStopsEvenWhenItsCallerIgnoresSIGTERM() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a")
        let mountpoint = try berth.mountpoint("a")
        let launcher = Process()
        launcher.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        launcher.arguments = ["python3", "-c",
                              "import signal, subprocess, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                  + "signal.signal(signal.SIGINT, signal.SIG_IGN); sys.exit(subprocess.run(sys.argv[1:]).returncode)",
                              try ServedMount.berthBinary().path, "mount", volume, mountpoint, "--az", "us-east-1a",
                              "--background", "--state-dir", berth.state]
        launcher.standardOutput = Pipe()
        try launcher.run()
        launcher.waitUntilExit()
        #expect(launcher.terminationStatus == 0)
        // Its own --timeout bounds the wait: exit 0 means the server stopped and released the attachment.
        #expect(try berth.run("unmount", mountpoint, "--timeout", "5").status == 0)
        #expect(!ServedMount.isMounted(mountpoint))
        #expect(try berth.attachments(volume).isEmpty)
    }

    @Test func badMountRequestsAreRefusedAndChangeNothing() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let full = try berth.mountpoint("full")
        try Data("x".utf8).write(to: URL(fileURLWithPath: full + "/keep"))
        let cases: [([String], String)] = [
            (["mount", volume, berth.root + "/missing", "--az", "us-east-1a"], "does not exist"),
            (["mount", volume, full, "--az", "us-east-1a"], "is not empty"),
            (["mount", volume, try berth.mountpoint("a"), "--az", "us-east-1z"], "InvalidZone.NotFound"),
            (["mount", "vol-nothex", berth.root + "/a", "--az", "us-east-1a"], "InvalidVolumeID.Malformed"),
            (["mount", "fs-0123456789abcdef0", berth.root + "/a", "--az", "us-east-1a"], "FileSystemNotFound"),
        ]
        for (arguments, expected) in cases {
            let run = try berth.run(arguments + ["--background"])
            #expect(run.status == 1, "\(arguments)")
            #expect(run.stderr.contains(expected), "\(arguments): \(run.stderr)")
        }
        #expect(try berth.attachments(volume).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: full) == ["keep"])
    }

    // MARK: The state directory (issue 10 items 3, 8, 11, 13)

    @Test func anEmptiedDatabaseIsRefusedNotRecreatedAndStateRepairRestoresTheRecords() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a", "--name", "uploads")
        let data = berth.state + "/volumes/" + volume + "/data"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: data + "/file"))
        let snapshot = try berth.run("snapshot", "create", volume, "--wait").trimmedStdout
        for suffix in ["-wal", "-shm"] { unlink(berth.state + "/berth.sqlite" + suffix) }
        #expect(truncate(berth.state + "/berth.sqlite", 0) == 0)  // `: > berth.sqlite`

        for reading in [["volume", "list"], ["az", "list"], ["snapshot", "list"]] {
            let run = try berth.run(reading)
            #expect(run.status == 1, "\(reading)")
            #expect(run.stderr.contains("IncorrectState") && run.stderr.contains("berth state repair"), "\(reading): \(run.stderr)")
        }
        #expect(readFile(data + "/file") == Array("keep".utf8), "nothing was deleted")
        let check = try berth.run("state", "check")
        #expect(check.status == 1 && check.stdout.contains(volume) && check.stdout.contains(snapshot), "\(check.stdout)")
        #expect(readFile(berth.state + "/berth.sqlite")?.isEmpty == true, "check changes nothing")

        let repair = try berth.run("state", "repair")
        #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        #expect(try berth.run("state", "check").status == 0)
        let list = try berth.run("volume", "list")
        #expect(list.stdout.contains(volume) && list.stdout.contains("uploads"))
        #expect(try berth.run("snapshot", "list").stdout.contains(snapshot))
        #expect(readFile(data + "/file") == Array("keep".utf8))
    }

    @Test func aStateDirectoryOthersControlIsRefusedWithTheReason() throws {
        let berth = try Berth()
        try FileManager.default.removeItem(atPath: berth.state)
        #expect(FileManager.default.createFile(atPath: berth.state, contents: Data()))
        let asFile = try berth.run("volume", "list")
        #expect(asFile.status == 1 && asFile.stderr.contains("is not a directory"), "\(asFile.stderr)")
        try FileManager.default.removeItem(atPath: berth.state)
        try FileManager.default.createDirectory(atPath: berth.state, withIntermediateDirectories: true)
        #expect(chown(berth.state, 65534, 65534) == 0)
        let foreign = try berth.run("volume", "list")
        #expect(foreign.status == 1 && foreign.stderr.contains("is owned by"), "\(foreign.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: berth.state).isEmpty, "nothing made in it")
        #expect(chown(berth.state, 0, 0) == 0)
        #expect(chmod(berth.state, 0o777) == 0)
        let writable = try berth.run("volume", "list")
        #expect(writable.status == 1 && writable.stderr.contains("writable by"), "\(writable.stderr)")
    }

    @Test func aPlantedZoneFlagLinkIsRefusedAndItsTargetUntouched() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "1")
        let target = berth.root + "/shadow"
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createDirectory(atPath: berth.state + "/zones", withIntermediateDirectories: true)
        #expect(symlink(target, berth.state + "/zones/us-east-1a.down") == 0)
        for arguments in [["az", "list"], ["az", "fail", "us-east-1a"], ["mount", volume, try berth.mountpoint("m"), "--az", "us-east-1a", "--background"]] {
            let run = try berth.run(arguments)
            #expect(run.status == 1 && run.stderr.contains("symbolic link"), "\(arguments): \(run.stderr)")
        }
        #expect(readFile(target) == Array("secret\n".utf8))
        #expect(!ServedMount.isMounted(berth.root + "/m"))
    }

    @Test func aPlantedDataLinkIsNotServed() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "1")
        let secret = try berth.mountpoint("secret")
        try Data("root only".utf8).write(to: URL(fileURLWithPath: secret + "/file"))
        let data = berth.state + "/volumes/" + volume + "/data"
        try FileManager.default.removeItem(atPath: data)
        #expect(symlink(secret, data) == 0)
        let mountpoint = try berth.mountpoint("m")
        let run = try berth.run("mount", volume, mountpoint, "--az", "us-east-1a", "--background")
        #expect(run.status == 1 && run.stderr.contains("symbolic link"), "\(run.stderr)")
        #expect(!ServedMount.isMounted(mountpoint))
        #expect(try berth.attachments(volume).isEmpty)
    }

    /// A forged attachment whose pid is a process that is not a berth server: `berth unmount` must not
    /// signal it.
    @Test func unmountSignalsOnlyAVerifiedBerthServer() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { kill(sleeper.processIdentifier, SIGKILL) }
        let mountpoint = try berth.mountpoint("forged")
        let store = try StateStore(directory: StateDirectory(path: berth.state))
        try store.attach(volumeID: try VolumeID(parsing: volume), az: "us-east-1a", pid: sleeper.processIdentifier,
                         mountpoint: mountpoint)
        let run = try berth.run("unmount", mountpoint, "--timeout", "1")
        #expect(run.status == 1 && run.stderr.contains("was not signalled"), "\(run.stderr)")
        usleep(200_000)
        #expect(sleeper.isRunning, "the forged pid was not signalled")
    }

    /// `az fail` killed after its flag, before its commit: the next command of any kind clears the flag;
    /// an `az fail` that returned leaves it set.
    @Test func zoneFlagsAgreeWithTheDatabaseAfterAnyCommand() throws {
        let berth = try Berth()
        #expect(try berth.run("az", "list").status == 0)
        try FileManager.default.createDirectory(atPath: berth.state + "/zones", withIntermediateDirectories: true)
        let flag = try SharedFlag(path: berth.state + "/zones/us-east-1a.down")
        flag.set(true)
        let list = try berth.run("az", "list")
        #expect(list.status == 0 && list.stdout.contains("available"))
        #expect(!flag.isSet, "az list cleared the flag the killed az fail left")
        #expect(try berth.run("az", "fail", "us-east-1b").status == 0)
        let flagB = try SharedFlag(path: berth.state + "/zones/us-east-1b.down")
        #expect(flagB.isSet)
        flagB.set(false)  // az recover killed after its commit? no: the database says failed, so it comes back
        #expect(try berth.run("volume", "list").status == 0)
        #expect(flagB.isSet)
    }

    @Test func aNameOfSpacesIsRefused() throws {
        let berth = try Berth()
        let run = try berth.run("volume", "create", "--type", "ebs", "--az", "us-east-1a", "--name", "   ")
        #expect(run.status == 1 && run.stderr.contains("InvalidParameterValue"), "\(run.stderr)")
        #expect(try berth.run("volume", "list", "--format", "json").trimmedStdout == "[]")
    }

    @Test func freezeAcknowledgementFilesDoNotPileUp() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let mountpoint = try berth.mountpoint("m")
        for _ in 0..<3 {
            #expect(try berth.run("mount", volume, mountpoint, "--az", "us-east-1a", "--background").status == 0)
            #expect(try berth.run("snapshot", "create", volume, "--wait").status == 0)
            #expect(try berth.run("unmount", mountpoint).status == 0)
        }
        let shared = try FileManager.default.contentsOfDirectory(atPath: berth.state + "/volumes/" + volume + "/shared")
        #expect(shared.filter { $0.hasPrefix("freeze-ack.") }.isEmpty, "\(shared)")
    }
}

typealias CLITestRun = CommandRun
