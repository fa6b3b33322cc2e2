import ArgumentParser
import EmulatorCore
import EmulatorFUSE
import Foundation
import TaskRunner
import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// Hidden: attaches one volume for one task of a `berth run` and serves it, as `berth mount` does, with
/// what the task definition adds: the access point's identity and root directory, or a `rootDirectory`.
/// Started by `berth run` through `BackgroundMount.start`; stopped with SIGTERM.
struct ServeTaskMountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_serve-task-mount", abstract: "Serve one mount of a berth run task (internal).", shouldDisplay: false)

    @Option(name: .customLong("volume-id")) var volumeID: String
    @Option var mountpoint: String
    @Option var az: String
    @Option var task: String
    @Option(name: .customLong("launch-type")) var launchType: LaunchType = .ec2
    @Option var os: OperatingSystem = .linux
    @Option(name: .customLong("root-directory")) var rootDirectory: String?
    @Option(name: .customLong("root-creation-info")) var rootCreationInfo: String?
    @Option(name: .customLong("access-point")) var accessPoint: String?
    @Option(name: .customLong("ready-fd")) var readyFD: Int32?
    @OptionGroup var state: StateOptions

    func run() throws {
        InheritedPipes.close(keeping: readyFD.map { [$0] } ?? [])
        let store = try state.open()
        var identity: PosixUser?
        var servedRoot = rootDirectory.map { ServedRoot(path: $0, creation: rootCreationInfo.flatMap(CreationInfo.init(parsing:))) }
        if let accessPoint {
            let found = try accessPointCall { () throws(AccessPointError) in try store.describeAccessPoint(accessPoint) }
            identity = found.posixUser
            servedRoot = ServedRoot(path: found.rootDirectory, creation: found.creationInfo)
        }
        let attachment = try refusing { () throws(StateError) in
            try store.attach(volumeID: try VolumeID(parsing: volumeID), az: az, task: task, readOnly: false,
                             launchType: launchType, os: os, mountpoint: mountpoint)
        }
        defer { _ = try? store.detach(attachment.id) }
        let (volume, reachability) = try refusing { () throws(StateError) in
            let volume = try store.describeVolume(attachment.volumeID).volume
            return (volume, try store.reachability(of: volume, for: attachment))
        }
        var configuration = MountConfiguration(volume: volume, attachment: attachment, stateDirectory: store.directory,
                                               reachability: reachability)
        configuration.identity = identity
        configuration.servedRoot = servedRoot
        let ready = readyFD
        do {
            try MountServer.serve(configuration) {
                guard let ready else { return }
                BackgroundMount.signalReady(ready, logPath: store.directory.mountLogPath)
            }
        } catch {
            printError("berth run: task \(task): \(volumeID) at \(mountpoint): \(error)")
            throw ExitStatus.invalidInput
        }
    }
}

/// Hidden: watches one run's process and, when it is gone while the run still holds anything (a
/// `berth run` killed with SIGKILL), releases what the run recorded at once, instead of at the next berth
/// command. Started by `berth run` once its containers are starting; exits when the run's record is gone.
struct RunReaperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_run-reaper", abstract: "Release a killed run's resources (internal).", shouldDisplay: false)

    @Option(name: .customLong("run-id")) var runID: String
    @Option(name: .customLong("ready-fd")) var readyFD: Int32?
    @OptionGroup var state: StateOptions

    func run() throws {
        InheritedPipes.close(keeping: readyFD.map { [$0] } ?? [])
        let store = try state.open()
        if let readyFD {
            var log = open(store.directory.mountLogPath, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if log < 0 { log = open("/dev/null", O_WRONLY | O_CLOEXEC) }
            if log >= 0 {
                dup2(log, STDOUT_FILENO)
                dup2(log, STDERR_FILENO)
                close(log)
            }
            _ = "ready\n".withCString { write(readyFD, $0, 6) }
            close(readyFD)
        }
        while true {
            guard let runs = try? store.listRuns() else { return }
            guard let run = runs.first(where: { $0.id == runID }) else { return }
            if !run.owner.isRunning {
                RunJanitor.clearAbandoned(store: store, environment: ProcessInfo.processInfo.environment)
                return
            }
            usleep(100_000)
        }
    }
}
