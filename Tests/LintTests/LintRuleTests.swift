import Foundation
import StorageLint
import Testing

/// The rule table: ids, sources, and every rule's examples as tests.
@Suite struct LintRuleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func lint(_ text: String, launchType: LaunchTypeOption? = nil) -> LintReport {
        let json = text.first == "{"
        return Linter.lint(text: text, file: json ? "example.json" : "example.yaml", json: json, options: LintOptions(launchType: launchType))
    }

    @Test func idsAreStableShapedUniqueAndSourced() {
        let ids = LintRules.all.map(\.id)
        #expect(Set(ids).count == ids.count)
        for rule in LintRules.all {
            #expect(rule.id.count == 5 && rule.id.hasPrefix("BL") && rule.id.dropFirst(2).allSatisfy(\.isNumber), "\(rule.id)")
            #expect(rule.source.hasPrefix("https://docs.aws.amazon.com/"), "\(rule.id)")
            #expect(!rule.triggering.isEmpty && !rule.nonTriggering.isEmpty, "\(rule.id)")
        }
        #expect(ids == ids.sorted())
    }

    @Test(arguments: LintRules.all.map(\.id))
    func triggeringExamplesRaiseTheRule(id: String) throws {
        let rule = try #require(LintRules.rule(id: id))
        for example in rule.triggering {
            let report = Self.lint(example)
            #expect(report.errors.isEmpty, "\(id): \(report.errors)")
            #expect(report.skipped.isEmpty, "\(id): \(report.skipped)")
            let hits = report.findings.filter { $0.ruleID == id }
            #expect(!hits.isEmpty, "\(id) did not trigger on:\n\(example)\nfindings: \(report.findings.map(LintRenderer.line))")
            for hit in hits {
                #expect(hit.level == rule.level && hit.source == rule.source)
                #expect(hit.at.line > 1, "\(id) points at the document's start rather than the offending key")
            }
        }
    }

    @Test(arguments: LintRules.all.map(\.id))
    func nonTriggeringExamplesStayQuiet(id: String) throws {
        let rule = try #require(LintRules.rule(id: id))
        for example in rule.nonTriggering {
            let report = Self.lint(example)
            #expect(report.errors.isEmpty && report.skipped.isEmpty, "\(id): \(report.errors) \(report.skipped)")
            let hits = report.findings.filter { $0.ruleID == id }
            #expect(hits.isEmpty, "\(id) triggered on its non-triggering example: \(hits.map(LintRenderer.line))")
        }
    }

    @Test func docsLintIsTheGeneratedRuleList() throws {
        let file = Self.root.appendingPathComponent("docs/LINT.md")
        let onDisk = try String(contentsOf: file, encoding: .utf8)
        #expect(onDisk == LintRenderer.renderRules(as: .markdown),
                "docs/LINT.md is stale: run `berth lint --list-rules --format markdown > docs/LINT.md`")
    }

    @Test func launchTypeOptionTurnsOnTheFargateRules() {
        let text = """
            {"family": "f", "containerDefinitions": [{"name": "a", "image": "a", "mountPoints": [{"sourceVolume": "v", "containerPath": "/v"}]}],
             "volumes": [{"name": "v", "dockerVolumeConfiguration": {"scope": "task"}}]}
            """
        #expect(!Self.lint(text).findings.contains { $0.ruleID == "BL004" })
        #expect(Self.lint(text, launchType: .fargate).findings.contains { $0.ruleID == "BL004" })
        #expect(!Self.lint(text, launchType: .ec2).findings.contains { $0.ruleID == "BL004" })
    }
}
