import ArgumentParser
import EmulatorCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `berth _finish-snapshot`: the background process `berth snapshot create` starts. It takes the snapshot
/// (`StateStore.takeSnapshot`: it is the snapshot's recorded creator, so any later command can tell when
/// it died and mark the snapshot `error`) and tells the waiting `create` on `--ready-fd`, one line each:
/// `ready SNAP` once the point in time is captured and the mounts are released, then (with
/// `--report-progress`) `progress DONE TOTAL`, and `completed` or `error MESSAGE`. After `ready` its
/// stdout and stderr go to the state directory's log, so a shell's `$(berth snapshot create …)` does not
/// wait for the copy.
struct FinishSnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_finish-snapshot", abstract: "Take a snapshot in the background (internal).", shouldDisplay: false)
    @Argument(help: "Volume id.") var id: String
    @Option(help: "A name to recognise it by.") var name: String?
    @Flag(name: .customLong("no-reflink")) var noReflink = false
    @Flag(name: .customLong("report-progress")) var reportProgress = false
    @Option(name: .customLong("ready-fd"), help: .hidden) var readyFD: Int32
    @OptionGroup var state: StateOptions

    func run() throws {
        // A `create` that stopped waiting (Ctrl-C) closes the pipe; the copy goes on.
        signal(SIGPIPE, SIG_IGN)
        let report = FinisherReport(fd: readyFD)
        let store = try state.open()
        let logPath = store.directory.mountLogPath
        do {
            _ = try store.takeSnapshot(
                of: try VolumeID(parsing: id), name: name, allowReflink: !noReflink,
                progress: reportProgress ? { report.send("progress \($0) \($1)") } : nil,
                atPointInTime: { snapshot in
                    report.send("ready \(snapshot.id.rawValue)")
                    Self.detachOutput(logPath: logPath)
                    if !reportProgress { report.close() }
                },
                failureLeavesError: true)
            report.send("completed")
        } catch {
            let message = error.description
            printError(message)
            report.send("error \(message.replacingOccurrences(of: "\n", with: " "))")
            throw ExitStatus.invalidInput
        }
    }

    /// Stops holding the caller's stdout and stderr open; writes to the state directory's log instead.
    static func detachOutput(logPath: String) {
        var log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if log < 0 { log = open("/dev/null", O_WRONLY | O_CLOEXEC) }
        guard log >= 0 else { return }
        dup2(log, STDOUT_FILENO)
        dup2(log, STDERR_FILENO)
        close(log)
    }
}

/// The finisher's lines to the waiting `create`; once a write fails (nobody waits), it stops writing.
final class FinisherReport: @unchecked Sendable {
    private var fd: Int32
    private let lock = NSLock()

    init(fd: Int32) { self.fd = fd }

    func send(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return }
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                Glibc.close(fd)
                fd = -1
                return
            }
            offset += n
        }
    }

    func close() {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// Lines read from the finisher's pipe, until end of file.
struct FinisherLines {
    let fd: Int32
    private var pending: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    mutating func next() -> String? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            pending.append(contentsOf: buffer.prefix(n))
        }
    }
}
