import BerthTestSupport
import Foundation
import Testing

/// End-to-end: the built `berth` binary, as users and scripts run it.
@Suite struct CLITests {
    static let root = BuiltBinary.packageRoot

    typealias Run = CommandRun

    static func berthBinary() throws -> URL { try BuiltBinary.berth() }

    static func berth(_ arguments: String...) throws -> Run {
        try CommandRun.run(try berthBinary(), arguments, in: root)
    }

    static func temporaryProfile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("berth-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func recommendPrintsTheContractsJSON() throws {
        let run = try Self.berth("recommend", "Profiles/cms-uploads.yaml", "--format", "json")
        #expect(run.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["recommended"] as? String == "efs")
        #expect((object["candidates"] as? [Any])?.count == 6)
    }

    @Test func severalProfilesGiveOneReportEach() throws {
        let run = try Self.berth("recommend", "Profiles/cms-uploads.yaml", "Profiles/postgres-ec2.yaml", "--format", "json")
        #expect(run.status == 0)
        let array = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
        #expect(array.count == 2)
    }

    @Test func anInvalidProfileExitsOneWithLocatedErrorsAndNoReport() throws {
        let path = try Self.temporaryProfile("""
            apiVersion: berth/v1
            kind: WorkloadProfile
            name: bad
            platform: {os: linux, launchType: fargate}
            access:
              sharing: shard
            availability:
              multiAz: true
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Self.berth("recommend", "Profiles/cms-uploads.yaml", path, "--format", "json")
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains("\(path):6:12: error: access.sharing"))
        #expect(run.stderr.contains("expected one of exclusive, shared, read-only-shared"))
        #expect(run.stderr.contains("\(path):8:3: error: availability.multiAz: unknown field; did you mean \"multiAZ\"?"))
    }

    @Test func nothingFitsExitsTwoAndSaysWhy() throws {
        let path = try Self.temporaryProfile("""
            apiVersion: berth/v1
            kind: WorkloadProfile
            name: win-fargate
            platform: {os: windows, launchType: fargate}
            access: {sharing: shared, tasks: 3}
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Self.berth("recommend", path, "--format", "json")
        #expect(run.status == 2)
        #expect(run.stdout.contains("\"recommended\": null"))
        #expect(run.stderr.contains("the EC2 launch type would allow fsx-windows"))
        let text = try Self.berth("recommend", path)
        #expect(text.status == 2)
        #expect(text.stdout.contains("efs: Fargate Windows does not support EFS volumes"))
    }

    @Test func aMissingFileExitsOne() throws {
        let run = try Self.berth("recommend", "Profiles/does-not-exist.yaml")
        #expect(run.status == 1)
        #expect(run.stderr.contains("Profiles/does-not-exist.yaml: cannot read workload profile: no such file"))
    }

    /// 1,300 GiB is no size FSx for Lustre accepts: the refusal names the steps and the nearest size.
    @Test func aLustreSizeOffTheStepsIsRefused() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("berth-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let run = try Self.berth("volume", "create", "--type", "fsx-lustre", "--az", "us-east-1a", "--size-gib", "1300",
                                 "--state-dir", state)
        #expect(run.status == 1)
        #expect(run.stderr.contains("InvalidParameterValue: persistent SSD FSx for Lustre file systems are 1,200 GiB, then a multiple of 2,400 GiB"))
        #expect(run.stderr.contains("not 1300 GiB (the nearest larger size is 2400 GiB)"))
        let hdd = try Self.berth("volume", "create", "--type", "fsx-lustre", "--az", "us-east-1a", "--storage-type", "hdd",
                                 "--state-dir", state)
        #expect(hdd.status == 0)
        let described = try Self.berth("volume", "describe", hdd.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                                       "--format", "json", "--state-dir", state)
        #expect(described.stdout.contains("\"sizeGiB\" : 1800") || described.stdout.contains("\"sizeGiB\": 1800"))
    }

    @Test func aNegativeSizeIsARangeRefusalThatCreatesNothing() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("berth-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let run = try Self.berth("volume", "create", "--type", "ebs", "--az", "us-east-1a", "--size-gib", "-5",
                                 "--state-dir", state)
        #expect(run.status == 1)
        #expect(run.stderr.contains("InvalidParameterValue: ebs volumes are 1 to 65,536 GiB, not -5 GiB"))
        let list = try Self.berth("volume", "list", "--format", "json", "--state-dir", state)
        #expect(list.status == 0)
        let volumes = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [Any]
        #expect(volumes?.isEmpty == true)
    }

    @Test func taskdefRefusesAContainerPathDockerWouldRefuse() throws {
        let run = try Self.berth("taskdef", "Profiles/cms-uploads.yaml", "--container-path", "/data/..")
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains("--container-path \"/data/..\": cannot be the container's root"))
    }

    @Test func taskdefPrintsRegistrableJSONAndListsPlaceholders() throws {
        let run = try Self.berth("taskdef", "Profiles/cms-uploads.yaml", "--family", "cms", "--image", "repo/cms:1")
        #expect(run.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["family"] as? String == "cms")
        #expect(run.stderr.contains("<EFS_FILE_SYSTEM_ID>"))
        #expect(!run.stderr.contains("<IMAGE>"))
    }

    @Test func taskdefWritesEBSVolumeConfigurationsToAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vc-\(UUID().uuidString).json").path
        let run = try Self.berth("taskdef", "Profiles/postgres-ec2.yaml", "--volume-configurations-file", path)
        #expect(run.status == 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let list = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect((list.first?["managedEBSVolume"] as? [String: Any])?["volumeType"] as? String == "gp3")
    }

    @Test func rulesMarkdownIsDocsRules() throws {
        let run = try Self.berth("rules", "--format", "markdown")
        let onDisk = try String(contentsOf: Self.root.appendingPathComponent("docs/RULES.md"), encoding: .utf8)
        #expect(run.status == 0)
        #expect(run.stdout == onDisk)
    }

    @Test func usageErrorsExitNonZeroWithHelp() throws {
        let run = try Self.berth("recommend", "--format", "yaml", "Profiles/cms-uploads.yaml")
        #expect(run.status == 64)
        #expect(run.stderr.contains("text"))
    }
}
