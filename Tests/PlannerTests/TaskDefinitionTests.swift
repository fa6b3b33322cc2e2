import Foundation
import StorageCatalog
import Testing
@testable import StoragePlanner
import Workloads

@Suite struct TaskDefinitionTests {
    func draft(_ file: String, _ options: TaskDefinitionOptions = .init()) throws -> TaskDefinitionDraft {
        try TaskDefinitionBuilder.build(Planner().recommend(try Fixtures.profile(file)), options: options)
    }

    func volume(_ d: TaskDefinitionDraft) throws -> JSONValue {
        guard case .array(let volumes) = try #require(d.taskDefinition["volumes"]), volumes.count == 1 else {
            throw TestFailure("expected exactly one volume")
        }
        return volumes[0]
    }

    struct TestFailure: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }

    @Test func optionsThatECSOrDockerWouldRefuseAreNamed() {
        #expect(TaskDefinitionOptions(family: "cms_uploads-2", containerPath: "/srv/data").problems(windows: false).isEmpty)
        #expect(TaskDefinitionOptions(containerPath: "/a/../b").problems(windows: false).isEmpty)
        for path in ["", "data", "./data", "/", "//", "/..", "/data/..", "/./."] {
            let problems = TaskDefinitionOptions(containerPath: path).problems(windows: false)
            #expect(problems.count == 1 && problems[0].hasPrefix("--container-path \"\(path)\""), "\(path)")
        }
        #expect(TaskDefinitionOptions(containerPath: "C:\\data").problems(windows: true).isEmpty)
        for path in ["/data", "data", "c:", "1:\\data"] {
            #expect(TaskDefinitionOptions(containerPath: path).problems(windows: true).count == 1, "\(path)")
        }
        for family in ["", "my family", "cms.uploads", String(repeating: "f", count: 256)] {
            #expect(TaskDefinitionOptions(family: family).problems(windows: false).count == 1, "\(family)")
        }
        #expect(TaskDefinitionOptions(family: String(repeating: "f", count: 255)).problems(windows: false).isEmpty)
    }

    @Test func efsOnFargate() throws {
        let d = try draft("cms-uploads.yaml", .init(image: "repo/cms:1"))
        #expect(d.service == .efs)
        #expect(d.taskDefinition["requiresCompatibilities"] == ["FARGATE"])
        #expect(d.taskDefinition["networkMode"] == "awsvpc")
        #expect(d.taskDefinition["runtimePlatform"]?["operatingSystemFamily"] == "LINUX")
        let efs = try #require(try volume(d)["efsVolumeConfiguration"])
        #expect(efs["transitEncryption"] == "ENABLED")
        #expect(efs["fileSystemId"] == "<EFS_FILE_SYSTEM_ID>")
        #expect(efs["rootDirectory"] == nil)  // must be omitted with an access point
        #expect(d.placeholders.contains { $0.placeholder == "<EFS_FILE_SYSTEM_ID>" })
        #expect(!d.placeholders.contains { $0.placeholder == "<IMAGE>" })
        guard case .array(let containers) = try #require(d.taskDefinition["containerDefinitions"]) else {
            Issue.record("containerDefinitions is not an array")
            return
        }
        #expect(containers.first?["image"] == "repo/cms:1")
        guard case .array(let mounts) = try #require(containers.first?["mountPoints"]) else {
            Issue.record("mountPoints is not an array")
            return
        }
        #expect(mounts.first?["sourceVolume"] == (try volume(d))["name"])
        #expect(mounts.first?["containerPath"] == "/data")
    }

    @Test func ebsIsConfiguredAtLaunchWithVolumeConfigurations() throws {
        let d = try draft("postgres-ec2.yaml", .init(containerPath: "/var/lib/postgresql/data"))
        #expect(d.service == .ebs)
        #expect(try volume(d)["configuredAtLaunch"] == true)
        let configs = try #require(d.volumeConfigurations)
        guard case .array(let list) = configs else { Issue.record("not an array"); return }
        let managed = try #require(list.first?["managedEBSVolume"])
        #expect(managed["volumeType"] == "gp3")
        #expect(managed["sizeInGiB"] == 500)
        #expect(managed["roleArn"] == "<ECS_INFRASTRUCTURE_ROLE_ARN>")
        #expect(managed["filesystemType"] == "xfs")
        #expect(d.taskDefinition["requiresCompatibilities"] == ["EC2"])
    }

    @Test func readOnlyEBSFansOutFromASnapshot() throws {
        let d = try draft("reference-data.yaml")
        guard case .array(let list) = try #require(d.volumeConfigurations) else {
            Issue.record("volumeConfigurations is not an array")
            return
        }
        #expect(list.first?["managedEBSVolume"]?["snapshotId"] == "<EBS_SNAPSHOT_ID>")
        #expect(d.taskDefinition["runtimePlatform"]?["cpuArchitecture"] == "ARM64")
        guard case .array(let containers) = try #require(d.taskDefinition["containerDefinitions"]),
              case .array(let mounts) = try #require(containers.first?["mountPoints"]) else {
            Issue.record("containerDefinitions or its mountPoints is not an array")
            return
        }
        #expect(mounts.first?["readOnly"] == true)
    }

    @Test func fsxWindowsHasItsAuthorizationConfig() throws {
        let d = try draft("legacy-fileshare.yaml")
        #expect(d.service == .fsxWindows)
        let config = try #require(try volume(d)["fsxWindowsFileServerVolumeConfiguration"])
        #expect(config["fileSystemId"] == "<FSX_WINDOWS_FILE_SYSTEM_ID>")
        #expect(config["rootDirectory"] != nil)
        #expect(config["authorizationConfig"]?["credentialsParameter"] == "<CREDENTIALS_SECRET_ARN>")
        #expect(config["authorizationConfig"]?["domain"] == "<AD_DOMAIN>")
        #expect(d.taskDefinition["runtimePlatform"]?["operatingSystemFamily"] == "WINDOWS_SERVER_2019_CORE")
    }

    @Test(arguments: [("ml-training.json", ServiceID.fsxLustre), ("linux-fileserver-clones.yaml", .fsxOpenZFS), ("netapp-migration.yaml", .fsxONTAP)])
    func fsxThatECSDoesNotMountIsAHostBindMount(file: String, service: ServiceID) throws {
        let d = try draft(file)
        #expect(d.service == service)
        let host = try #require(try volume(d)["host"])
        guard case .string(let path) = try #require(host["sourcePath"]) else {
            Issue.record("host.sourcePath is not a string")
            return
        }
        #expect(path.hasPrefix("/mnt/berth/"))
        #expect(d.notes.contains { $0.contains(path) && $0.contains("mount") })
        #expect(d.taskDefinition["requiresCompatibilities"] == ["EC2"])
    }

    @Test func nothingFitsIsAnError() {
        let r = Planner().recommend(Fixtures.minimal(os: .windows, launch: .fargate, sharing: .shared, tasks: 2))
        #expect(throws: NoServiceFitsError.self) { try TaskDefinitionBuilder.build(r) }
    }
}
