public import ArgumentParser
import BerthJSON
public import EmulatorCore
import Foundation

/// `berth fault …`: I/O faults beyond an outage, as AWS FIS injects them (emulator.md §Faults beyond an
/// outage; docs/SEMANTICS.md §Faults).
struct FaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fault",
        abstract: "Inject I/O faults into a volume's mounts: pause its I/O or slow it down.",
        discussion: """
            Each command returns once the fault is in effect on every mount of the volume (and
            `clear` once it is over). A fault with a duration ends by itself.
              id=$(berth fault pause-io vol-0123456789abcdef0 --duration 45s)
              berth fault latency fs-0123456789abcdef0 --delay 200ms \\
                --percent 50 --operations write
              berth fault list --format json
              berth fault clear "$id"
            """,
        subcommands: [PauseIO.self, Latency.self, List.self, Clear.self])

    struct PauseIO: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pause-io",
            abstract: "Hold every read, write and sync on the volume's mounts (FIS aws:ebs:pause-volume-io).",
            discussion: """
                Requests wait until the pause ends, then complete. On an EBS mount a request that waits
                longer than the mount's --io-timeout (30s, Linux's NVMe I/O timeout) answers EIO, as the
                kernel's NVMe driver does. The volume's status is `impaired` while paused.
                Prints the fault's id.
                """)
        @Argument(help: "Volume id (vol-… or fs-…).") var id: String
        @Option(help: "How long the pause lasts: 500ms, 2s, 5m, 1h.") var duration: String
        @OptionGroup var state: StateOptions

        func run() throws {
            let duration = try parseDuration(duration, option: "--duration")
            let store = try state.open()
            let fault = try refusing { () throws(StateError) in
                try store.injectFault(.pauseIO(try VolumeID(parsing: id), duration: duration))
            }
            print(fault.id.rawValue)
        }
    }

    struct Latency: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delay a share of the volume's reads and writes (FIS aws:ebs:volume-io-latency).",
            discussion: "Prints the fault's id. Without --duration it lasts until `berth fault clear`.")
        @Argument(help: "Volume id (vol-… or fs-…).") var id: String
        @Option(help: "Added to each delayed request: 500ms, 2s (at most 60s).") var delay: String
        @Option(help: "Share of matching requests delayed, 1–100.") var percent: Int = 100
        @Option(help: "Which requests: read, write (writes and syncs) or all.") var operations: LatencyOperationsChoice = .all
        @Option(help: "How long it lasts (else until cleared).") var duration: String?
        @OptionGroup var state: StateOptions

        func run() throws {
            let delay = try parseDuration(delay, option: "--delay")
            let duration = try duration.map { text in try parseDuration(text, option: "--duration") }
            let store = try state.open()
            let fault = try refusing { () throws(StateError) in
                try store.injectFault(.latency(try VolumeID(parsing: id), delay: delay, percent: percent,
                                               operations: operations, duration: duration))
            }
            print(fault.id.rawValue)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List injected faults and their status.")
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let faults = try refusing { () throws(StateError) in try store.listFaults() }
            let now = Date()
            switch format {
            case .json:
                print(JSONValue.array(faults.map { $0.json(at: now) }).rendered())
            case .text:
                if faults.isEmpty { print("no faults"); return }
                print("id                       kind      volume                 status     ends                      parameters")
                for fault in faults {
                    let ends = fault.endsAt.map { ISO8601DateFormatter().string(from: $0) } ?? "when cleared"
                    let parameters = fault.kind == .latency
                        ? "\(fault.delayMilliseconds ?? 0)ms to \(fault.percent ?? 100)% of \(fault.operations?.rawValue ?? "all")"
                        : "-"
                    print("\(fault.id.rawValue.padded(24)) \(fault.kind.rawValue.padded(9)) \(fault.volumeID.rawValue.padded(22)) \(fault.status(at: now).rawValue.padded(10)) \(ends.padded(25)) \(parameters)")
                }
            }
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End a fault at once on every mount (FIS: stop the experiment).")
        @Argument(help: "Fault id (fault-…), from `berth fault list`.") var faultID: String
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let fault = try refusing { () throws(StateError) in try store.clearFault(try FaultID(parsing: faultID)) }
            print(fault.id.rawValue)
        }
    }
}

extension LatencyOperationsChoice: ExpressibleByArgument {}

/// A duration in the contract's form, or a usage error naming the option and what is accepted.
func parseDuration(_ text: String, option: String) throws -> Duration {
    do {
        return try DurationText.parse(text)
    } catch {
        throw ValidationError("\(option): \(error)")
    }
}

