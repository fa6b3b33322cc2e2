import BerthTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `berth run` for real: root, /dev/fuse, a container engine that answers and a static busybox to build
/// the test image from. Elsewhere these tests are reported as skipped, never as passed.
enum RunEnvironment {
    static let busybox = ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let podman = ["/usr/bin/podman", "/usr/local/bin/podman"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static let available: Bool = {
        guard geteuid() == 0, FileManager.default.fileExists(atPath: "/dev/fuse"), let podman, busybox != nil,
              let info = try? CommandRun.run(URL(fileURLWithPath: podman), ["info", "--format", "{{.Host.Arch}}"]), info.status == 0
        else { return false }
        return image != nil
    }()

    /// A busybox image with a default command, built by the test from the static busybox (no registry).
    static let image: String? = {
        guard let podman, let busybox else { return nil }
        return importBusyboxImage(engine: podman, busybox: busybox, named: "localhost/berth-test-busybox:1",
                                  applets: ["sh", "echo", "cat", "sleep", "ls", "id", "seq", "touch", "df", "wc", "stat",
                                            "hostname", "tail", "true", "mkdir", "rmdir", "chmod"])
    }()

    /// Imports a root file system of the static `busybox` and its `applets` into `engine`'s store as
    /// `name` (podman or docker: both take `import --change`), or nil when that fails.
    static func importBusyboxImage(engine: String, busybox: String, named name: String, applets: [String]) -> String? {
        let root = "/tmp/berth-run-image-\(getpid())-\((engine as NSString).lastPathComponent)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        do {
            try FileManager.default.createDirectory(atPath: root + "/rootfs/bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: busybox, toPath: root + "/rootfs/bin/busybox")
            for applet in applets {
                try FileManager.default.createSymbolicLink(atPath: root + "/rootfs/bin/" + applet, withDestinationPath: "busybox")
            }
            let tar = try CommandRun.run(URL(fileURLWithPath: "/bin/tar"), ["-C", root + "/rootfs", "-cf", root + "/rootfs.tar", "."])
            guard tar.status == 0 else { return nil }
            let imported = try CommandRun.run(URL(fileURLWithPath: engine),
                                              ["import", "--change", #"CMD ["sh", "-c", "echo default command ran"]"#, root + "/rootfs.tar", name])
            return imported.status == 0 ? name : nil
        } catch {
            return nil
        }
    }
}

/// One test's state directory, run directory and files.
struct RunScratch {
    let root: String
    var state: String { root + "/state" }
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["BERTH_STATE_DIR"] = state
        environment["BERTH_RUN_DIR"] = root + "/runs"
        return environment
    }

    init() throws {
        root = "/tmp/berth-run-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o700)
    }

    func berth(_ arguments: [String]) throws -> CommandRun {
        try CommandRun.run(try BuiltBinary.berth(), arguments, environment: environment)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = root + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// What the run left: containers of the engine labelled with a run of this test, berth mounts under
    /// its run directory, attachments, EBS volumes, runs.
    func leftovers() throws -> [String] {
        var left: [String] = []
        let mounts = (FileHandle(forReadingAtPath: "/proc/mounts").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }) ?? ""
        left += mounts.split(separator: "\n").filter { $0.contains(root + "/runs") }.map { "mount: \($0)" }
        let runs = try berth(["run", "list", "--format", "json"])
        if runs.trimmedStdout != "[]" { left.append("runs: \(runs.trimmedStdout)") }
        let volumes = try berth(["volume", "list", "--format", "json"]).stdout
        if let data = volumes.data(using: .utf8),
           let list = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] {
            for volume in list {
                if (volume["id"] as? String)?.hasPrefix("vol-") == true { left.append("EBS volume: \(volume["id"] ?? "")") }
                if let attachments = volume["attachments"] as? [Any], !attachments.isEmpty { left.append("attachments of \(volume["id"] ?? "")") }
            }
        }
        // Containers of this scratch's runs: those binding something under its directory (other sessions
        // on a shared machine run berth run tests too; every container these tests start binds a mount).
        if let podman = RunEnvironment.podman {
            let ids = try CommandRun.run(URL(fileURLWithPath: podman), ["ps", "--all", "--filter", "label=berth.run", "--format", "{{.ID}}"])
            for id in ids.stdout.split(separator: "\n") {
                let sources = try CommandRun.run(URL(fileURLWithPath: podman),
                                                 ["inspect", "--format", "{{.Name}}{{range .Mounts}} {{.Source}}{{end}}", String(id)])
                if sources.stdout.contains(" " + root + "/") { left.append("container: \(sources.trimmedStdout)") }
            }
        }
        return left
    }

    func remove() {
        _ = try? berth(["volume", "list"])
        try? FileManager.default.removeItem(atPath: root)
    }
}

@Suite(.serialized, .enabled(if: RunEnvironment.available, "needs root, /dev/fuse, a podman that answers and busybox-static"))
struct RunEndToEndTests {
    let image = RunEnvironment.image ?? "missing"

    func taskDefinition(volumes: String, command: String, mounts: String, extra: String = "") -> String {
        """
        {"family": "t", \(extra)"volumes": \(volumes),
         "containerDefinitions": [{"name": "app", "image": "\(image)", "command": ["sh", "-c", \(jsonString(command))],
           "mountPoints": \(mounts)}]}
        """
    }

    func jsonString(_ text: String) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: [text])) ?? Data("[\"\"]".utf8), as: UTF8.self).dropFirst().dropLast().description
    }

    @Test func threeEFSTasksInThreeAZsAppendingToOneFileLoseNoLine() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let fs = try scratch.berth(["volume", "create", "--type", "efs", "--az", "us-east-1a"]).trimmedStdout
        let file = try scratch.write("td.json", taskDefinition(
            volumes: #"[{"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "\#(fs)"}}]"#,
            // Under a lock, as appenders on EFS must: NFS has no atomic append, so unlocked appends from
            // several clients can overwrite each other there too (open(2), O_APPEND: "may lead to corrupted
            // files on NFS filesystems if more than one process appends data to a file at once").
            // The lock is a directory (mkdir is atomic on the server; Debian's busybox has no flock).
            command: #"i=0; while [ $i -lt 200 ]; do until mkdir /data/lock 2>/dev/null; do :; done; echo "$BERTH_TASK_ID line $i" >> /data/log; rmdir /data/lock; i=$((i+1)); done; echo done"#,
            mounts: #"[{"sourceVolume": "shared", "containerPath": "/data"}]"#, extra: #""requiresCompatibilities": ["FARGATE"], "#))
        let run = try scratch.berth(["run", file, "--count", "3", "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let tasks = try #require(summary["tasks"] as? [[String: Any]])
        #expect(Set(tasks.compactMap { $0["az"] as? String }) == ["us-east-1a", "us-east-1b", "us-east-1c"])
        #expect(summary["exitCode"] as? Int == 0)
        let log = try String(contentsOfFile: scratch.state + "/volumes/\(fs)/data/log", encoding: .utf8)
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 600)
        let expected = Set(tasks.compactMap { $0["taskId"] as? String }.flatMap { task in (0..<200).map { "\(task) line \($0)" } })
        #expect(Set(lines.map(String.init)) == expected)
        #expect(try scratch.leftovers().isEmpty)
    }

    @Test func ebsConfiguredAtLaunchIsOneNewVolumePerTaskInItsAZ() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let file = try scratch.write("td.json", taskDefinition(
            volumes: #"[{"name": "db", "configuredAtLaunch": true}]"#,
            command: "echo $BERTH_TASK_ID > /db/owner; ls /db | wc -l; df -k /db | tail -1",
            mounts: #"[{"sourceVolume": "db", "containerPath": "/db"}]"#))
        let run = try scratch.berth(["run", file, "--count", "2", "--az", "us-east-1a", "--az", "us-east-1c", "--ebs", "db=3:gp3",
                                     "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let tasks = try #require(summary["tasks"] as? [[String: Any]])
        #expect(tasks.compactMap { $0["az"] as? String } == ["us-east-1a", "us-east-1c"])
        let volumes = tasks.compactMap { ($0["volumes"] as? [[String: Any]])?.first }
        #expect(volumes.compactMap { $0["type"] as? String } == ["ebs", "ebs"])
        let ids = volumes.compactMap { $0["volumeId"] as? String }
        #expect(Set(ids).count == 2 && ids.allSatisfy { $0.hasPrefix("vol-") })
        // Each task saw only its own new, empty volume of 3 GiB (1 file: the one it wrote).
        #expect(run.stderr.components(separatedBy: "] 1\n").count - 1 == 2, "\(run.stderr)")
        #expect(run.stderr.contains("3145728"), "df shows the 3 GiB size: \(run.stderr)")
        #expect(try scratch.leftovers().isEmpty, "deleted when the task stops")
    }

    @Test func anAccessPointsUserIsTheIdentityAndItsCreationInfoMakesTheRoot() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let fs = try scratch.berth(["volume", "create", "--type", "efs", "--az", "us-east-1a"]).trimmedStdout
        let owner = try scratch.berth(["access-point", "create", fs, "--root-directory", "/apps/one", "--posix-user", "1000:1000",
                                       "--creation-info", "1000:1000:750"]).trimmedStdout
        let stranger = try scratch.berth(["access-point", "create", fs, "--root-directory", "/apps/one", "--posix-user", "2000:2000"]).trimmedStdout
        #expect(owner.hasPrefix("fsap-") && stranger.hasPrefix("fsap-"))
        func definition(_ accessPoint: String, creating name: String) -> String {
            taskDefinition(
                volumes: #"[{"name": "v", "efsVolumeConfiguration": {"fileSystemId": "\#(fs)", "transitEncryption": "ENABLED", "authorizationConfig": {"accessPointId": "\#(accessPoint)"}}}]"#,
                command: "id -u; touch /data/\(name) && echo wrote", mounts: #"[{"sourceVolume": "v", "containerPath": "/data"}]"#)
        }
        let run = try scratch.berth(["run", try scratch.write("owner.json", definition(owner, creating: "made-by-root"))])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("] 0\n") && run.stdout.contains("] wrote"), "the container runs as root: \(run.stdout)")
        var info = stat()
        #expect(stat(scratch.state + "/volumes/\(fs)/data/apps/one", &info) == 0)
        #expect(info.st_uid == 1000 && info.st_gid == 1000 && info.st_mode & 0o7777 == 0o750)
        #expect(stat(scratch.state + "/volumes/\(fs)/data/apps/one/made-by-root", &info) == 0)
        #expect(info.st_uid == 1000 && info.st_gid == 1000, "created as the access point's user, not root")
        // Root in the container, 2000 through the access point: the 0750 directory of 1000 refuses it.
        let refused = try scratch.berth(["run", try scratch.write("stranger.json", definition(stranger, creating: "by-stranger"))])
        #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("Permission denied"))
        #expect(!FileManager.default.fileExists(atPath: scratch.state + "/volumes/\(fs)/data/apps/one/by-stranger"))
        // Existing files too: a container running as 2000 reads 1000's 0600 file through the 1000 access
        // point, and may not chmod a file of 2000's own there (the access point's user does not own it).
        let data = scratch.state + "/volumes/\(fs)/data/apps/one"
        try "for 1000 only\n".write(toFile: data + "/secret", atomically: false, encoding: .utf8)
        try "2000's\n".write(toFile: data + "/of-2000", atomically: false, encoding: .utf8)
        #expect(chown(data + "/secret", 1000, 1000) == 0 && chmod(data + "/secret", 0o600) == 0)
        #expect(chown(data + "/of-2000", 2000, 2000) == 0 && chmod(data + "/of-2000", 0o644) == 0)
        let asUser = #"""
            {"family": "t", "volumes": [{"name": "v", "efsVolumeConfiguration": {"fileSystemId": "\#(fs)", "transitEncryption": "ENABLED", "authorizationConfig": {"accessPointId": "\#(owner)"}}}],
             "containerDefinitions": [{"name": "app", "image": "\#(image)", "user": "2000:2000",
               "command": ["sh", "-c", "id -u; cat /data/secret; chmod 600 /data/of-2000 || echo chmod refused"],
               "mountPoints": [{"sourceVolume": "v", "containerPath": "/data"}]}]}
            """#
        let read = try scratch.berth(["run", try scratch.write("as-2000.json", asUser)])
        #expect(read.status == 0, "\(read.stdout)\(read.stderr)")
        #expect(read.stdout.contains("] 2000\n") && read.stdout.contains("] for 1000 only\n") && read.stdout.contains("] chmod refused"),
                "\(read.stdout)\(read.stderr)")
        #expect(try scratch.leftovers().isEmpty)
    }

    /// Starts a run of two tasks holding an EFS mount and a new EBS volume each; returns it once both
    /// containers have printed, with the run's id.
    func startLongRun(_ scratch: RunScratch) throws -> (Process, String) {
        let fs = try scratch.berth(["volume", "create", "--type", "efs", "--az", "us-east-1a"]).trimmedStdout
        let file = try scratch.write("td.json", taskDefinition(
            volumes: #"[{"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "\#(fs)"}}, {"name": "db", "configuredAtLaunch": true}]"#,
            command: "echo started; while true; do sleep 1; done",
            mounts: #"[{"sourceVolume": "shared", "containerPath": "/data"}, {"sourceVolume": "db", "containerPath": "/db"}]"#))
        let process = Process()
        process.executableURL = try BuiltBinary.berth()
        process.arguments = ["run", file, "--count", "2", "--ebs", "db=1"]
        process.environment = scratch.environment
        let output = scratch.root + "/out.txt"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        var started = 0
        for _ in 0..<600 where started < 2 {
            usleep(100_000)
            started = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").components(separatedBy: "started").count - 1
        }
        #expect(started == 2)
        let runs = try scratch.berth(["run", "list", "--format", "json"]).stdout
        let list = try JSONSerialization.jsonObject(with: Data(runs.utf8)) as? [[String: Any]]
        return (process, list?.first?["runId"] as? String ?? "")
    }

    /// Pids of the `_run-reaper` processes watching `runID`.
    func reapers(of runID: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
            let command = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))).map {
                String(decoding: $0.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            } ?? ""
            return command.contains("_run-reaper --run-id \(runID)")
        }
    }

    @Test func aSIGKILLedRunIsReleasedByItsWatcher() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let (process, runID) = try startLongRun(scratch)
        #expect(try !scratch.leftovers().isEmpty, "the run holds containers, mounts and volumes while it runs")
        var watchers = reapers(of: runID)
        for _ in 0..<100 where watchers.isEmpty {
            usleep(50_000)
            watchers = reapers(of: runID)
        }
        #expect(watchers.count == 1)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // No berth command in between: the watcher itself releases everything, then exits.
        for _ in 0..<1200 where !reapers(of: runID).isEmpty { usleep(50_000) }
        #expect(reapers(of: runID).isEmpty)
        #expect(try scratch.leftovers().isEmpty)
    }

    @Test func aSIGKILLedRunWithoutItsWatcherIsClearedByTheNextCommand() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let (process, runID) = try startLongRun(scratch)
        for _ in 0..<100 where reapers(of: runID).isEmpty { usleep(50_000) }
        for pid in reapers(of: runID) { kill(pid, SIGKILL) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // The next berth command, whatever it is, clears it.
        _ = try scratch.berth(["az", "list"])
        #expect(try scratch.leftovers().isEmpty)
    }

    @Test func azFailDuringARunCutsOffOnlyTheTasksInThatAZ() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let fs = try scratch.berth(["volume", "create", "--type", "efs", "--az", "us-east-1a"]).trimmedStdout
        let file = try scratch.write("td.json", taskDefinition(
            volumes: #"[{"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "\#(fs)"}}]"#,
            command: #"echo started; while true; do if echo x >> /data/beat; then echo ok; else echo CUT-OFF; fi; sleep 0.2; done"#,
            mounts: #"[{"sourceVolume": "shared", "containerPath": "/data"}]"#))
        let process = Process()
        process.executableURL = try BuiltBinary.berth()
        process.arguments = ["run", file, "--count", "3", "--stop-timeout", "1"]
        process.environment = scratch.environment
        let output = scratch.root + "/out.txt"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        func text() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        for _ in 0..<600 where text().components(separatedBy: "started").count - 1 < 3 { usleep(100_000) }
        #expect(try scratch.berth(["az", "fail", "us-east-1b"]).status == 0)
        for _ in 0..<600 where !text().contains("CUT-OFF") { usleep(100_000) }
        #expect(try scratch.berth(["az", "recover", "us-east-1b"]).status == 0)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let cutOff = Set(text().split(separator: "\n").filter { $0.hasSuffix("] CUT-OFF") }.map { $0.prefix { $0 != " " } })
        #expect(cutOff.count == 1, "only the task in us-east-1b: \(cutOff)")
        #expect(cutOff.first?.hasSuffix("-2") == true, "the second task is the one placed in us-east-1b")
        #expect(try scratch.leftovers().isEmpty)
    }

    @Test func theEssentialContainersExitIsTheRunsAndVolumesFromWorks() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let file = try scratch.write("td.json", """
            {"volumes": [{"name": "scratch"}],
             "containerDefinitions": [
               {"name": "side", "image": "\(image)", "essential": false, "command": ["sh", "-c", "echo from-side > /shared/note; sleep 600"],
                "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/shared"}]},
               {"name": "app", "image": "\(image)", "volumesFrom": [{"sourceContainer": "side", "readOnly": true}],
                "command": ["sh", "-c", "while [ ! -s /shared/note ]; do sleep 0.1; done; cat /shared/note; exit 5"]}]}
            """)
        let run = try scratch.berth(["run", file, "--format", "json", "--stop-timeout", "1"])
        #expect(run.status == 5, "\(run.stderr)")
        #expect(run.stderr.contains("app] from-side"), "app read side's volume: \(run.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(summary["exitCode"] as? Int == 5)
        let containers = try #require(((summary["tasks"] as? [[String: Any]])?.first?["containers"]) as? [[String: Any]])
        #expect(containers.compactMap { $0["name"] as? String } == ["side", "app"])
        #expect(containers.last?["exitCode"] as? Int == 5)
        #expect(containers.first?["exitCode"] as? Int != nil, "the non-essential container was stopped when the essential one exited")
        #expect(try scratch.leftovers().isEmpty)
    }

    @Test func aDetachedRunKeepsRunningUntilRunStopReleasesIt() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let file = try scratch.write("td.json", taskDefinition(
            volumes: #"[{"name": "db", "configuredAtLaunch": true}]"#, command: "echo started; while true; do sleep 1; done",
            mounts: #"[{"sourceVolume": "db", "containerPath": "/db"}]"#))
        let detached = try scratch.berth(["run", file, "--ebs", "db=1", "--detach", "--stop-timeout", "1"])
        #expect(detached.status == 0, "\(detached.stderr)")
        let runID = detached.trimmedStdout
        #expect(runID.hasPrefix("run-"))
        let listed = try scratch.berth(["run", "list"])
        #expect(listed.stdout.contains(runID) && listed.stdout.contains("detached"), "\(listed.stdout)")
        #expect(try !scratch.leftovers().isEmpty, "still running after berth run returned")
        let stopped = try scratch.berth(["run", "stop", runID])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(try scratch.leftovers().isEmpty)
        let log = try String(contentsOfFile: scratch.root + "/runs/\(runID).log", encoding: .utf8)
        #expect(log.contains("app] started"))
    }

    @Test func efsRootDirectoryHostAndEngineVolumesOnEC2AndCtrlCReleasesThem() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let fs = try scratch.berth(["volume", "create", "--type", "efs", "--az", "us-east-1a"]).trimmedStdout
        let sub = scratch.state + "/volumes/\(fs)/data/sub"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        try "from efs /sub\n".write(toFile: sub + "/hello", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: scratch.root + "/hostdir", withIntermediateDirectories: true)
        try "from the host\n".write(toFile: scratch.root + "/hostdir/h", atomically: false, encoding: .utf8)
        let file = try scratch.write("td.json", taskDefinition(
            volumes: #"[{"name": "e", "efsVolumeConfiguration": {"fileSystemId": "\#(fs)", "rootDirectory": "/sub"}},"#
                + #" {"name": "h", "host": {"sourcePath": "\#(scratch.root)/hostdir"}},"#
                + #" {"name": "c", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}}]"#,
            command: "cat /efs/hello /host/h; echo engine > /cache/x && cat /cache/x; echo started; while true; do sleep 1; done",
            mounts: #"[{"sourceVolume": "e", "containerPath": "/efs"}, {"sourceVolume": "h", "containerPath": "/host"},"#
                + #" {"sourceVolume": "c", "containerPath": "/cache"}]"#, extra: #""requiresCompatibilities": ["EC2"], "#))
        let process = Process()
        process.executableURL = try BuiltBinary.berth()
        process.arguments = ["run", file, "--stop-timeout", "1"]
        process.environment = scratch.environment
        let output = scratch.root + "/out.txt"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = process.standardOutput
        try process.run()
        func text() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        for _ in 0..<600 where !text().contains("] started") { usleep(100_000) }
        #expect(text().contains("app] from efs /sub\n"), "the rootDirectory is the mount's root: \(text())")
        #expect(text().contains("app] from the host\n") && text().contains("app] engine\n"), "\(text())")
        let engineVolumes = { () -> String in
            guard let podman = RunEnvironment.podman else { return "" }
            return (try? CommandRun.run(URL(fileURLWithPath: podman), ["volume", "ls", "--filter", "label=berth.run", "--format", "{{.Name}}"]))?.trimmedStdout ?? ""
        }
        #expect(!engineVolumes().isEmpty, "the task's engine volume exists while it runs")
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(engineVolumes().isEmpty, "scope task: removed with the task")
        #expect(try scratch.leftovers().isEmpty)
        #expect(FileManager.default.fileExists(atPath: scratch.root + "/hostdir/h"), "the host path is the host's")
    }

    @Test func aMissingImageAndARefusalStartNothing() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let missing = try scratch.write("missing.json", #"{"containerDefinitions": [{"name": "a", "image": "localhost/not-here:0"}]}"#)
        let run = try scratch.berth(["run", missing])
        #expect(run.status == 1)
        #expect(run.stderr.contains("CannotPullContainerError: image localhost/not-here:0 is not in podman's local store"))
        #expect(run.stderr.contains("podman load"))
        let refused = try scratch.write("refused.json", #"{"requiresCompatibilities": ["FARGATE"], "volumes": [{"name": "h", "host": {"sourcePath": "/srv"}}], "containerDefinitions": [{"name": "a", "image": "\#(image)"}]}"#)
        let refusal = try scratch.berth(["run", refused])
        #expect(refusal.status == 1)
        #expect(refusal.stderr.contains("ClientException: host volume 'h'"))
        let colon = try scratch.write("colon.json", #"{"volumes": [{"name": "s"}], "containerDefinitions": [{"name": "a", "image": "\#(image)", "mountPoints": [{"sourceVolume": "s", "containerPath": "/data:exec"}]}]}"#)
        let colonRun = try scratch.berth(["run", colon])
        #expect(colonRun.status == 1)
        #expect(colonRun.stderr.contains("containerDefinitions[0].mountPoints[0]: error: containerPath \"/data:exec\" holds ':'"))
        let notJSON = try scratch.write("bad.json", "{\"containerDefinitions\": [}")
        let bad = try scratch.berth(["run", notJSON])
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix(notJSON + ":1:"), "\(bad.stderr)")
        #expect(try scratch.leftovers().isEmpty)
    }

    @Test(arguments: ["cms-uploads.yaml", "legacy-fileshare.yaml", "linux-fileserver-clones.yaml", "ml-training.json",
                      "netapp-migration.yaml", "postgres-ec2.yaml", "reference-data.yaml", "report-archive.yaml", "sqlserver-windows.yaml"])
    func everyProfilesTaskDefinitionRuns(_ profile: String) throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let path = BuiltBinary.packageRoot.appendingPathComponent("Profiles/" + profile).path
        let taskdef = try scratch.berth(["taskdef", path, "--image", image])
        #expect(taskdef.status == 0)
        let file = try scratch.write("td.json", taskdef.stdout)
        // EBS volumes come from the RunTask volume configuration berth taskdef prints on stderr.
        var arguments = ["run", file]
        if taskdef.stdout.contains("configuredAtLaunch"),
           let size = taskdef.stderr.range(of: #""sizeInGiB"\s*:\s*\d+"#, options: .regularExpression).map({ taskdef.stderr[$0].filter(\.isNumber) }) {
            arguments += ["--ebs", "data=\(min(Int(size) ?? 1, 20))"]
        }
        // Host paths of the FSx types (mounted on the instance in AWS) are made under the scratch directory.
        let text = taskdef.stdout.replacingOccurrences(of: "/mnt/berth/", with: scratch.root + "/host/")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let run = try scratch.berth(arguments)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("default command ran"))
        #expect(try scratch.leftovers().isEmpty)
    }
}
