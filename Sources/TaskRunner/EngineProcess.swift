public import Foundation

/// Runs the container engine's command line client.
public struct EngineClient: Sendable {
    public var engine: Engine
    /// The client's path (`/usr/bin/podman`).
    public var executable: String
    /// The OCI runtime podman is told to use (`runc`), or nil for its default.
    public var runtime: String?
    /// An image whose presence the engine was asked about while being chosen, and the answer.
    public var probed: (image: String, present: Bool)?

    public init(engine: Engine, executable: String, runtime: String?) {
        self.engine = engine
        self.executable = executable
        self.runtime = runtime
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `arguments` to completion.
    public func run(_ arguments: [String]) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = engine.globalArguments(runtime: runtime) + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            return Result(status: 127, stdout: "", stderr: "cannot run \(executable): \(error)")
        }
        // Both are read to their ends while the engine runs, so that a full pipe never blocks it. Once
        // it has exited, its output is waited for at most 5 s: another process that inherited a write
        // end (see InheritedPipes) must not hold this call forever.
        let group = DispatchGroup()
        let outData = LockedData(), errData = LockedData()
        for (pipe, data) in [(out, outData), (err, errData)] {
            group.enter()
            Thread.detachNewThread {
                data.set(pipe.fileHandleForReading.readDataToEndOfFile())
                group.leave()
            }
        }
        process.waitUntilExit()
        _ = group.wait(timeout: .now() + 5)
        return Result(status: process.terminationStatus, stdout: String(decoding: outData.get(), as: UTF8.self),
                      stderr: String(decoding: errData.get(), as: UTF8.self))
    }

    /// Starts `arguments` and hands every line of its stdout and stderr to `onLine` (true for stderr);
    /// `onExit` gets its exit status once both outputs have ended.
    public func stream(_ arguments: [String], onLine: @escaping @Sendable (String, Bool) -> Void,
                       onExit: @escaping @Sendable (Int32) -> Void) -> Process? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = engine.globalArguments(runtime: runtime) + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            onLine("cannot run \(executable): \(error)", true)
            onExit(127)
            return nil
        }
        let group = DispatchGroup()
        for (pipe, isError) in [(out, false), (err, true)] {
            group.enter()
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread {
                var pending = Data()
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        onLine(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self), isError)
                        pending.removeSubrange(pending.startIndex...newline)
                    }
                }
                if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self), isError) }
                group.leave()
            }
        }
        Thread.detachNewThread {
            process.waitUntilExit()
            // The last lines, but not forever (see `run`).
            _ = group.wait(timeout: .now() + 2)
            onExit(process.terminationStatus)
        }
        return process
    }

    /// The engine to use: `requested`, else the first of podman and docker whose client is installed and
    /// answers (a docker client without a daemon does not). Nil with what each said when none does.
    /// `probeImage`: for podman, asking whether this image is in the store is the probe (exit status 0
    /// or 1 means podman answered), which spares a second start of podman, the largest part of berth
    /// run's own start.
    public static func choose(requested: Engine?, environment: [String: String], probeImage: String? = nil) -> (EngineClient?, [String]) {
        var said: [String] = []
        let path = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        func find(_ name: String) -> String? {
            for directory in path + ["/usr/local/sbin", "/usr/sbin", "/sbin"] {
                let candidate = directory + "/" + name
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
            return nil
        }
        // crun, podman's usual runtime, fails in some sandboxes (setrlimit, cgroups in hybrid mode) where
        // runc works (docs/RUN.md); BERTH_OCI_RUNTIME chooses another, "default" keeps podman's own.
        var runtime: String? = environment["BERTH_OCI_RUNTIME"] ?? (find("runc") != nil ? "runc" : nil)
        if runtime == "default" || runtime == "" { runtime = nil }
        for engine in requested.map({ [$0] }) ?? Engine.allCases {
            guard let executable = find(engine.rawValue) else {
                said.append("\(engine.rawValue): not installed")
                continue
            }
            var client = EngineClient(engine: engine, executable: executable, runtime: runtime)
            if engine == .podman, let probeImage {
                let answer = client.run(engine.imageExistsArguments(probeImage))
                if answer.status == 0 || answer.status == 1 {
                    client.probed = (probeImage, answer.status == 0)
                    return (client, said)
                }
                said.append("\(engine.rawValue) (\(executable)): does not answer: "
                    + (answer.stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(answer.status)"))
                continue
            }
            let answer = client.run(engine.infoArguments)
            if answer.status == 0 { return (client, said) }
            let reason = answer.stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(answer.status)"
            said.append("\(engine.rawValue) (\(executable)): does not answer: \(reason)")
        }
        return (nil, said)
    }
}

/// Data handed from one thread to another.
final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    func get() -> Data { lock.withLock { data } }
}
