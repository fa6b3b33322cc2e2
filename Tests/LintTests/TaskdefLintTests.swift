import Foundation
import StorageLint
import StoragePlanner
import Testing
import Workloads

/// What `berth taskdef` writes must pass `berth lint`: for every example profile that has a pick, the
/// task definition lints without a single finding, at any level.
@Suite struct TaskdefLintTests {
    static let profiles = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Profiles")

    static var profileFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: profiles.path)) ?? []).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }.sorted()
    }

    @Test func thereAreProfilesToCheck() { #expect(Self.profileFiles.count >= 5) }

    @Test(arguments: profileFiles)
    func taskdefOutputLintsClean(file: String) throws {
        let profile = try ProfileLoader.load(path: Self.profiles.appendingPathComponent(file).path, displayPath: "Profiles/\(file)")
        let recommendation = Planner().recommend(profile)
        guard recommendation.recommended != nil else { return }
        for options in [TaskDefinitionOptions(), TaskDefinitionOptions(family: "app", image: "repo/app:1")] {
            let draft = try TaskDefinitionBuilder.build(recommendation, options: options)
            let text = draft.taskDefinition.rendered()
            let launchType: LaunchTypeOption = profile.platform.launchType == .fargate ? .fargate : .ec2
            let report = Linter.lint(text: text, file: "\(profile.name).json", json: true, options: LintOptions(launchType: launchType))
            #expect(report.errors.isEmpty && report.skipped.isEmpty && report.documents == 1, "\(file)")
            #expect(report.findings.isEmpty, "\(file): \(report.findings.map(LintRenderer.line))")
        }
    }
}
