import ArgumentParser
import EmulatorCore
import Foundation
import StoragePlanner

struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Take, list and delete crash-consistent, regional volume snapshots.",
        subcommands: [Create.self, List.self, Describe.self, Delete.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Snapshot a volume, mounted or not; prints the snapshot id on stdout.",
            discussion: helpText("""
                Changes on every mount of the volume pause while the data is copied (reflinks where the
                backing file system has them, else a copy; `describe` says which), so the snapshot holds
                exactly what had been written before it began and no torn file. Files unchanged since the
                volume's previous snapshot are shared with it, not copied (`describe`: incrementalFrom,
                ownBytes). Snapshots are regional and
                outlive their volume: restore with `berth volume create --type T --az ANY --from-snapshot SNAP`.

                Example:
                  snap=$(berth snapshot create vol-0123456789abcdef0 --name before)
                """))
        @Argument(help: "Volume id.") var id: String
        @Option(help: "A name to recognise it by.") var name: String?
        @Flag(name: .customLong("no-reflink"), help: "Copy every byte even where reflinks are available.") var noReflink = false
        @Flag(help: "Return once the snapshot is completed (every snapshot is completed when this command returns today).")
        var wait = false
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let taken = try refusing { () throws(StateError) in
                try store.takeSnapshot(of: try VolumeID(parsing: id), name: name, allowReflink: !noReflink)
            }
            print(taken.snapshot.id.rawValue)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List snapshots, oldest first.")
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let snapshots = try refusing { () throws(StateError) in try store.listSnapshots() }
            switch format {
            case .json: print(JSONValue.array(snapshots.map(EmulatorJSON.snapshot)).rendered())
            case .text:
                print("id                      volume                 type         state      created                  method   name")
                for s in snapshots {
                    let created = ISO8601DateFormatter().string(from: s.createdAt)
                    print("\(s.id.rawValue.padded(23)) \(s.volumeID.rawValue.padded(22)) \(s.sourceType.rawValue.padded(12)) \(s.state.rawValue.padded(10)) \(created.padded(24)) \((s.copyMethod?.rawValue ?? "-").padded(8)) \(s.name ?? "-")")
                }
            }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one snapshot: source, size, copy method.")
        @Argument(help: "Snapshot id (snap-…).") var id: String
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let snapshot = try refusing { () throws(StateError) in try store.describeSnapshot(try SnapshotID(parsing: id)) }
            let json = EmulatorJSON.snapshot(snapshot)
            switch format {
            case .json: print(json.rendered())
            case .text:
                guard case .object(let fields) = json else { return }
                for (key, value) in fields { print("\(key.padded(24)) \(value == .null ? "-" : ReportRenderer.plain(value))") }
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a snapshot and its data.")
        @Argument(help: "Snapshot id (snap-…).") var id: String
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let snapshot = try refusing { () throws(StateError) in try store.deleteSnapshot(try SnapshotID(parsing: id)) }
            print(snapshot.id.rawValue)
        }
    }
}
