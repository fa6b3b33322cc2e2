#if canImport(Glibc)
import Glibc
#endif

extension ServerProcess {
    /// The running process with this pid, or nil when there is none or it has exited and awaits its parent
    /// (a zombie serves nothing).
    public static func identify(pid: Int32) -> ServerProcess? {
        guard pid > 0, let stat = readProcStat(pid: pid) else { return nil }
        // proc(5): "(2) comm %s — The filename of the executable, in parentheses", which may itself contain
        // spaces and ')'; every later field follows the last ')'.
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
        guard fields.count > 19, let state = fields[0].first,
              state != UInt8(ascii: "Z"), state != UInt8(ascii: "X"),
              let startTime = UInt64(String(decoding: fields[19], as: UTF8.self)) else { return nil }
        return ServerProcess(pid: pid, startTime: startTime)
    }

    /// This process.
    public static var current: ServerProcess? { identify(pid: getpid()) }

    /// The same process is still running: the pid exists, is not a zombie, and started when this one did.
    public var isRunning: Bool { Self.identify(pid: pid) == self }

    /// A pid read from the database is a claim: true only when that process is still the one recorded
    /// (`isRunning`: same start time) and runs the same executable as this process (`/proc/<pid>/exe`;
    /// a binary replaced since it started reads as `<path> (deleted)`). What Berth checks before it
    /// signals a mount server.
    public var isBerthProcess: Bool {
        guard isRunning, let mine = executablePath(of: getpid()), let theirs = executablePath(of: pid) else { return false }
        return theirs == mine || theirs == mine + " (deleted)"
    }
}

/// The target of `/proc/<pid>/exe`; nil when it cannot be read (no such process, or not ours to inspect).
func executablePath(of pid: Int32) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The bytes of `/proc/<pid>/stat` (procfs reports size 0, so read until end of file).
private func readProcStat(pid: Int32) -> [UInt8]? {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1024)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if count == 0 { break }
        bytes.append(contentsOf: buffer.prefix(count))
    }
    return bytes.isEmpty ? nil : bytes
}
