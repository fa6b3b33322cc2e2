import ArgumentParser
import EmulatorCore
import Foundation
import StoragePlanner

struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state", abstract: "Check the state directory, and rebuild lost records from its metadata files.",
        discussion: helpText("""
            Every volume and snapshot directory holds a small metadata file (volume.json, snapshot.json)
            beside its data. `check` compares the database's records, these files and the directories and
            changes nothing; `repair` restores missing records from the files and never deletes data.
            See docs/STATE.md.
            """),
        subcommands: [Check.self, Repair.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report disagreements between records, metadata files and directories; changes nothing.",
            discussion: "Exit status: 0 everything agrees; 1 problems were found (listed on stdout).")
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws {
            let directory = try refusing { () throws(StateError) in
                try StateDirectory.resolve(flag: state.stateDirectory, environment: ProcessInfo.processInfo.environment)
            }
            let problems = StateInventory.check(directory)
            StateCommand.print(problems, format: format, directory: directory)
            if !problems.isEmpty { throw ExitStatus.invalidInput }
        }
    }

    struct Repair: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild missing records from volume.json and snapshot.json; never deletes data.",
            discussion: helpText("""
                Also rewrites missing metadata files from the records, finishes creations and deletions a
                killed command left half-way and makes the AZ flags agree with the database. A lost database
                is recreated in the region the metadata files name (or BERTH_REGION and BERTH_AZS).
                Exit status: 0 everything agrees afterwards; 1 problems remain (listed, with what to do).
                """))
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws {
            let environment = ProcessInfo.processInfo.environment
            let report = try refusing { () throws(StateError) in
                let directory = try StateDirectory.resolve(flag: state.stateDirectory, environment: environment)
                var region = try RegionConfiguration.fromEnvironment(environment)
                if region == nil && StateInventory.databaseMissing(directory) { region = StateInventory.metadataRegion(directory) }
                let store = try StateStore(directory: directory, region: region, rebuildingLostDatabase: true)
                return (directory, try store.repair())
            }
            let (directory, result) = report
            switch format {
            case .json:
                Swift.print(JSONValue.object([
                    ("repaired", .array(result.repaired.map(JSONValue.string))),
                    ("problems", StateCommand.json(result.remaining)),
                ]).rendered())
            case .text:
                for line in result.repaired { Swift.print("repaired: \(line)") }
                StateCommand.print(result.remaining, format: .text, directory: directory)
            }
            if !result.remaining.isEmpty { throw ExitStatus.invalidInput }
        }
    }

    static func json(_ problems: [StateProblem]) -> JSONValue {
        .array(problems.map { p in
            .object([("subject", .string(p.subject)), ("problem", .string(p.message)), ("repairable", .bool(p.repairable))])
        })
    }

    static func print(_ problems: [StateProblem], format: EmulatorFormat, directory: StateDirectory) {
        switch format {
        case .json: Swift.print(json(problems).rendered())
        case .text:
            if problems.isEmpty {
                Swift.print("\(directory.path): records, metadata files and directories agree")
                return
            }
            for p in problems { Swift.print("\(p.subject): \(p.message)\(p.repairable ? " [repair]" : "")") }
            let repairable = problems.filter(\.repairable).count
            Swift.print("\(counted(problems.count, "problem")); \(repairable) fixed by `berth state repair`")
        }
    }
}
