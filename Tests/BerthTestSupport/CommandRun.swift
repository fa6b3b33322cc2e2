public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a command printed and how it ended.
public struct CommandRun: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var trimmedStdout: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Runs `executable` with `arguments` to completion, capturing both outputs.
    public static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil,
                           environment: [String: String]? = nil) throws -> CommandRun {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandRun(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// Sets or clears the immutable attribute (`chattr +i`) of `path`; false where the file system has none.
public func setImmutable(_ path: String, _ on: Bool) -> Bool {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var flags: Int32 = 0
    guard withUnsafeMutablePointer(to: &flags, { ioctl(fd, 0x8008_6601, $0) }) == 0 else { return false }  // FS_IOC_GETFLAGS
    flags = on ? flags | 0x10 : flags & ~0x10  // FS_IMMUTABLE_FL
    return withUnsafeMutablePointer(to: &flags, { ioctl(fd, 0x4008_6602, $0) }) == 0  // FS_IOC_SETFLAGS
}
