public import ArgumentParser
import EmulatorCore
import Foundation
import StoragePlanner
import StorageCatalog
public import TaskRunner
#if canImport(Glibc)
import Glibc
#endif

/// `berth run TASKDEF.json …` (the default subcommand, also spelled `berth run start`), `berth run stop`,
/// `berth run list`.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an ECS task definition's containers here, every volume served by an emulated volume.",
        discussion: "berth run TASKDEF.json [options]: see `berth run start --help`.",
        subcommands: [RunTaskCommand.self, RunStopCommand.self, RunListCommand.self],
        defaultSubcommand: RunTaskCommand.self)
}

struct RunTaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Run a task definition (the default: `berth run TASKDEF.json` is `berth run start TASKDEF.json`).",
        discussion: """
            Refuses what ECS would refuse for storage (ClientException / InvalidParameterException, exit 1,
            nothing started). Each task is its own attachment in its own AZ: --count N spreads the tasks
            round-robin over the --az values (default: every AZ of the region). Images must already be in the
            engine's store (nothing is pulled). Every container line is printed as `[TASK CONTAINER] line`.
            The run ends when an essential container of every task has exited, or on Ctrl-C / SIGTERM; then
            containers, mounts, attachments and per-task EBS volumes are released. A killed run is cleared
            by the next berth command. docs/RUN.md has the details and a CI example.

            Examples:
              berth run td.json --volume data=fs-… --count 3 --launch-type fargate
              berth run td.json --ebs db=20:gp3 --format json | jq .exitCode
              id=$(berth run td.json --detach); berth run list; berth run stop "$id"

            Exit status: 0 every essential container exited 0; else the first non-zero exit code of an
            essential container; 1 a refusal or bad input; 64 bad arguments.
            """)

    @Argument(help: "The task definition (JSON, as register-task-definition takes or describe-task-definition prints).")
    var taskDefinition: String
    @Option(help: "How many tasks to run (1 to 10, as RunTask).") var count: Int = 1
    @Option(help: "An AZ to place tasks in (repeat; default: every AZ of the region).") var az: [String] = []
    @Option(name: .customLong("launch-type"), help: "fargate or ec2 (default: requiresCompatibilities, else ec2).")
    var launchType: LaunchTarget.LaunchType?
    @Option(help: "NAME=ID: serve the task definition's volume NAME from the emulated volume ID (repeat).")
    var volume: [String] = []
    @Option(help: "NAME=SIZE_GIB[:TYPE][:SNAPSHOT]: the EBS volume of a configuredAtLaunch volume (repeat).")
    var ebs: [String] = []
    @Flag(name: .customLong("keep-ebs"), help: "Keep the per-task EBS volumes when tasks stop (deleteOnTermination false).")
    var keepEBS = false
    @Option(help: "podman or docker (default: the first that answers).") var engine: Engine?
    @Flag(help: "Start the run in the background, print its id and return; `berth run stop ID` ends it.") var detach = false
    @Option(help: "text or json (a summary object on stdout at the end).") var format: EmulatorFormat = .text
    @Option(help: "NAME=SOFT[:HARD]: a resource limit for every container (default: nofile and nproc of this process).")
    var ulimit: [String] = []
    @Option(help: "The containers' network (e.g. none); default: the engine's.") var network: String?
    @Option(name: .customLong("stop-timeout"), help: "Seconds a container gets between SIGTERM and SIGKILL when its task stops.")
    var stopTimeout: Int = 10
    @Option(name: .customLong("run-id"), help: .hidden) var detachedRunID: String?
    @Option(name: .customLong("ready-fd"), help: .hidden) var readyFD: Int32?
    @OptionGroup var state: StateOptions

    func validate() throws {
        // RunTask places at most 10 tasks per call (AWS docs AmazonECS/latest/APIReference/API_RunTask.html,
        // `count`; checked 2026-11-26).
        guard (1...10).contains(count) else {
            throw ValidationError("--count must be 1 to 10: RunTask places at most 10 tasks per call "
                + "(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html)")
        }
        guard stopTimeout >= 0 else { throw ValidationError("--stop-timeout must not be negative") }
        for text in volume where VolumeOverride(parsing: text) == nil { throw ValidationError("--volume must be NAME=ID, got \"\(text)\"") }
        for text in ebs where EBSLaunchConfiguration(parsing: text) == nil {
            throw ValidationError("--ebs must be NAME=SIZE_GIB[:TYPE][:SNAPSHOT] with SIZE_GIB at least 1, got \"\(text)\"")
        }
        for text in ulimit where ResourceLimit(parsing: text) == nil { throw ValidationError("--ulimit must be NAME=SOFT[:HARD], got \"\(text)\"") }
    }

    func run() throws {
        if let readyFD { InheritedPipes.close(keeping: [readyFD]) }
        let environment = ProcessInfo.processInfo.environment
        let started = Date()
        // BERTH_RUN_TRACE=1: how long each phase took (for scripts/bench-run.sh and slow machines).
        let trace = { (phase: String) in
            if environment["BERTH_RUN_TRACE"] == "1" { printError("berth run: trace: \(phase) at \(Int(Date().timeIntervalSince(started) * 1000)) ms") }
        }
        guard let data = FileManager.default.contents(atPath: taskDefinition) else {
            printError("\(taskDefinition): error: cannot read the file")
            throw ExitStatus.invalidInput
        }
        let definition: TaskDefinition
        do { definition = try TaskDefinitionParser.parse(data, file: taskDefinition) } catch {
            printError(error.description)
            throw ExitStatus.invalidInput
        }
        let target = LaunchTarget.resolve(definition, requested: launchType)
        let launchConfigurations = ebs.compactMap(EBSLaunchConfiguration.init(parsing:))
        let refusals = RunRefusals.check(definition, target: target, launchVolumes: Set(launchConfigurations.map(\.name)))
        if !refusals.isEmpty {
            refusals.forEach { printError("\(taskDefinition): \($0)") }
            printError("berth run: refused as ECS would refuse it; nothing was started")
            throw ExitStatus.invalidInput
        }
        let overrides = Dictionary(volume.compactMap(VolumeOverride.init(parsing:)).map { ($0.name, $0.volumeID) }, uniquingKeysWith: { $1 })
        for name in overrides.keys.sorted() where definition.volume(named: name) == nil {
            throw ValidationError("--volume \(name)=…: the task definition has no volume '\(name)'")
        }
        let store = try state.open()
        trace("state opened")
        let zones = az.isEmpty ? store.region.zones : az
        for zone in zones where !store.region.zones.contains(zone) {
            printError(StateError.zoneNotFound(zone, region: store.region.name, known: store.region.zones).description)
            throw ExitStatus.invalidInput
        }
        let (chosen, said) = EngineClient.choose(requested: engine, environment: environment,
                                                 probeImage: definition.containers.first?.image)
        guard let client = chosen else {
            printError("berth run: no container engine answers:\n" + said.map { "  \($0)" }.joined(separator: "\n")
                + "\ninstall podman (apt-get install podman runc) or start the docker daemon; docs/RUN.md says what is needed")
            throw ExitStatus.invalidInput
        }
        trace("engine chosen")
        let runRoot: String
        do { runRoot = try RunDirectories.root(environment: environment) } catch {
            printError(error.description)
            throw ExitStatus.invalidInput
        }
        let runID = detachedRunID ?? TaskRun.newRunID()
        let request = RunRequest(
            file: taskDefinition, definition: definition, target: target, zones: zones, overrides: overrides,
            ebs: Dictionary(launchConfigurations.map { ($0.name, $0) }, uniquingKeysWith: { $1 }), keepEBS: keepEBS,
            limits: Self.limits(ulimit.compactMap(ResourceLimit.init(parsing:))), network: network, stopTimeoutSeconds: stopTimeout)
        let output = RunOutput(containerLinesToStderr: format == .json)
        let taskRun = TaskRun(runID: runID, store: store, request: request, client: client, runDirectory: runRoot + "/" + runID,
                              output: output, startMountServer: { arguments in try BackgroundMount.start(arguments: arguments) })
        taskRun.requestedCount = count
        do { try taskRun.check() } catch {
            printError(error.description)
            throw ExitStatus.invalidInput
        }
        trace("checked")
        if detach {
            let arguments = Array(CommandLine.arguments.dropFirst().filter { $0 != "--detach" }) + ["--run-id", runID]
            _ = try BackgroundMount.start(arguments: arguments)
            print(runID)
            return
        }
        if format == .text && readyFD == nil { noteIgnored(definition, target: target, client: client) }
        let signals = StopSignals { taskRun.stop() }
        do { try taskRun.prepare(detached: readyFD != nil) } catch {
            printError(error.description)
            throw ExitStatus.invalidInput
        }
        trace("prepared")
        // A watcher that releases everything at once should this process be killed (SIGKILL cannot be
        // caught); started beside the containers so that it adds nothing to their start.
        let stateFlag = state.stateDirectory.map { ["--state-dir", $0] } ?? []
        Thread.detachNewThread {
            _ = try? BackgroundMount.start(arguments: ["_run-reaper", "--run-id", runID] + stateFlag)
        }
        if let readyFD { Self.becomeDetached(readyFD: readyFD, log: runRoot + "/" + runID + ".log") }
        // Interrupted while starting: nothing runs; everything made so far is released below.
        if !signals.received { taskRun.runToEnd() }
        trace("ended")
        taskRun.release()
        trace("released")
        let summary = taskRun.summary()
        if format == .json { print(Self.json(summary).rendered()) } else {
            printError("berth run: \(summary.runID): \(counted(summary.tasks.count, "task")) ended; exit status \(summary.exitCode)")
        }
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }

    /// nofile and nproc as this process has them unless --ulimit says otherwise: podman's own default
    /// (nofile 1048576) is above the hard limit in sandboxes, where runc then fails with "setrlimit …:
    /// operation not permitted". nproc is capped at 4096 (docs/RUN.md: higher values failed the same way).
    static func limits(_ given: [ResourceLimit]) -> [ResourceLimit] {
        var result = given
        func own(_ resource: UInt32, _ name: String, cap: UInt64) {
            guard !given.contains(where: { $0.name == name }) else { return }
            var limit = rlimit()
            guard getrlimit(__rlimit_resource_t(resource), &limit) == 0 else { return }
            let hard = min(UInt64(limit.rlim_max), cap)
            result.append(ResourceLimit(name: name, soft: min(UInt64(limit.rlim_cur), hard), hard: hard))
        }
        // Linux's RLIMIT_NOFILE (7) and RLIMIT_NPROC (6); Glibc's Swift module spells only some of them.
        own(7, "nofile", cap: 1_048_576)
        own(6, "nproc", cap: 4096)
        return result
    }

    func noteIgnored(_ definition: TaskDefinition, target: LaunchTarget, client: EngineClient) {
        var notes: [String] = []
        if !definition.ignoredFields.isEmpty { notes.append("task definition: " + definition.ignoredFields.joined(separator: ", ")) }
        for container in definition.containers where !container.ignoredFields.isEmpty {
            notes.append("\(container.name): " + container.ignoredFields.joined(separator: ", "))
        }
        if !notes.isEmpty { printError("berth run: not applied (no effect on storage): " + notes.joined(separator: "; ")) }
        printError("berth run: \(target.launchType.rawValue) \(target.windows ? "Windows" : "Linux") tasks through \(client.engine.rawValue)"
            + (client.runtime.map { " (runtime \($0))" } ?? ""))
    }

    /// The detached run's own output goes to its log once its caller has returned.
    static func becomeDetached(readyFD: Int32, log path: String) {
        var log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if log < 0 { log = open("/dev/null", O_WRONLY | O_CLOEXEC) }
        if log >= 0 {
            dup2(log, STDOUT_FILENO)
            dup2(log, STDERR_FILENO)
            close(log)
        }
        _ = "ready\n".withCString { write(readyFD, $0, 6) }
        close(readyFD)
    }

    static func json(_ summary: RunSummary) -> JSONValue {
        .object([
            ("runId", .string(summary.runID)),
            ("tasks", .array(summary.tasks.map { task in
                .object([
                    ("taskId", .string(task.taskID)), ("az", .string(task.az)),
                    ("containers", .array(task.containers.map { container in
                        .object([("name", .string(container.name)), ("exitCode", container.exitCode.map { .int(Int($0)) } ?? .null),
                                 ("essential", .bool(container.essential))])
                    })),
                    ("volumes", .array(task.volumes.map { volume in
                        .object([("name", .string(volume.name)), ("volumeId", volume.volumeID.map(JSONValue.string) ?? .null),
                                 ("type", .string(volume.type)), ("mountpoint", volume.mountpoint.map(JSONValue.string) ?? .null)])
                    })),
                ])
            })),
            ("exitCode", .int(Int(summary.exitCode))),
        ])
    }
}

/// SIGINT, SIGTERM and SIGHUP stop the run's containers instead of killing berth, so that it can release
/// everything.
final class StopSignals: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let lock = NSLock()
    private var got = false
    var received: Bool { lock.withLock { got } }

    init(_ onSignal: @escaping @Sendable () -> Void) {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                self?.lock.withLock { self?.got = true }
                onSignal()
            }
            source.resume()
            sources.append(source)
        }
    }
}

struct RunStopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop a detached run and release everything it holds.")
    @Argument(help: "The run id (run-…).") var runID: String
    @Option(help: "Seconds to wait for the run to finish releasing.") var timeout: Double = 60
    @OptionGroup var state: StateOptions

    func run() throws {
        let store = try state.open()
        let runs = try refusing { () throws(StateError) in try store.listRuns() }
        guard let run = runs.first(where: { $0.id == runID }) else {
            printError("InvalidParameterValue: no run \(runID) (berth run list shows them)")
            throw ExitStatus.invalidInput
        }
        if run.owner.isBerthProcess {
            kill(run.owner.pid, SIGTERM)
        } else if !run.owner.isRunning {
            RunJanitor.clearAbandoned(store: store, environment: ProcessInfo.processInfo.environment)
        } else {
            printError("berth run stop: pid \(run.owner.pid), recorded for \(runID), is not this berth executable's process; not signalled")
            throw ExitStatus.invalidInput
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !((try? store.listRuns()) ?? []).contains(where: { $0.id == runID }) { return }
            usleep(20_000)
        }
        printError("berth run stop: \(runID) did not finish within \(timeout) s")
        throw ExitStatus.invalidInput
    }
}

struct RunListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List runs and what each holds.")
    @Option(help: "text or json.") var format: EmulatorFormat = .text
    @OptionGroup var state: StateOptions

    func run() throws {
        let store = try state.open()
        let runs = try refusing { () throws(StateError) in try store.listRuns() }
        if format == .json {
            print(JSONValue.array(runs.map { run in
                .object([
                    ("runId", .string(run.id)), ("pid", .int(Int(run.owner.pid))), ("engine", .string(run.engine)),
                    ("taskDefinition", .string(run.taskDefinition)), ("detached", .bool(run.detached)),
                    ("createdAt", .string(ISO8601DateFormatter().string(from: run.createdAt))),
                    ("resources", .array(run.resources.map { .object([("kind", .string($0.kind.rawValue)), ("value", .string($0.value))]) })),
                ])
            }).rendered())
            return
        }
        if runs.isEmpty { printError("no runs") }
        for run in runs {
            let containers = run.resources.filter { $0.kind == .container }.count
            let mounts = run.resources.filter { $0.kind == .mount }.count
            print([run.id, "pid \(run.owner.pid)", run.engine, run.taskDefinition, run.detached ? "detached" : "attached",
                   counted(containers, "container"), counted(mounts, "mount")].joined(separator: "\t"))
        }
    }
}

extension LaunchTarget.LaunchType: ExpressibleByArgument {}
extension Engine: ExpressibleByArgument {}
