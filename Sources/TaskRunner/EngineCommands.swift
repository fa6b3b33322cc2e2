/// The container engine `berth run` drives: its command lines, built here without running anything.
public enum Engine: String, Sendable, CaseIterable {
    case podman, docker

    /// The arguments before the subcommand: for podman, the OCI runtime when one is chosen (crun fails in
    /// some sandboxes where runc works; docs/RUN.md).
    public func globalArguments(runtime: String?) -> [String] {
        guard self == .podman, let runtime else { return [] }
        return ["--runtime", runtime]
    }

    /// Asks whether the engine answers (a docker client without a daemon does not).
    public var infoArguments: [String] {
        switch self {
        // podman has no daemon: a client that answers is the engine (and `version` takes 20 ms where
        // `info` takes 450 ms, most of berth run's start). A remote podman without its service fails here.
        case .podman: ["version", "--format", "{{.Client.Version}}"]
        // `docker version` exits 1 when the daemon does not answer; `docker info` has not always.
        case .docker: ["version", "--format", "{{.Server.Version}}"]
        }
    }

    /// Exit status 0 when `image` is in the local store.
    public func imageExistsArguments(_ image: String) -> [String] {
        switch self {
        case .podman: ["image", "exists", image]
        case .docker: ["image", "inspect", "--format", "{{.Id}}", image]
        }
    }

    /// How to get an image into this engine's store, for the message about a missing one.
    public func loadAdvice(_ image: String) -> String {
        "load it with `\(rawValue) load -i IMAGE.tar`, build it with `\(rawValue) build -t \(image) .`, "
            + "or pull it yourself (`\(rawValue) pull \(image)`); berth run pulls nothing"
    }
}

/// A mount for one container: a host directory or an engine volume at `containerPath`.
public struct ContainerMount: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case bind(String)
        case engineVolume(String)
    }
    public var source: Source
    public var containerPath: String
    public var readOnly: Bool

    public init(source: Source, containerPath: String, readOnly: Bool) {
        self.source = source
        self.containerPath = containerPath
        self.readOnly = readOnly
    }

    /// `--volume SOURCE:TARGET[:ro]`, which both engines read.
    var arguments: [String] {
        switch source {
        case .bind(let path):
            return ["--volume", "\(path):\(containerPath)\(readOnly ? ":ro" : "")"]
        case .engineVolume(let name):
            return ["--volume", "\(name):\(containerPath)\(readOnly ? ":ro" : "")"]
        }
    }
}

/// A resource limit passed to every container (`--ulimit nofile=1024:4096`).
public struct ResourceLimit: Sendable, Equatable {
    public var name: String
    public var soft: UInt64
    public var hard: UInt64

    public init(name: String, soft: UInt64, hard: UInt64) {
        self.name = name
        self.soft = soft
        self.hard = hard
    }

    /// `NAME=SOFT[:HARD]`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, !parts[0].isEmpty else { return nil }
        let values = parts[1].split(separator: ":", omittingEmptySubsequences: false).map { UInt64($0) }
        guard (1...2).contains(values.count), let soft = values[0], let hard = values.count == 2 ? values[1] : soft, soft <= hard else {
            return nil
        }
        self.init(name: String(parts[0]), soft: soft, hard: hard)
    }

    public var argument: String { "\(name)=\(soft):\(hard)" }
}

public enum EngineCommands {
    /// The engine's name for a container of a run: `berth-<run hex>-<task n>-<container>`.
    public static func containerName(runID: String, taskID: String, container: String) -> String {
        let safe = String(container.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        return "berth-\(taskID)-\(safe)"
    }

    /// `create` for one container, never pulling. Containers of one task see each other's volumes
    /// (`volumesFrom`) by their engine names.
    public static func create(
        engine: Engine, runID: String, taskID: String, container: ContainerDefinition, mounts: [ContainerMount],
        limits: [ResourceLimit], network: String?
    ) -> [String] {
        var arguments = ["create", "--pull", "never", "--name", containerName(runID: runID, taskID: taskID, container: container.name),
                         "--label", "berth.run=\(runID)", "--label", "berth.task=\(taskID)",
                         "--label", "berth.container=\(container.name)"]
        for limit in limits { arguments += ["--ulimit", limit.argument] }
        if let network { arguments += ["--network", network] }
        for mount in mounts { arguments += mount.arguments }
        for from in container.volumesFrom {
            let source = containerName(runID: runID, taskID: taskID, container: from.sourceContainer)
            arguments += ["--volumes-from", source + (from.readOnly ? ":ro" : "")]
        }
        // The task's id, so that the containers of several tasks can tell themselves apart (not an ECS
        // variable; ECS gives the id through the task metadata endpoint, which Berth does not serve).
        arguments += ["--env", "BERTH_TASK_ID=\(taskID)"]
        for variable in container.environment { arguments += ["--env", "\(variable.name)=\(variable.value)"] }
        if let directory = container.workingDirectory { arguments += ["--workdir", directory] }
        if let user = container.user { arguments += ["--user", user] }
        if container.readonlyRootFilesystem { arguments += ["--read-only"] }
        // ECS's entryPoint replaces the image's ENTRYPOINT (its first word is the program, the rest come
        // before command); --entrypoint takes one program, so the rest go before the command.
        var tail: [String] = []
        if let entryPoint = container.entryPoint, let program = entryPoint.first {
            arguments += ["--entrypoint", program]
            tail += entryPoint.dropFirst()
        }
        arguments.append(container.image)
        tail += container.command ?? []
        return arguments + tail
    }

    /// A Windows container path (`C:\\data\\in`) as this Linux machine's engine takes it (`/data/in`):
    /// Windows images cannot run here, so a Windows task definition runs Linux images with its paths mapped.
    public static func linuxPath(_ path: String) -> String {
        var rest = Substring(path)
        if rest.count >= 2, rest.first?.isLetter == true, rest.dropFirst().first == ":" { rest = rest.dropFirst(2) }
        let slashed = String(rest.map { $0 == "\\" ? "/" : $0 })
        return slashed.hasPrefix("/") ? slashed : "/" + slashed
    }

    /// Attaches to a created container and waits: the engine exits with the container's exit status.
    public static func startAttached(_ name: String) -> [String] { ["start", "--attach", name] }

    public static func exitCode(_ name: String) -> [String] { ["inspect", "--format", "{{.State.ExitCode}}", name] }

    public static func stop(_ names: [String], seconds: Int) -> [String] { ["stop", "--time", String(seconds)] + names }

    /// Removes containers at once, killing those still running (podman's `rm --force` would first wait
    /// out a 10 s stop timeout; docker's kills).
    public static func remove(_ names: [String], engine: Engine) -> [String] {
        engine == .podman ? ["rm", "--force", "--time", "0"] + names : ["rm", "--force"] + names
    }

    public static func createVolume(_ name: String, driver: String?, options: [String: String], labels: [String: String], runID: String) -> [String] {
        var arguments = ["volume", "create", "--label", "berth.run=\(runID)"]
        if let driver { arguments += ["--driver", driver] }
        for (key, value) in options.sorted(by: { $0.key < $1.key }) { arguments += ["--opt", "\(key)=\(value)"] }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { arguments += ["--label", "\(key)=\(value)"] }
        return arguments + [name]
    }

    public static func removeVolume(_ name: String) -> [String] { ["volume", "rm", "--force", name] }
}
