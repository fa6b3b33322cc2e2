import Foundation
import Testing
@testable import TaskRunner

@Suite struct RefusalTests {
    func definition(volumes: String, mounts: String = "[]", os: String? = nil, compat: String = "[]") throws -> TaskDefinition {
        let platform = os.map { #", "runtimePlatform": {"operatingSystemFamily": "\#($0)"}"# } ?? ""
        return try TaskDefinitionParser.parse(Data("""
            {"requiresCompatibilities": \(compat)\(platform), "volumes": \(volumes),
             "containerDefinitions": [{"name": "app", "image": "i", "mountPoints": \(mounts)}]}
            """.utf8), file: "td.json")
    }

    func refusals(_ definition: TaskDefinition, _ launch: LaunchTarget.LaunchType?, ebs: Set<String> = []) -> [RunRefusal] {
        RunRefusals.check(definition, target: LaunchTarget.resolve(definition, requested: launch), launchVolumes: ebs)
    }

    @Test func launchTypeFollowsFlagThenCompatibilities() throws {
        let both = try definition(volumes: "[]", compat: #"["EC2", "FARGATE"]"#)
        #expect(LaunchTarget.resolve(both, requested: nil).launchType == .fargate)
        #expect(LaunchTarget.resolve(both, requested: .ec2).launchType == .ec2)
        #expect(LaunchTarget.resolve(try definition(volumes: "[]"), requested: nil).launchType == .ec2)
        #expect(LaunchTarget.resolve(try definition(volumes: "[]", os: "WINDOWS_SERVER_2022_CORE"), requested: nil).windows)
    }

    @Test func hostAndDockerVolumesAreRefusedOnFargateOnly() throws {
        let host = try definition(volumes: #"[{"name": "h", "host": {"sourcePath": "/srv"}}]"#)
        #expect(refusals(host, .fargate).map(\.errorName) == ["ClientException"])
        #expect(refusals(host, .ec2).isEmpty)
        let scratch = try definition(volumes: #"[{"name": "h"}]"#)
        #expect(refusals(scratch, .fargate).isEmpty)
        let docker = try definition(volumes: #"[{"name": "d", "dockerVolumeConfiguration": {"scope": "task"}}]"#)
        #expect(refusals(docker, .fargate).first?.message.contains("dockerVolumeConfiguration") == true)
        #expect(refusals(docker, .ec2).isEmpty)
    }

    @Test func fsxWindowsNeedsWindowsOnEC2AndEFSNeedsLinux() throws {
        let fsx = #"[{"name": "f", "fsxWindowsFileServerVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "share"}}]"#
        #expect(refusals(try definition(volumes: fsx), .ec2).first?.message.contains("needs a Windows task") == true)
        #expect(refusals(try definition(volumes: fsx, os: "WINDOWS_SERVER_2019_FULL"), .fargate).first?.message.contains("Fargate") == true)
        #expect(refusals(try definition(volumes: fsx, os: "WINDOWS_SERVER_2019_FULL"), .ec2).isEmpty)
        let efs = #"[{"name": "e", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]"#
        #expect(refusals(try definition(volumes: efs, os: "WINDOWS_SERVER_2019_FULL"), .ec2).count == 1)
        #expect(refusals(try definition(volumes: efs), .fargate).isEmpty)
    }

    @Test func efsAuthorizationRules() throws {
        let iam = #"[{"name": "e", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}}}]"#
        #expect(refusals(try definition(volumes: iam), .fargate).first?.message.contains("transit encryption") == true)
        let accessPoint = #"[{"name": "e", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/x", "authorizationConfig": {"accessPointId": "fsap-1"}}}]"#
        let both = refusals(try definition(volumes: accessPoint), .fargate)
        #expect(both.count == 2)
        #expect(both.contains { $0.path == "volumes[0].efsVolumeConfiguration.rootDirectory" })
        let good = #"[{"name": "e", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/", "transitEncryption": "ENABLED", "authorizationConfig": {"accessPointId": "fsap-1", "iam": "ENABLED"}}}]"#
        #expect(refusals(try definition(volumes: good), .fargate).isEmpty)
    }

    @Test func configuredAtLaunchNeedsItsEBSConfiguration() throws {
        let ebs = try definition(volumes: #"[{"name": "db", "configuredAtLaunch": true}]"#)
        #expect(refusals(ebs, .fargate).map(\.errorName) == ["InvalidParameterException"])
        #expect(refusals(ebs, .fargate, ebs: ["db"]).isEmpty)
        #expect(refusals(ebs, .fargate, ebs: ["db", "other"]).first?.message.contains("no volume 'other'") == true)
    }

    @Test func mountPointsMustNameAVolume() throws {
        let refused = refusals(try definition(volumes: "[]", mounts: #"[{"sourceVolume": "ghost", "containerPath": "/g"}]"#), .ec2)
        #expect(refused.count == 1)
        #expect(refused.first?.path == "containerDefinitions[0].mountPoints[0]")
        #expect(refused.first?.description.hasPrefix("ClientException: container 'app' mounts sourceVolume 'ghost'") == true)
    }
}

@Suite struct PlanTests {
    @Test func tasksSpreadRoundRobinOverZones() {
        #expect(TaskPlacement.zones(count: 5, over: ["a", "b", "c"]) == ["a", "b", "c", "a", "b"])
        #expect(TaskPlacement.zones(count: 2, over: ["b"]) == ["b", "b"])
        #expect(TaskPlacement.zones(count: 0, over: ["a"]).isEmpty)
        #expect(TaskPlacement.taskID(runID: "run-0123456789ab", index: 0) == "0123456789ab-1")
    }

    @Test func launchOptionsParse() {
        #expect(EBSLaunchConfiguration(parsing: "db=10") == EBSLaunchConfiguration(name: "db", sizeGiB: 10))
        #expect(EBSLaunchConfiguration(parsing: "db=10:gp3:snap-1") == EBSLaunchConfiguration(name: "db", sizeGiB: 10, volumeType: "gp3", snapshotID: "snap-1"))
        #expect(EBSLaunchConfiguration(parsing: "db=10:snap-1")?.snapshotID == "snap-1")
        for bad in ["db", "=10", "db=0", "db=x", "db=1:a:b:c", "db=1:gp3:io2"] { #expect(EBSLaunchConfiguration(parsing: bad) == nil, "\(bad)") }
        #expect(VolumeOverride(parsing: "data=fs-1")?.volumeID == "fs-1")
        #expect(VolumeOverride(parsing: "=fs-1") == nil && VolumeOverride(parsing: "data=") == nil)
        #expect(ResourceLimit(parsing: "nofile=1024:2048") == ResourceLimit(name: "nofile", soft: 1024, hard: 2048))
        #expect(ResourceLimit(parsing: "nofile=2048:1024") == nil)
    }

    @Test func volumesResolvePerTask() throws {
        let definition = try TaskDefinitionParser.parse(Data("""
            {"volumes": [
              {"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "fs-00000000000000001", "rootDirectory": "/app"}},
              {"name": "db", "configuredAtLaunch": true},
              {"name": "cache", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}},
              {"name": "logs", "host": {"sourcePath": "/var/log"}}, {"name": "tmp"}],
             "containerDefinitions": [{"name": "app", "image": "i"}]}
            """.utf8), file: "td.json")
        let types = ["fs-00000000000000001": "efs", "fs-00000000000000002": "efs"]
        let sources = try VolumePlanner.sources(
            for: definition, runID: "run-0123456789ab", taskID: "0123456789ab-1", overrides: [:],
            ebs: ["db": EBSLaunchConfiguration(name: "db", sizeGiB: 5)], existing: { types[$0] })
        #expect(sources.map(\.1) == [
            .emulated(volumeID: "fs-00000000000000001", type: "efs", rootDirectory: "/app", accessPointID: nil),
            .newEBS(EBSLaunchConfiguration(name: "db", sizeGiB: 5)),
            .engineVolume(name: "berth-run-0123456789ab-0123456789ab-1-cache", taskScoped: true, driver: "local", options: [:], labels: [:]),
            .hostPath("/var/log"), .scratch,
        ])
        let overridden = try VolumePlanner.sources(for: definition, runID: "run-0123456789ab", taskID: "t", overrides: ["shared": "fs-00000000000000002"],
                                                   ebs: [:], existing: { types[$0] })
        #expect(overridden.first?.1 == .emulated(volumeID: "fs-00000000000000002", type: "efs", rootDirectory: "/app", accessPointID: nil))
        #expect(throws: VolumePlanner.Failure.self) {
            try VolumePlanner.sources(for: definition, runID: "r", taskID: "t", overrides: [:], ebs: [:], existing: { _ in nil })
        }
        do {
            _ = try VolumePlanner.sources(for: definition, runID: "r", taskID: "t", overrides: [:], ebs: [:], existing: { _ in nil })
        } catch {
            #expect(error.description.hasPrefix("FileSystemNotFound: fs-00000000000000001 (volume 'shared', volumes[0])"))
            #expect(error.description.contains("berth volume list"))
        }
        #expect(throws: VolumePlanner.Failure.wrongType(volume: "shared", id: "fs-00000000000000001", expected: "efs", actual: "fsx-windows")) {
            try VolumePlanner.sources(for: definition, runID: "r", taskID: "t", overrides: [:], ebs: [:], existing: { _ in "fsx-windows" })
        }
    }
}

@Suite struct EngineCommandTests {
    let container = ContainerDefinition(
        name: "app", image: "localhost/app:1", command: ["-c", "echo hi"], entryPoint: ["/bin/sh", "-e"],
        environment: [EnvironmentVariable(name: "MODE", value: "test")], workingDirectory: "/data", user: "1000",
        volumesFrom: [VolumeFrom(sourceContainer: "init", readOnly: true)])

    @Test func createLineCarriesEveryHonouredField() {
        let line = EngineCommands.create(
            engine: .podman, runID: "run-0123456789ab", taskID: "0123456789ab-2", container: container,
            mounts: [ContainerMount(source: .bind("/run/berth/x/data"), containerPath: "/data", readOnly: true),
                     ContainerMount(source: .engineVolume("cache"), containerPath: "/cache", readOnly: false)],
            limits: [ResourceLimit(name: "nofile", soft: 1024, hard: 1024)], network: "none")
        #expect(line == [
            "create", "--pull", "never", "--name", "berth-0123456789ab-2-app",
            "--label", "berth.run=run-0123456789ab", "--label", "berth.task=0123456789ab-2", "--label", "berth.container=app",
            "--ulimit", "nofile=1024:1024", "--network", "none",
            "--volume", "/run/berth/x/data:/data:ro", "--volume", "cache:/cache",
            "--volumes-from", "berth-0123456789ab-2-init:ro", "--env", "BERTH_TASK_ID=0123456789ab-2", "--env", "MODE=test", "--workdir", "/data", "--user", "1000",
            "--entrypoint", "/bin/sh", "localhost/app:1", "-e", "-c", "echo hi",
        ])
    }

    @Test func engineSpecificCommands() {
        #expect(Engine.podman.imageExistsArguments("x") == ["image", "exists", "x"])
        #expect(Engine.docker.imageExistsArguments("x").prefix(2) == ["image", "inspect"])
        #expect(Engine.docker.infoArguments.first == "version")
        #expect(Engine.podman.globalArguments(runtime: "runc") == ["--runtime", "runc"])
        #expect(Engine.docker.globalArguments(runtime: "runc").isEmpty)
        #expect(Engine.podman.loadAdvice("a:1").contains("podman load"))
        #expect(EngineCommands.containerName(runID: "r", taskID: "t-1", container: "my app/1") == "berth-t-1-my_app_1")
        #expect(EngineCommands.linuxPath("C:\\data\\in") == "/data/in")
        #expect(EngineCommands.linuxPath("d:\\x") == "/x")
        #expect(EngineCommands.linuxPath("/already") == "/already")
    }
}
