import ArgumentParser
import Foundation
import StorageCatalog
import StorageLint

struct LintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Find the storage mistakes in ECS task definitions and CloudFormation templates.",
        discussion: helpText("""
            Reads ECS task definitions (register-task-definition input or
            describe-task-definition output) and CloudFormation templates (YAML with
            !Ref, !GetAtt, !Sub and the other short forms, or JSON), and reports what
            ECS would refuse, what fails at run time and what goes against AWS
            guidance in their volumes and mount points: each finding with its rule
            id, level, file:line:column and the AWS page that says so (the rules:
            berth lint --list-rules, docs/LINT.md). A directory is searched for
            *.json, *.yaml, *.yml and *.template; a file that is neither a task
            definition nor a template is skipped with a note.

            Examples:
              berth lint taskdef.json
              berth lint infra/ --severity warning
              berth lint template.yaml --format sarif > berth.sarif
              berth lint td.json --launch-type fargate --format json
              berth lint --list-rules --format markdown > docs/LINT.md

            Exit status: 0 no finding at --severity or above; 2 at least one;
            1 a file cannot be read or parsed (with its location); 64 bad arguments.
            """))

    enum Format: String, CaseIterable, ExpressibleByArgument {
        case text, json, sarif, markdown
    }

    enum LaunchType: String, CaseIterable, ExpressibleByArgument {
        case fargate, ec2
    }

    enum Severity: String, CaseIterable, ExpressibleByArgument {
        case error, warning, note
    }

    @Argument(help: ArgumentHelp("Task definition or template files, or directories to search.", valueName: "path"))
    var paths: [String] = []

    @Option(help: "Output format: text, json or sarif; with --list-rules: text, json or markdown.")
    var format: Format = .text

    @Option(help: ArgumentHelp("Treat every task as launched this way (fargate or ec2) unless it says otherwise.", valueName: "launch-type"))
    var launchType: LaunchType?

    @Option(help: "The lowest level that makes the exit status 2: error, warning or note.")
    var severity: Severity = .error

    @Flag(help: "Print the rules (id, level, what it catches, source) instead of linting.")
    var listRules = false

    func validate() throws {
        if listRules {
            guard paths.isEmpty else { throw ValidationError("--list-rules takes no paths") }
            guard format != .sarif else { throw ValidationError("--list-rules prints text, json or markdown, not sarif") }
        } else {
            guard !paths.isEmpty else { throw ValidationError("give at least one task definition, template or directory") }
            guard format != .markdown else { throw ValidationError("markdown is for --list-rules; findings print as text, json or sarif") }
        }
    }

    func run() throws {
        if listRules {
            let rules = LintRenderer.renderRules(as: RuleListFormat(rawValue: format.rawValue) ?? .text)
            if format.rawValue == "json" { print(rules, terminator: "") } else { printOut(rules, terminator: "") }
            return
        }
        let report = Linter.lint(paths: paths, options: LintOptions(launchType: launchType.flatMap { LaunchTypeOption(rawValue: $0.rawValue) }))
        let rendered = LintRenderer.render(report, as: LintFormat(rawValue: format.rawValue) ?? .text, style: .standardOutput())
        // JSON and SARIF are UTF-8 by definition; text and Markdown follow the locale.
        if format.rawValue == "json" || format.rawValue == "sarif" { print(rendered, terminator: "") } else { printOut(rendered, terminator: "") }
        if format == .text {
            for line in LintRenderer.diagnostics(report) { printError(line) }
            printError(LintRenderer.summary(report, style: .standardError()))
        } else {
            for error in report.errors { printError(error) }
        }
        if !report.errors.isEmpty { throw ExitStatus.invalidInput }
        if report.reaches(LintLevel(rawValue: severity.rawValue) ?? .error) { throw ExitStatus.lintFindings }
    }
}
