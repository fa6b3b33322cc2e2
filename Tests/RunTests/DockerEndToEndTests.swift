import BerthTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `berth run --engine docker` for real: root, /dev/fuse, a docker whose daemon answers (the client's
/// own `DOCKER_HOST` or socket) and a static busybox to build the test image from. CI's docker client
/// has no daemon, so there these tests are reported as skipped, never as passed.
enum DockerEnvironment {
    static let docker = ["/usr/local/bin/docker", "/usr/bin/docker"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static let available: Bool = {
        guard geteuid() == 0, FileManager.default.fileExists(atPath: "/dev/fuse"), let docker, RunEnvironment.busybox != nil,
              let answer = try? CommandRun.run(URL(fileURLWithPath: docker), ["version", "--format", "{{.Server.Version}}"]),
              answer.status == 0
        else { return false }
        return image != nil
    }()

    /// The busybox image of `RunEnvironment`, imported into docker's store (no registry).
    static let image: String? = {
        guard let docker, let busybox = RunEnvironment.busybox else { return nil }
        return RunEnvironment.importBusyboxImage(engine: docker, busybox: busybox, named: "localhost/berth-test-busybox:docker",
                                                 applets: ["sh", "echo", "cat", "ls", "id", "touch", "chmod", "sleep", "df", "tail"])
    }()

    /// Containers of any berth run that docker still has.
    static func leftoverContainers() throws -> [String] {
        guard let docker else { return [] }
        let names = try CommandRun.run(URL(fileURLWithPath: docker), ["ps", "--all", "--filter", "label=berth.run", "--format", "{{.Names}}"])
        return names.stdout.split(separator: "\n").map { "docker container: \($0)" }
    }
}

@Suite(.serialized, .enabled(if: DockerEnvironment.available, "needs root, /dev/fuse, a docker daemon that answers and busybox-static"))
struct DockerEndToEndTests {
    let image = DockerEnvironment.image ?? "missing"

    @Test func twoTasksWithAnAccessPointAndAnEBSVolumeEachRunInDockerAndLeaveNothing() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let fs = try scratch.berth(["volume", "create", "--type", "efs", "--az", "us-east-1a"]).trimmedStdout
        let accessPoint = try scratch.berth(["access-point", "create", fs, "--root-directory", "/app", "--posix-user", "1000:1000",
                                             "--creation-info", "1000:1000:750"]).trimmedStdout
        #expect(accessPoint.hasPrefix("fsap-"))
        let file = try scratch.write("td.json", #"""
            {"family": "t", "requiresCompatibilities": ["FARGATE"],
             "volumes": [{"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "\#(fs)", "transitEncryption": "ENABLED",
                                                                      "authorizationConfig": {"accessPointId": "\#(accessPoint)"}}},
                         {"name": "db", "configuredAtLaunch": true}],
             "containerDefinitions": [{"name": "app", "image": "\#(image)",
               "command": ["sh", "-c", "touch /shared/$BERTH_TASK_ID; df -k /db | tail -1; echo task-done; exit 4"],
               "mountPoints": [{"sourceVolume": "shared", "containerPath": "/shared"}, {"sourceVolume": "db", "containerPath": "/db"}]}]}
            """#)
        let run = try scratch.berth(["run", file, "--engine", "docker", "--count", "2", "--ebs", "db=2", "--format", "json"])
        #expect(run.status == 4, "the essential container's exit status: \(run.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        let tasks = try #require(summary["tasks"] as? [[String: Any]])
        #expect(tasks.compactMap { $0["az"] as? String } == ["us-east-1a", "us-east-1b"])
        #expect(summary["exitCode"] as? Int == 4)
        let ids = tasks.compactMap { $0["taskId"] as? String }
        for id in ids {
            #expect(run.stderr.contains("[\(id) app] task-done"), "prefixed output of \(id): \(run.stderr)")
            var info = stat()
            // Made through the access point: as its user, whoever the container ran as (root here).
            #expect(stat(scratch.state + "/volumes/\(fs)/data/app/\(id)", &info) == 0 && info.st_uid == 1000 && info.st_gid == 1000)
        }
        #expect(run.stderr.split(separator: "\n").filter { $0.contains(" 2097152 ") }.count == 2, "each task's own 2 GiB EBS volume: \(run.stderr)")
        #expect(try scratch.leftovers().isEmpty)
        #expect(try DockerEnvironment.leftoverContainers().isEmpty)
    }

    @Test func aSIGKILLedDockerRunLeavesNoContainerMountOrVolume() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let file = try scratch.write("td.json", #"""
            {"family": "t", "volumes": [{"name": "db", "configuredAtLaunch": true}],
             "containerDefinitions": [{"name": "app", "image": "\#(image)", "command": ["sh", "-c", "echo started; while true; do sleep 1; done"],
               "mountPoints": [{"sourceVolume": "db", "containerPath": "/db"}]}]}
            """#)
        let process = Process()
        process.executableURL = try BuiltBinary.berth()
        process.arguments = ["run", file, "--engine", "docker", "--ebs", "db=1"]
        process.environment = scratch.environment
        let output = scratch.root + "/out.txt"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<600 where !((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("started") { usleep(100_000) }
        #expect(try !DockerEnvironment.leftoverContainers().isEmpty, "the run's container runs in docker")
        // The run's watcher (`berth _run-reaper`), started once the containers are starting.
        let runs = try JSONSerialization.jsonObject(with: Data(try scratch.berth(["run", "list", "--format", "json"]).stdout.utf8)) as? [[String: Any]]
        let runID = try #require(runs?.first?["runId"] as? String)
        func watching() -> Bool {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).contains { pid in
                guard Int32(pid) != nil, let line = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
                return String(decoding: line.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self).contains("_run-reaper --run-id \(runID)")
            }
        }
        for _ in 0..<100 where !watching() { usleep(50_000) }
        #expect(watching())
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // No berth command in between: the run's watcher releases everything (containers and mounts are
        // looked at directly; the state's records after).
        func left() throws -> [String] {
            let mounts = FileHandle(forReadingAtPath: "/proc/mounts").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) } ?? ""
            return try DockerEnvironment.leftoverContainers() + mounts.split(separator: "\n").filter { $0.contains(scratch.root) }.map(String.init)
        }
        var remaining = try left()
        for _ in 0..<200 where watching() || !remaining.isEmpty {
            usleep(100_000)
            remaining = try left()
        }
        #expect(!watching(), "the watcher exits once it has released the run")
        #expect(remaining.isEmpty, "\(remaining)")
        #expect(try scratch.leftovers().isEmpty)
    }

    @Test func aMissingImageIsNamedForDockerAndNothingStarts() throws {
        let scratch = try RunScratch()
        defer { scratch.remove() }
        let file = try scratch.write("td.json", """
            {"family": "t", "containerDefinitions": [{"name": "app", "image": "localhost/berth-no-such-image:1"}]}
            """)
        let run = try scratch.berth(["run", file, "--engine", "docker"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("CannotPullContainerError") && run.stderr.contains("docker"), "\(run.stderr)")
        #expect(try scratch.leftovers().isEmpty)
        #expect(try DockerEnvironment.leftoverContainers().isEmpty)
    }
}
