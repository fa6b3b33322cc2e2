public import EmulatorCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Releases what a run holds: at its normal end, after SIGINT/SIGTERM, and, for a run whose process
/// was killed, from the next berth command (`clearAbandoned`), using only what the run recorded.
public enum RunJanitor {
    /// Releases every run whose process is gone. Returns the ids it cleared.
    @discardableResult
    public static func clearAbandoned(store: StateStore, environment: [String: String]) -> [String] {
        guard let runs = try? store.claimAbandonedRuns(), !runs.isEmpty else { return [] }
        var cleared: [String] = []
        for run in runs {
            let client = EngineClient.choose(requested: Engine(rawValue: run.engine), environment: environment).0
            release(runID: run.id, resources: run.resources, store: store, client: client)
            cleared.append(run.id)
        }
        return cleared
    }

    /// Containers first (they use the mounts), then engine volumes, mounts, per-task EBS volumes and
    /// directories; each is forgotten once released; the run's record goes last.
    public static func release(runID: String, resources: [RunResource], store: StateStore, client: EngineClient?) {
        func of(_ kind: RunResource.Kind) -> [String] { resources.filter { $0.kind == kind }.map(\.value) }
        let forget = { (kind: RunResource.Kind, value: String) in
            try? store.forgetRunResource(runID, RunResource(kind: kind, value: value))
        }
        if let client {
            let containers = of(.container)
            if !containers.isEmpty {
                _ = client.run(EngineCommands.remove(containers, engine: client.engine))
                containers.forEach { forget(.container, $0) }
            }
            // Containers made by a run killed between its record and the engine's answer carry its label.
            let labelled = client.run(["ps", "--all", "--quiet", "--filter", "label=berth.run=\(runID)"])
            let ids = labelled.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            if labelled.status == 0, !ids.isEmpty { _ = client.run(EngineCommands.remove(ids, engine: client.engine)) }
            for volume in of(.engineVolume) {
                _ = client.run(EngineCommands.removeVolume(volume))
                forget(.engineVolume, volume)
            }
        }
        let mounts = of(.mount)
        DispatchQueue.concurrentPerform(iterations: mounts.count) { index in
            unmount(mounts[index], store: store)
        }
        mounts.forEach { forget(.mount, $0) }
        // Per-task EBS volumes: those recorded, and any created but not yet recorded (found by name).
        var volumes = Set(of(.volume))
        let prefix = TaskRun.ebsVolumeName(runID: runID, taskID: "", volume: "").dropLast(1)
        for description in (try? store.listVolumes()) ?? [] where description.volume.name?.hasPrefix(String(prefix)) == true {
            volumes.insert(description.volume.id.rawValue)
        }
        for text in volumes.sorted() {
            if let id = VolumeID(rawValue: text) { _ = try? store.deleteVolume(id) }
            forget(.volume, text)
        }
        // Deepest first; a directory still holding a mount is left (rmdir only for mount points).
        for directory in of(.directory).sorted(by: { $0.count > $1.count }) {
            if rmdir(directory) != 0 && errno == ENOTEMPTY && !mounts.contains(where: { $0.hasPrefix(directory + "/") }) {
                try? TreeRemover.removeTree(at: directory)
            }
            forget(.directory, directory)
        }
        for mountpoint in mounts { rmdir(mountpoint) }
        for directory in of(.directory).sorted(by: { $0.count > $1.count }) { rmdir(directory) }
        try? store.endRun(runID)
    }

    /// Stops the server of the mount at `mountpoint` (SIGTERM, as `berth unmount`) and waits until it has
    /// released its attachment; a dead mount is cleared.
    static func unmount(_ mountpoint: String, store: StateStore) {
        let canonical = MountpointRules.resolve(mountpoint)
        if let attachment = ((try? store.listAttachments()) ?? []).first(where: { $0.mountpoint == canonical }),
           attachment.server.isBerthProcess {
            kill(attachment.server.pid, SIGTERM)
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                let still = (try? store.listAttachments())?.contains { $0.id == attachment.id } ?? false
                if !still { break }
                usleep(2_000)
            }
        }
        if DeadMounts.state(of: mountpoint) == .disconnected { _ = DeadMounts.clear(mountpoint) }
    }
}

/// Where runs keep their mount points: `$BERTH_RUN_DIR`, else `/run/berth/runs` for root, else
/// `$XDG_RUNTIME_DIR/berth/runs`, else `/tmp/berth-<uid>/runs`. Made 0700 and refused when it is a
/// link or another user's (mount points are served as root).
public enum RunDirectories {
    public static func root(environment: [String: String]) throws(RunFailure) -> String {
        let base: String
        if let configured = environment["BERTH_RUN_DIR"], configured.hasPrefix("/") {
            base = configured
        } else if geteuid() == 0 {
            base = "/run/berth/runs"
        } else if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            base = runtime + "/berth/runs"
        } else {
            base = "/tmp/berth-\(geteuid())/runs"
        }
        var path = ""
        for component in base.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw RunFailure("cannot create \(path): \(String(cString: strerror(errno)))")
            }
        }
        var info = stat()
        guard lstat(base, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            throw RunFailure("InvalidParameterValue: the run directory \(base) must be a directory of yours that no one else "
                + "can write (set BERTH_RUN_DIR to use another)")
        }
        return base
    }
}
