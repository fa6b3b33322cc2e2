import ArgumentParser
import StoragePlanner

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Print the planner's rule table with the source of every rule.",
        discussion: helpText("""
            Examples:
              berth rules
              berth rules --format markdown > docs/RULES.md
              berth rules --format json | jq -r '.[].id'
            """))

    @Option(help: "Output format: text, markdown or json.")
    var format: ReportFormatOption = .text

    func run() {
        let rendered = RulesDocument.render(as: ReportFormat(rawValue: format.rawValue) ?? .text)
        // docs/RULES.md is UTF-8 whatever the locale; the text form follows it.
        if format == .text { printOut(rendered, terminator: "") } else { print(rendered, terminator: "") }
    }
}
