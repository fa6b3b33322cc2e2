import ArgumentParser
import Foundation

/// The `berth` command line: argument parsing and output only; the work happens in the library targets.
@main
struct Berth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Choose and test persistent storage for containers on Amazon ECS and AWS Fargate.",
        discussion: helpText("""
            Examples:
              berth recommend Profiles/cms-uploads.yaml
              berth taskdef Profiles/cms-uploads.yaml --image my/app:1.0 > td.json
              berth rules
              berth lint infra/ --format sarif > berth.sarif
              vol=$(berth volume create --type ebs --az us-east-1a --size-gib 1)
              berth mount "$vol" /mnt/data --az us-east-1a --background
              berth snapshot create "$vol"
              berth az fail us-east-1a; berth az recover us-east-1a
              berth unmount /mnt/data
              berth drill az-failure --type ebs --format json | jq .recoveryPointSeconds

            Exit status:
              0   success
              1   invalid input (a profile, a value Berth refuses) or an AWS-style refusal
              2   no service fits a profile; lint: a finding at or above --severity
              3   a drill found corruption or could not recover
              64  usage error: unknown command or option, missing or malformed argument
              130, 143  a drill interrupted by SIGINT or SIGTERM

            Shell completion: berth --generate-completion-script bash|zsh|fish (see the manual page, berth.1).
            """),
        version: berthVersion,
        subcommands: [
            RecommendCommand.self, TaskdefCommand.self, RulesCommand.self, LintCommand.self,
            VolumeCommand.self, MountCommand.self, UnmountCommand.self, SnapshotCommand.self, AZCommand.self, StateCommand.self,
            DrillCommand.self, FaultCommand.self,
            ServeMountCommand.self, ManCommand.self, ProfileSchemaCommand.self,
            RunCommand.self, AccessPointCommand.self, ServeTaskMountCommand.self, RunReaperCommand.self, FinishSnapshotCommand.self,
        ]
    )

    /// ArgumentParser's main, after naming an unknown command and the closest known one (exit 64).
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let message = UnknownCommand.message(arguments: arguments, root: Berth.self) {
            printError(message)
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        await runParsed(arguments)
    }
}

/// Exit statuses scripts can rely on (documented in the README and in `berth --help`).
enum ExitStatus {
    static let invalidInput = ExitCode(1)
    static let noServiceFits = ExitCode(2)
    /// A drill that finished with a corrupt record or without reaching a usable mount in AZ B.
    static let drillFailed = ExitCode(3)
    /// `berth lint`: a finding at or above --severity.
    static let lintFindings = ExitCode(2)
}

extension ReportFormatOption: ExpressibleByArgument {}

/// The output formats `recommend` and `rules` take.
enum ReportFormatOption: String, CaseIterable {
    case text, json, markdown
}
