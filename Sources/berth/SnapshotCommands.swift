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
                The snapshot's point in time is this call: it holds exactly what had been written before
                it began and no torn file. Changes on every mount of the volume are held back only while
                the names of its files are captured (time proportional to the number of names, not to the
                bytes; `describe` says it as pausedSeconds); then the mounts write on while the snapshot is
                pending: before a change of data the snapshot has not copied yet, the mount first copies
                the old data into it (copy before write). Where the backing file system shares extents
                (reflinks), the snapshot is made of reflinks during the pause instead. Files unchanged
                since the volume's previous snapshot are shared with it, not copied (`describe`:
                incrementalFrom, ownBytes). The command returns once the snapshot is completed (the copy
                runs in this process); progress goes to stderr when it is a terminal, or with --progress.
                Snapshots are regional and outlive their volume: restore with
                `berth volume create --type T --az ANY --from-snapshot SNAP`.

                Example:
                  snap=$(berth snapshot create vol-0123456789abcdef0 --name before)
                """))
        @Argument(help: "Volume id.") var id: String
        @Option(help: "A name to recognise it by.") var name: String?
        @Flag(name: .customLong("no-reflink"), help: "Copy every byte even where reflinks are available.") var noReflink = false
        @Flag(help: "Return once the snapshot is completed (every snapshot is completed when this command returns today: the copy runs in this process, with the volume's writers released).")
        var wait = false
        @Flag(help: "Print the copy's progress on stderr (bytes copied of the total), also when stderr is not a terminal.")
        var progress = false
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let meter = progress || isatty(2) == 1 ? CopyProgress() : nil
            let taken = try refusing { () throws(StateError) in
                try store.takeSnapshot(of: try VolumeID(parsing: id), name: name, allowReflink: !noReflink,
                                       progress: meter.map { meter in { meter.show($0, of: $1) } })
            }
            meter?.finish()
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

/// A snapshot's copy progress on stderr: bytes copied of the total, at most a few times a second, only
/// for copies that take a while (over a second), on one line that a terminal rewrites.
final class CopyProgress {
    private let started = Date()
    private var shown = Date.distantPast
    private var printed = false

    func show(_ done: UInt64, of total: UInt64) {
        let now = Date()
        guard now.timeIntervalSince(started) >= 1, now.timeIntervalSince(shown) >= 0.25 || done == total else { return }
        shown = now
        printed = true
        let percent = total == 0 ? 100 : Int(done * 100 / total)
        let line = "copied \(Self.mebibytes(done)) of \(Self.mebibytes(total)) MiB (\(percent)%)"
        FileHandle.standardError.write(Data(((isatty(2) == 1 ? "\r" : "") + line + (isatty(2) == 1 ? "" : "\n")).utf8))
    }

    func finish() {
        if printed && isatty(2) == 1 { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func mebibytes(_ bytes: UInt64) -> String { String(bytes >> 20) }
}
