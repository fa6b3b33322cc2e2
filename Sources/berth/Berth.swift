import ArgumentParser

/// The `berth` command line: argument parsing and output only; the work happens in the library targets.
@main
struct Berth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Choose and test persistent storage for containers on Amazon ECS and AWS Fargate.",
        subcommands: [ServeMountCommand.self]
    )
}
