import ArgumentParser
import CBerthShims
import EmulatorCore
import Foundation
import StoragePlanner
#if canImport(Glibc)
import Glibc
#endif

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
                bytes; `describe` says it as pausedSeconds); then the command returns with the snapshot
                `pending`, as EBS's CreateSnapshot does, and the copy goes on in a background process
                while the mounts write: before a change of data the snapshot has not copied yet, the mount
                first copies the old data into it (copy before write). The snapshot is `completed` once
                the copy is done; with --wait the command returns only then (progress on stderr when it
                is a terminal, or with --progress; Ctrl-C stops the waiting, not the copy). A pending
                snapshot can be neither restored nor deleted (IncorrectState). If the background copy dies,
                the next berth command marks the snapshot `error`, with the reason (`stateMessage` in
                describe); delete it and take another. With --wait, a copy that fails or whose process
                dies ends the command at once with exit status 1 and `IncorrectState: SNAP failed (state
                error): REASON` on stderr (nothing on stdout); the snapshot is then `error`. Where the
                backing file system shares extents (reflinks), the snapshot is made of reflinks during the
                pause instead. Files unchanged since the volume's previous snapshot are shared with it, not
                copied (`describe`: incrementalFrom, ownBytes). Snapshots are regional and outlive their
                volume: restore with `berth volume create --type T --az ANY --from-snapshot SNAP`.

                Example:
                  snap=$(berth snapshot create vol-0123456789abcdef0 --name before --wait)
                """))
        @Argument(help: "Volume id.") var id: String
        @Option(help: "A name to recognise it by.") var name: String?
        @Flag(name: .customLong("no-reflink"), help: "Copy every byte even where reflinks are available.") var noReflink = false
        @Flag(help: "Return once the snapshot is completed (else at once, with the snapshot pending).")
        var wait = false
        @Flag(help: "With --wait: print the copy's progress on stderr (bytes copied of the total), also when stderr is not a terminal.")
        var progress = false
        @Option(help: "text (the snapshot id) or json (the snapshot, as `describe` shows it on return).")
        var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws {
            var arguments = ["_finish-snapshot", id]
            if let name { arguments += ["--name", name] }
            if noReflink { arguments.append("--no-reflink") }
            if wait { arguments.append("--report-progress") }
            if let directory = state.stateDirectory { arguments += ["--state-dir", directory] }
            let (child, readEnd) = try BackgroundMount.spawn(arguments: arguments, what: "snapshot copier")
            defer { close(readEnd) }
            let meter = wait && (progress || isatty(2) == 1) ? CopyProgress() : nil
            var reader = FinisherLines(fd: readEnd)
            var snapshotID: SnapshotID?
            var completed = false
            var failure: String?
            while let line = reader.next() {
                let words = line.split(separator: " ", maxSplits: 2)
                switch words.first {
                case "ready":
                    snapshotID = words.count > 1 ? try? SnapshotID(parsing: String(words[1])) : nil
                case "progress" where words.count == 3:
                    if let done = UInt64(words[1]), let total = UInt64(words[2]) { meter?.show(done, of: total) }
                case "completed": completed = true
                case "error": failure = String(line.dropFirst("error ".count))
                default: break
                }
                if snapshotID != nil && !wait { break }
            }
            meter?.finish()
            guard let snapshotID else {
                // It said why on the stderr we share, unless it was killed before the point in time
                // (the next command marks a record it had begun `error`).
                var status: Int32 = 0
                while waitpid(child, &status, 0) < 0 && errno == EINTR {}
                let code = berth_exit_status(status)
                if code < 0 {
                    printError("berth: the snapshot copier (pid \(child)) was killed before the snapshot's point in time was captured; "
                        + "see `berth snapshot list` for a snapshot left `error`")
                }
                throw ExitCode(code <= 0 ? 1 : code)
            }
            if wait {
                var status: Int32 = 0
                while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            }
            let store = try state.open()
            let snapshot = try refusing { () throws(StateError) in try store.describeSnapshot(snapshotID) }
            if wait && !(completed && snapshot.state == .completed) {
                // The recorded reason (the copy's error, or its process gone: the next command, this
                // one, marked it), else what the finisher said.
                let reason = snapshot.stateMessage ?? failure
                    ?? "the process copying it ended without completing it (state \(snapshot.state.rawValue))"
                printError(StateError.snapshotFailed(snapshotID, reason: reason).description)
                throw ExitStatus.invalidInput
            }
            switch format {
            case .text: print(snapshotID.rawValue)
            case .json: print(EmulatorJSON.snapshot(snapshot).rendered())
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List snapshots, oldest first.",
            discussion: "A snapshot in state `error` is followed, in text, by an indented line saying why (its stateMessage).")
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
                    // Why one failed, on a line of its own under it (EC2's StateMessage).
                    if let message = s.stateMessage { print("  \(s.state.rawValue): \(message)") }
                }
            }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one snapshot: source, size, copy method, and why it failed (stateMessage).")
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
