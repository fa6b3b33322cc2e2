public import EmulatorCore
public import Foundation
import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// Everything `berth run` was asked for, already checked for shape.
public struct RunRequest: Sendable {
    public var file: String
    public var definition: TaskDefinition
    public var target: LaunchTarget
    public var zones: [String]
    public var overrides: [String: String]
    public var ebs: [String: EBSLaunchConfiguration]
    public var keepEBS: Bool
    public var limits: [ResourceLimit]
    public var network: String?
    public var stopTimeoutSeconds: Int

    public init(file: String, definition: TaskDefinition, target: LaunchTarget, zones: [String], overrides: [String: String],
                ebs: [String: EBSLaunchConfiguration], keepEBS: Bool, limits: [ResourceLimit], network: String?,
                stopTimeoutSeconds: Int = 10) {
        self.file = file
        self.definition = definition
        self.target = target
        self.zones = zones
        self.overrides = overrides
        self.ebs = ebs
        self.keepEBS = keepEBS
        self.limits = limits
        self.network = network
        self.stopTimeoutSeconds = stopTimeoutSeconds
    }
}

/// A failure that stops a run before or while it starts; the message is for people.
public struct RunFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a finished run reports (the JSON summary of run.md).
public struct RunSummary: Sendable {
    public struct Volume: Sendable {
        public var name: String
        public var volumeID: String?
        public var type: String
        public var mountpoint: String?
    }
    public struct Container: Sendable {
        public var name: String
        public var exitCode: Int32?
        public var essential: Bool
    }
    public struct Task: Sendable {
        public var taskID: String
        public var az: String
        public var containers: [Container]
        public var volumes: [Volume]
    }
    public var runID: String
    public var tasks: [Task]
    public var exitCode: Int32
}

/// One run of a task definition: its tasks, their volumes and containers, and their release.
///
/// Every resource is recorded in the state (`recordRunResource`) before it is made and forgotten after
/// it is released, so that a run killed at any point is cleared by the next berth command (`RunJanitor`).
public final class TaskRun: @unchecked Sendable {
    public let runID: String
    let store: StateStore
    let request: RunRequest
    let client: EngineClient
    let runDirectory: String
    /// Starts `_serve-task-mount` with these arguments in a new process; returns once it serves (or throws).
    let startMountServer: @Sendable ([String]) throws -> pid_t
    let output: RunOutput

    struct PlannedTask {
        var taskID: String
        var az: String
        var volumes: [(TaskVolume, VolumeSource)]
        /// Per task-definition volume name: what containers mount.
        var mounts: [String: ContainerMount.Source] = [:]
        var summaryVolumes: [RunSummary.Volume] = []
        var containers: [String] = []
    }

    let lock = NSLock()
    var tasks: [PlannedTask] = []
    var exitCodes: [String: Int32] = [:]
    var firstFailure: Int32?
    var finishedTasks: Set<String> = []
    var stopping = false
    let finished = DispatchSemaphore(value: 0)

    public init(runID: String, store: StateStore, request: RunRequest, client: EngineClient, runDirectory: String,
                output: RunOutput, startMountServer: @escaping @Sendable ([String]) throws -> pid_t) {
        self.runID = runID
        self.store = store
        self.request = request
        self.client = client
        self.runDirectory = runDirectory
        self.output = output
        self.startMountServer = startMountServer
    }

    /// A new run id: `run-` and 12 hex digits.
    public static func newRunID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "run-" + String((0..<12).map { _ in Array("0123456789abcdef")[Int(generator.next(upperBound: UInt8(16)))] })
    }

    // MARK: Checks that start nothing

    /// Every volume of every task resolved against the state; images present in the engine's store.
    public func check() throws(RunFailure) {
        var planned: [PlannedTask] = []
        for (index, az) in TaskPlacement.zones(count: request.zones.isEmpty ? 0 : requestedCount, over: request.zones).enumerated() {
            let taskID = TaskPlacement.taskID(runID: runID, index: index)
            let sources: [(TaskVolume, VolumeSource)]
            let placeholders = placeholderVolumes
            do {
                sources = try VolumePlanner.sources(
                    for: request.definition, runID: runID, taskID: taskID, overrides: request.overrides, ebs: request.ebs,
                    existing: { [store] id in
                        if let type = placeholders[id] { return type.rawValue }
                        guard let volumeID = VolumeID(rawValue: id) else { return nil }
                        return (try? store.describeVolume(volumeID))?.volume.type.rawValue
                    })
            } catch {
                throw RunFailure(error.description)
            }
            for (volume, source) in sources {
                guard case .emulated(let id, _, _, let accessPointID?) = source else { continue }
                let accessPoint: AccessPoint
                do { accessPoint = try store.describeAccessPoint(accessPointID) } catch {
                    throw RunFailure("\(error.description) (volume '\(volume.name)', \(volume.path)); `berth access-point list` shows them")
                }
                if accessPoint.fileSystemID.rawValue != id {
                    throw RunFailure("InvalidParameterException: access point \(accessPointID) (volume '\(volume.name)') belongs to "
                        + "\(accessPoint.fileSystemID), not to \(id)")
                }
            }
            planned.append(PlannedTask(taskID: taskID, az: az, volumes: sources))
        }
        // `--volume SOURCE:TARGET[:ro]` is how both engines take a bind: a ':' in a path would be read as
        // options (Docker refuses such paths too).
        for container in request.definition.containers {
            for point in container.mountPoints {
                let path = request.target.windows ? EngineCommands.linuxPath(point.containerPath) : point.containerPath
                if path.contains(":") {
                    throw RunFailure("\(request.file):\(point.path): error: containerPath \"\(point.containerPath)\" holds ':', "
                        + "which \(client.engine.rawValue) cannot bind")
                }
            }
        }
        for volume in request.definition.volumes {
            if case .host(let source?) = volume.kind, request.overrides[volume.name] == nil, source.contains(":") {
                throw RunFailure("\(request.file):\(volume.path): error: host.sourcePath \"\(source)\" holds ':', which \(client.engine.rawValue) cannot bind")
            }
            if case .efs(let efs) = volume.kind, let accessPoint = efs.accessPointID, Self.isPlaceholder(accessPoint) {
                output.note("\(accessPoint) (volume '\(volume.name)') is a placeholder: mounted without an access point "
                    + "(create one with `berth access-point create` and put its id in the task definition)")
            }
        }
        var missing: [String] = []
        for container in request.definition.containers where !missing.contains(container.image) {
            if let probed = client.probed, probed.image == container.image {
                if !probed.present { missing.append(container.image) }
            } else if client.run(client.engine.imageExistsArguments(container.image)).status != 0 {
                missing.append(container.image)
            }
        }
        if !missing.isEmpty {
            throw RunFailure(missing.map {
                "CannotPullContainerError: image \($0) is not in \(client.engine.rawValue)'s local store; \(client.engine.loadAdvice($0))"
            }.joined(separator: "\n"))
        }
        tasks = planned
    }

    public var requestedCount = 1

    /// File system ids left as `berth taskdef` writes them (`<EFS_FILE_SYSTEM_ID>`) and not given with
    /// --volume: each becomes a volume of its type for this run only, deleted at its end.
    var placeholderVolumes: [String: ServiceID] {
        var found: [String: ServiceID] = [:]
        for volume in request.definition.volumes where request.overrides[volume.name] == nil {
            switch volume.kind {
            case .efs(let efs) where Self.isPlaceholder(efs.fileSystemID): found[efs.fileSystemID] = .efs
            case .fsxWindows(let fsx) where Self.isPlaceholder(fsx.fileSystemID): found[fsx.fileSystemID] = .fsxWindows
            default: break
            }
        }
        return found
    }

    public static func isPlaceholder(_ id: String) -> Bool { id.hasPrefix("<") && id.hasSuffix(">") }

    /// Makes the run's own volumes for placeholders and puts their ids in every task's plan.
    func makePlaceholderVolumes() throws {
        let placeholders = placeholderVolumes
        guard !placeholders.isEmpty, let firstZone = tasks.first?.az else { return }
        let zonesInUse = Set(tasks.map(\.az))
        for (placeholder, type) in placeholders.sorted(by: { $0.key < $1.key }) {
            let name = Self.ebsVolumeName(runID: runID, taskID: "run", volume: placeholder)
            let volume: Volume
            do {
                volume = try store.createVolume(type: type, az: firstZone, name: name,
                                                deployment: type == .fsxWindows && zonesInUse.count > 1 ? .multiAZ : nil)
            } catch {
                throw RunFailure(error.description)
            }
            try record(.volume, volume.id.rawValue)
            output.note("\(placeholder) is a placeholder: a new \(type.rawValue) volume \(volume.id) serves it for this run "
                + "(pass --volume NAME=ID to use one of yours)")
            placeholderIDs[placeholder] = volume.id.rawValue
        }
        for index in tasks.indices {
            tasks[index].volumes = tasks[index].volumes.map { volume, source in
                guard case .emulated(let id, let kind, let root, let accessPoint) = source, let real = placeholderIDs[id] else { return (volume, source) }
                return (volume, .emulated(volumeID: real, type: kind, rootDirectory: root, accessPointID: accessPoint))
            }
        }
    }

    var placeholderIDs: [String: String] = [:]

    // MARK: Starting

    /// Makes every task's volumes, mounts and containers, recording each first. On failure, releases
    /// what was made and throws.
    public func prepare(detached: Bool) throws(RunFailure) {
        do {
            try store.beginRun(id: runID, engine: client.engine.rawValue, taskDefinition: request.file, detached: detached)
        } catch {
            throw RunFailure(error.description)
        }
        do {
            // Everything whose name is known now is recorded in one commit before anything is made.
            var known: [RunResource] = [RunResource(kind: .directory, value: runDirectory)]
            for task in tasks {
                let taskDirectory = runDirectory + "/" + task.taskID
                known.append(RunResource(kind: .directory, value: taskDirectory))
                for (position, (volume, source)) in task.volumes.enumerated() {
                    let path = "\(taskDirectory)/\(position)-\(Self.safe(volume.name))"
                    switch source {
                    case .emulated, .newEBS: known.append(RunResource(kind: .mount, value: path))
                    case .scratch: known.append(RunResource(kind: .directory, value: path))
                    case .engineVolume(let name, true, _, _, _): known.append(RunResource(kind: .engineVolume, value: name))
                    default: break
                    }
                }
                for container in request.definition.containers {
                    known.append(RunResource(kind: .container, value: EngineCommands.containerName(runID: runID, taskID: task.taskID,
                                                                                                   container: container.name)))
                }
            }
            do { try store.recordRunResources(runID, known) } catch { throw RunFailure(error.description) }
            lock.withLock { recorded = Set(known) }
            try makeDirectory(runDirectory)
            try makePlaceholderVolumes()
            var jobs: [@Sendable () throws -> Void] = []
            for index in tasks.indices {
                jobs += try prepareStorage(index)
                if createsFirst { jobs.append { try self.createContainers(index) } }
            }
            // Mount servers, new EBS volumes and container creation wait on other processes: side by side.
            let failures = LockedList<String>()
            let group = DispatchGroup()
            for job in jobs {
                DispatchQueue.global().async(group: group) {
                    do { try job() } catch { failures.append("\(error)") }
                }
            }
            group.wait()
            if let failure = failures.items.first { throw RunFailure(failure) }
        } catch let failure as RunFailure {
            release()
            throw failure
        } catch {
            release()
            throw RunFailure("\(error)")
        }
    }

    /// Resources recorded in `prepare`'s first commit.
    var recorded: Set<RunResource> = []

    func record(_ kind: RunResource.Kind, _ value: String) throws {
        if lock.withLock({ recorded.contains(RunResource(kind: kind, value: value)) }) { return }
        do { try store.recordRunResource(runID, RunResource(kind: kind, value: value)) } catch { throw RunFailure(error.description) }
    }

    func forget(_ kind: RunResource.Kind, _ value: String) {
        try? store.forgetRunResource(runID, RunResource(kind: kind, value: value))
    }

    func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw RunFailure("cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Makes a task's quick storage (directories, host paths, engine volumes) and returns the slow part
    /// (new EBS volumes and mount servers) as jobs, so that they run beside each other and beside the
    /// creation of the containers, which needs only the mount points' paths.
    func prepareStorage(_ index: Int) throws -> [@Sendable () throws -> Void] {
        var task = lock.withLock { tasks[index] }
        let taskDirectory = runDirectory + "/" + task.taskID
        try record(.directory, taskDirectory)
        try makeDirectory(taskDirectory)
        var jobs: [@Sendable () throws -> Void] = []
        let (taskID, az) = (task.taskID, task.az)
        for (position, (volume, source)) in task.volumes.enumerated() {
            let mountpoint = "\(taskDirectory)/\(position)-\(Self.safe(volume.name))"
            switch source {
            case .emulated(let id, let type, let root, let accessPoint):
                jobs.append { try self.mount(id, at: mountpoint, taskID: taskID, az: az, root: root, accessPoint: accessPoint) }
                task.mounts[volume.name] = .bind(mountpoint)
                task.summaryVolumes.append(.init(name: volume.name, volumeID: id, type: type, mountpoint: mountpoint))
            case .newEBS(let configuration):
                let slot = task.summaryVolumes.count
                jobs.append {
                    let created = try self.createEBS(configuration, taskID: taskID, az: az)
                    self.lock.withLock { self.tasks[index].summaryVolumes[slot].volumeID = created }
                    try self.mount(created, at: mountpoint, taskID: taskID, az: az, root: nil, accessPoint: nil)
                }
                task.mounts[volume.name] = .bind(mountpoint)
                task.summaryVolumes.append(.init(name: volume.name, volumeID: nil, type: "ebs", mountpoint: mountpoint))
            case .hostPath(let path):
                // Docker makes a missing host path of a bind mount (and so ECS on EC2); podman does not.
                if !FileManager.default.fileExists(atPath: path) {
                    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
                        throw RunFailure("cannot create the host path \(path) of volume '\(volume.name)': \(error)")
                    }
                    output.note("made the missing host path \(path) of volume '\(volume.name)', as Docker does")
                }
                task.mounts[volume.name] = .bind(path)
                task.summaryVolumes.append(.init(name: volume.name, volumeID: nil, type: "host", mountpoint: path))
            case .scratch:
                try record(.directory, mountpoint)
                try makeDirectory(mountpoint)
                task.mounts[volume.name] = .bind(mountpoint)
                task.summaryVolumes.append(.init(name: volume.name, volumeID: nil, type: "bind", mountpoint: mountpoint))
            case .engineVolume(let name, let taskScoped, let driver, let options, let labels):
                if taskScoped {
                    try record(.engineVolume, name)
                    let made = client.run(EngineCommands.createVolume(name, driver: driver, options: options, labels: labels, runID: runID))
                    guard made.status == 0 else { throw RunFailure("\(client.engine.rawValue) volume create \(name): \(made.stderr)") }
                } else if client.run(["volume", "inspect", name]).status != 0 {
                    let made = client.run(EngineCommands.createVolume(name, driver: driver, options: options, labels: labels, runID: runID))
                    guard made.status == 0 else { throw RunFailure("\(client.engine.rawValue) volume create \(name): \(made.stderr)") }
                }
                task.mounts[volume.name] = .engineVolume(name)
                task.summaryVolumes.append(.init(name: volume.name, volumeID: nil, type: "docker", mountpoint: name))
            }
        }
        lock.withLock { tasks[index] = task }
        return jobs
    }

    static func safe(_ name: String) -> String {
        String(name.prefix(64).map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }

    /// The name a per-task EBS volume carries; `RunJanitor` finds the volumes of a killed run by it.
    public static func ebsVolumeName(runID: String, taskID: String, volume: String) -> String {
        "berth-run:\(runID):\(taskID):\(safe(volume))"
    }

    func createEBS(_ configuration: EBSLaunchConfiguration, taskID: String, az: String) throws -> String {
        var snapshot: SnapshotID?
        if let text = configuration.snapshotID {
            guard let id = SnapshotID(rawValue: text) else { throw RunFailure(StateError.malformedSnapshotID(text).description) }
            snapshot = id
        }
        let name = Self.ebsVolumeName(runID: runID, taskID: taskID, volume: configuration.name)
        let volume: Volume
        do {
            volume = try store.createVolume(type: .ebs, az: az, sizeGiB: configuration.sizeGiB, name: name, fromSnapshot: snapshot)
        } catch {
            throw RunFailure(error.description)
        }
        if !request.keepEBS { try record(.volume, volume.id.rawValue) }
        return volume.id.rawValue
    }

    func mount(_ id: String, at mountpoint: String, taskID: String, az: String, root: String?, accessPoint: String?) throws {
        try record(.mount, mountpoint)
        try makeDirectory(mountpoint)
        var arguments = ["_serve-task-mount", "--state-dir", store.directory.path, "--volume-id", id, "--mountpoint", mountpoint,
                         "--az", az, "--task", taskID, "--launch-type", request.target.launchType.rawValue,
                         "--os", request.target.windows ? "windows" : "linux"]
        if let root { arguments += ["--root-directory", root] }
        // A run's own volume (for a placeholder id) is new and empty: its root directory is made for it.
        if root != nil, placeholderIDs.values.contains(id) { arguments += ["--root-creation-info", "0:0:755"] }
        if let accessPoint { arguments += ["--access-point", accessPoint] }
        do {
            _ = try startMountServer(arguments)
        } catch {
            throw RunFailure("task \(taskID) in \(az): volume \(id) could not be mounted (the reason is above)")
        }
    }

    func createContainers(_ index: Int) throws {
        let task = lock.withLock { tasks[index] }
        // volumesFrom needs its source container to exist: sources first.
        for container in Self.dependencyOrder(request.definition.containers) {
            let name = EngineCommands.containerName(runID: runID, taskID: task.taskID, container: container.name)
            try record(.container, name)
            let created = client.run(createArguments(taskID: task.taskID, container: container))
            guard created.status == 0 else {
                throw RunFailure("task \(task.taskID): \(client.engine.rawValue) could not create container \(container.name): "
                    + created.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            lock.withLock { tasks[index].containers.append(container.name) }
        }
    }

    /// Containers are created before any starts only when one takes volumes from another.
    var createsFirst: Bool { request.definition.containers.contains { !$0.volumesFrom.isEmpty } }

    /// The engine's `create` line for `container` of task `taskID`, with its mounts.
    func createArguments(taskID: String, container: ContainerDefinition) -> [String] {
        let task = lock.withLock { tasks.first { $0.taskID == taskID } }
        let mounts = container.mountPoints.compactMap { point -> ContainerMount? in
            let path = request.target.windows ? EngineCommands.linuxPath(point.containerPath) : point.containerPath
            return task?.mounts[point.sourceVolume].map { ContainerMount(source: $0, containerPath: path, readOnly: point.readOnly) }
        }
        return EngineCommands.create(engine: client.engine, runID: runID, taskID: taskID, container: container, mounts: mounts,
                                     limits: request.limits, network: request.network)
    }

    /// Containers after those they take volumes from (a cycle keeps file order).
    static func dependencyOrder(_ containers: [ContainerDefinition]) -> [ContainerDefinition] {
        var done: [ContainerDefinition] = []
        var left = containers
        while !left.isEmpty {
            let names = Set(done.map(\.name))
            if let next = left.firstIndex(where: { $0.volumesFrom.allSatisfy { names.contains($0.sourceContainer) } }) {
                done.append(left.remove(at: next))
            } else {
                done += left
                left = []
            }
        }
        return done
    }

    // MARK: Running

    /// Starts every container and waits until an essential container of every task has exited (then
    /// the task's other containers are stopped, as ECS stops a task), or until `stop()`.
    public func runToEnd() {
        let definition = request.definition
        var started = 0
        for task in tasks {
            for container in definition.containers {
                let name = EngineCommands.containerName(runID: runID, taskID: task.taskID, container: container.name)
                let taskID = task.taskID
                let containerName = container.name
                let essential = container.essential
                started += 1
                // Without volumesFrom nothing needs the containers to exist beforehand: `run` creates and
                // starts in one engine call (one start of podman fewer per container).
                let arguments = createsFirst ? EngineCommands.startAttached(name)
                    : ["run"] + createArguments(taskID: task.taskID, container: container).dropFirst()
                _ = client.stream(arguments, onLine: { [output] line, isError in
                    output.containerLine(task: taskID, container: containerName, line: line, stderr: isError)
                }, onExit: { [self] status in
                    self.containerExited(task: taskID, container: containerName, engineName: name, essential: essential, status: status)
                })
            }
        }
        if started == 0 { return }
        finished.wait()
    }

    func containerExited(task: String, container: String, engineName: String, essential: Bool, status: Int32) {
        var code = status
        // 125: the engine itself failed (the container may not have run); ask it what the container did.
        if status == 125 || status == 126 || status == 127 {
            let inspected = client.run(EngineCommands.exitCode(engineName))
            if inspected.status == 0, let value = Int32(inspected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), value != 0 {
                code = value
            }
        }
        output.note("task \(task): container \(container) exited with \(code)\(essential ? " (essential)" : "")")
        var stopOthers = false
        var allDone = false
        lock.withLock {
            exitCodes["\(task)/\(container)"] = code
            if essential {
                if code != 0, firstFailure == nil { firstFailure = code }
                if finishedTasks.insert(task).inserted { stopOthers = true }
            }
            let containerNames = request.definition.containers.map(\.name)
            let everyTaskEnded = tasks.allSatisfy { finishedTasks.contains($0.taskID) }
            let everyContainerExited = tasks.allSatisfy { t in containerNames.allSatisfy { exitCodes["\(t.taskID)/\($0)"] != nil } }
            allDone = everyTaskEnded && everyContainerExited
        }
        if stopOthers {
            // ECS stops the task's other containers when an essential one exits.
            let others = request.definition.containers.filter { $0.name != container }
                .map { EngineCommands.containerName(runID: runID, taskID: task, container: $0.name) }
            if !others.isEmpty {
                let timeout = request.stopTimeoutSeconds
                DispatchQueue.global().async { [client] in _ = client.run(EngineCommands.stop(others, seconds: timeout)) }
            }
        }
        if allDone { finished.signal() }
    }

    /// SIGINT/SIGTERM: stops every container (their exits end the run).
    public func stop() {
        let already = lock.withLock { () -> Bool in
            defer { stopping = true }
            return stopping
        }
        if already { return }
        let names = tasks.flatMap { task in
            request.definition.containers.map { EngineCommands.containerName(runID: runID, taskID: task.taskID, container: $0.name) }
        }
        let timeout = request.stopTimeoutSeconds
        DispatchQueue.global().async { [client, self] in
            _ = client.run(EngineCommands.stop(names, seconds: timeout))
            // Every container has exited now; whatever did not report (never started) does not hold the run.
            self.finished.signal()
        }
    }

    // MARK: Releasing

    /// Removes containers, unmounts, deletes per-task EBS volumes and engine volumes, removes directories,
    /// and drops the run's record. Safe to call more than once.
    public func release() {
        let runs = (try? store.listRuns()) ?? []
        let resources = runs.first { $0.id == runID }?.resources ?? []
        RunJanitor.release(runID: runID, resources: resources, store: store, client: client)
    }

    public func summary() -> RunSummary {
        lock.withLock {
            let tasksSummary = tasks.map { task in
                RunSummary.Task(
                    taskID: task.taskID, az: task.az,
                    containers: request.definition.containers.map {
                        RunSummary.Container(name: $0.name, exitCode: exitCodes["\(task.taskID)/\($0.name)"], essential: $0.essential)
                    },
                    volumes: task.summaryVolumes)
            }
            let unfinished = tasks.contains { !finishedTasks.contains($0.taskID) }
            return RunSummary(runID: runID, tasks: tasksSummary, exitCode: firstFailure ?? (unfinished && stopping ? 130 : 0))
        }
    }
}

/// Where a run's output goes.
public final class RunOutput: @unchecked Sendable {
    let lock = NSLock()
    /// Container lines to stderr (when stdout carries the JSON summary).
    let containerLinesToStderr: Bool

    public init(containerLinesToStderr: Bool) {
        self.containerLinesToStderr = containerLinesToStderr
    }

    public func containerLine(task: String, container: String, line: String, stderr: Bool) {
        let text = "[\(task) \(container)] \(line)\n"
        lock.withLock {
            let handle = stderr || containerLinesToStderr ? FileHandle.standardError : FileHandle.standardOutput
            handle.write(Data(text.utf8))
        }
    }

    public func note(_ text: String) {
        lock.withLock { FileHandle.standardError.write(Data("berth run: \(text)\n".utf8)) }
    }
}

final class LockedList<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [T] = []
    func append(_ item: T) { lock.withLock { list.append(item) } }
    var items: [T] { lock.withLock { list } }
}
