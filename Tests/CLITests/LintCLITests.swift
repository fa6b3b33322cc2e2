import Foundation
import Testing

/// `berth lint` as CI runs it: exit statuses, formats, --severity, --launch-type and --list-rules.
@Suite final class LintCLITests {
    /// This test's files; removed when the test is done (each test gets its own instance).
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-lint-cli-\(UUID().uuidString)")

    deinit { try? FileManager.default.removeItem(at: directory) }

    func write(_ text: String, _ name: String) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func taskDefinition(volume: String, readOnly: Bool = false, compatibilities: String = "EC2") -> String {
        """
        {"family": "web", "requiresCompatibilities": ["\(compatibilities)"],
         "containerDefinitions": [{"name": "web", "image": "nginx", "mountPoints": [{"sourceVolume": "data", "containerPath": "/srv/static", "readOnly": \(readOnly)}]}],
         "volumes": [\(volume)]}
        """
    }

    static let efs = #"{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "transitEncryption": "ENABLED"}}"#

    @Test func cleanFilesExitZeroAndErrorsExitTwo() throws {
        let clean = try write(Self.taskDefinition(volume: Self.efs, readOnly: true), "clean.json")
        let run = try CLITests.berth("lint", clean)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.isEmpty)

        let broken = try write(Self.taskDefinition(volume: #"{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}}}"#, readOnly: true), "bad.json")
        let failing = try CLITests.berth("lint", clean, broken)
        #expect(failing.status == 2)
        #expect(failing.stdout.hasPrefix("\(broken):3:"))
        #expect(failing.stdout.contains(": error BL001: "))
        #expect(failing.stdout.contains("https://docs.aws.amazon.com/"))
    }

    @Test func theSummaryCountsInWordsWithoutColourInAPipe() throws {
        let broken = try write(Self.taskDefinition(volume: #"{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}}}"#, readOnly: true), "bad.json")
        let run = try CLITests.berth("lint", broken)
        #expect(run.stderr.contains("berth lint: 1 error, 0 warnings, 0 notes in 1 file"), "\(run.stderr)")
        #expect(!run.stderr.contains("(s)"))
        #expect(!run.stdout.contains("\u{1B}[") && !run.stderr.contains("\u{1B}["))
    }

    @Test func severityDecidesWhatFailsTheRun() throws {
        // A writable mount of /srv/static: a note (BL016) only.
        let path = try write(Self.taskDefinition(volume: Self.efs), "note.json")
        #expect(try CLITests.berth("lint", path).status == 0)
        #expect(try CLITests.berth("lint", path, "--severity", "warning").status == 0)
        let strict = try CLITests.berth("lint", path, "--severity", "note")
        #expect(strict.status == 2)
        #expect(strict.stdout.contains("note BL016"))
    }

    @Test func launchTypeFargateAppliesTheFargateRules() throws {
        let path = try write(Self.taskDefinition(volume: #"{"name": "data", "host": {"sourcePath": "/mnt/data"}}"#, readOnly: true), "host.json")
        #expect(try CLITests.berth("lint", path).status == 0)
        let fargate = try CLITests.berth("lint", path, "--launch-type", "fargate", "--format", "json")
        #expect(fargate.status == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(fargate.stdout.utf8)) as? [String: Any])
        #expect((object["findings"] as? [[String: Any]])?.first?["ruleId"] as? String == "BL003")
    }

    @Test func malformedFilesExitOneWithTheirPlace() throws {
        let path = try write("{\n  \"family\": \"x\",\n}\n", "broken.json")
        let run = try CLITests.berth("lint", path)
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(path):3:1: error: not valid JSON"), "\(run.stderr)")
    }

    @Test func otherFilesAreSkippedWithANoteAndDirectoriesSearched() throws {
        let profile = try write("apiVersion: berth/v1\nkind: WorkloadProfile\n", "profile.yaml")
        let dir = URL(fileURLWithPath: profile).deletingLastPathComponent().path
        try Self.taskDefinition(volume: Self.efs, readOnly: true).write(toFile: dir + "/td.json", atomically: true, encoding: .utf8)
        let run = try CLITests.berth("lint", dir)
        #expect(run.status == 0)
        #expect(run.stderr.contains("\(dir)/profile.yaml: note: skipped: "))
        #expect(run.stderr.contains("in 1 file; 1 skipped"))
    }

    @Test func sarifIsWrittenForCodeScanning() throws {
        let run = try CLITests.berth("lint", "Tests/CLITests/Fixtures/lint/fargate-host.json", "--format", "sarif")
        #expect(run.status == 2)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(root["version"] as? String == "2.1.0")
        let results = try #require((root["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])
        let location = try #require((results.first?["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
        #expect((location["artifactLocation"] as? [String: Any])?["uri"] as? String == "Tests/CLITests/Fixtures/lint/fargate-host.json")
    }

    @Test func listRulesMarkdownIsDocsLint() throws {
        let run = try CLITests.berth("lint", "--list-rules", "--format", "markdown")
        #expect(run.status == 0)
        let docs = try String(contentsOf: CLITests.root.appendingPathComponent("docs/LINT.md"), encoding: .utf8)
        #expect(run.stdout == docs)
        let json = try CLITests.berth("lint", "--list-rules", "--format", "json")
        let rules = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rules.count >= 15)
    }

    @Test func badArgumentsExitSixtyFour() throws {
        #expect(try CLITests.berth("lint").status == 64)
        #expect(try CLITests.berth("lint", "x.json", "--format", "markdown").status == 64)
        #expect(try CLITests.berth("lint", "--list-rules", "--format", "sarif").status == 64)
        #expect(try CLITests.berth("lint", "x.json", "--severity", "fatal").status == 64)
        #expect(try CLITests.berth("lint", "x.json", "--launch-type", "lambda").status == 64)
        let help = try CLITests.berth("lint", "--help")
        #expect(help.status == 0 && help.stdout.contains("Examples:"))
    }
}
