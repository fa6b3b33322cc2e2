import ArgumentParser
import Foundation
import StorageCatalog
import StoragePlanner
import Workloads

struct RecommendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Rank the six storage services for workload profiles and explain why.",
        discussion: helpText("""
            Reads each workload profile (YAML or JSON; fields in docs/PROFILE.md, JSON keys in docs/JSON.md), runs every planner rule
            (berth rules) and prints all six services best first, with the rule and source behind each
            exclusion and preference, and the configuration of the pick.

            Examples:
              berth recommend Profiles/cms-uploads.yaml
              berth recommend Profiles/*.yaml --format json |
                jq -r '.[] | "\\(.profile) \\(.recommended)"'
              berth recommend Profiles/postgres-ec2.yaml --format markdown > comment.md

            Exit status: 0 every profile has a pick; 1 a profile is invalid or unreadable (every problem is
            listed on stderr as file:line:column: error: field.path: …); 2 no service fits a profile.
            """))

    @Argument(help: ArgumentHelp("Workload profile files (YAML or JSON).", valueName: "profile"))
    var profiles: [String]

    @Option(help: "Output format: text, json (one object; an array for several profiles) or markdown.")
    var format: ReportFormatOption = .text

    func run() throws {
        let planner = Planner()
        var recommendations: [Recommendation] = []
        var invalid = false
        for path in profiles {
            do {
                recommendations.append(planner.recommend(try ProfileLoader.load(path: path)))
            } catch {
                invalid = true
                printError(error)
            }
        }
        // Bad input changes nothing: no partial report when any profile is invalid.
        guard !invalid else { throw ExitStatus.invalidInput }
        switch format {
        case .text:
            let style = OutputStyle.standardOutput()
            printOut(recommendations.map { ReportRenderer.text($0, style: style) }.joined(separator: "\n"), terminator: "")
        case .markdown: printOut(ReportRenderer.render(recommendations, as: .markdown), terminator: "")
        case .json: print(ReportRenderer.render(recommendations, as: .json), terminator: "")
        }
        let unfit = recommendations.filter { $0.recommended == nil }
        if !unfit.isEmpty {
            if format != .text {
                for r in unfit { printError("\(r.profile.name): no service fits.\n" + ReportRenderer.wayOutText(r)) }
            }
            throw ExitStatus.noServiceFits
        }
    }
}
