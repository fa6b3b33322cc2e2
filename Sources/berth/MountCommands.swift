import ArgumentParser
import EmulatorCore
import EmulatorFUSE
import Foundation
import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount an emulated volume on a directory, enforcing its service's rules.",
        discussion: helpText("""
            Attaches the volume for one task in one AZ (refused as AWS would: VolumeInUse,
            InvalidVolume.ZoneMismatch, UnsupportedOperation for the platform, …) and serves it with FUSE.
            Without --background it stays in the foreground until `berth unmount`, Ctrl-C or SIGTERM, which
            unmount cleanly and release the attachment. With --background it returns once the mount answers
            and prints the mount server's process id on stdout (`kill` it, or run `berth unmount`, to stop it);
            the server's messages go to the mount log in the state directory.

            Examples:
              vol=$(berth volume create --type ebs --az us-east-1a --size-gib 1)
              berth mount "$vol" /mnt/db --az us-east-1a --task db-1 --background
              berth mount fs-… /mnt/shared --az us-east-1b --launch-type fargate \\
                --background
              berth mount "$vol" /mnt/db --az us-east-1a --local-locks --background
              berth unmount /mnt/db

            Exit status: 0 mounted (and, in the foreground, unmounted cleanly); 1 refused or failed.
            """))

    @Argument(help: "Volume id (vol-… or fs-…).") var id: String
    @Argument(help: "An existing, empty directory.") var mountpoint: String
    @Option(help: "The AZ the task runs in.") var az: String
    @Option(help: "Task id (default: a generated t-…).") var task: String?
    @Flag(name: .customLong("read-only"), help: "Every change answers EROFS.") var readOnly = false
    @Option(name: .customLong("launch-type"), help: "fargate or ec2.") var launchType: LaunchType = .ec2
    @Option(help: "linux or windows.") var os: OperatingSystem = .linux
    @Flag(help: "Return once the mount is ready, printing the serving process's pid on stdout.") var background = false
    @Option(name: .customLong("io-timeout"), help: ArgumentHelp(
        "How long a read, write or sync waits out `berth fault pause-io` before EIO (default: 30s on ebs, Linux's NVMe timeout; the file systems wait for the pause to end).",
        valueName: "duration"))
    var ioTimeout: String?
    @Flag(name: .customLong("local-locks"), help: ArgumentHelp(
        "ebs only: leave fcntl and flock locks to this mount's kernel, as an instance's own file system does (fewer round trips); during an outage locks and close then go on instead of answering EIO."))
    var localLocks = false
    @Option(name: .customLong("ready-fd"), help: .hidden) var readyFD: Int32?
    @OptionGroup var state: StateOptions

    func validate() throws {
        if let ioTimeout { _ = try parseDuration(ioTimeout, option: "--io-timeout") }
    }

    func run() throws {
        // Said by the command the user ran: a background server's stderr goes to the mount log.
        if readyFD == nil && !MountSharing.otherUsersAllowed { printError("Note: \(MountSharing.onlyForThisUserNote)") }
        if background { return try runInBackground() }
        let store = try state.open()
        try checkMountpoint()
        if localLocks {
            // Refused before anything is attached: bad input changes nothing.
            let type = try refusing { () throws(StateError) in
                try store.describeVolume(try VolumeID(parsing: id)).volume.type
            }
            guard LockScope.local(forServiceType: type) != nil else {
                printError("InvalidParameterValue: --local-locks is for ebs volumes only; \(id) is \(type.rawValue), whose locks are held across its mounts")
                throw ExitStatus.invalidInput
            }
        }
        let attachment = try refusing { () throws(StateError) in
            try store.attach(volumeID: try VolumeID(parsing: id), az: az, task: task, readOnly: readOnly,
                             launchType: launchType, os: os, mountpoint: mountpoint)
        }
        // From here on the attachment must be released whatever happens.
        defer { _ = try? store.detach(attachment.id) }
        let (volume, reachability) = try refusing { () throws(StateError) in
            let volume = try store.describeVolume(attachment.volumeID).volume
            return (volume, try store.reachability(of: volume, for: attachment))
        }
        var configuration = MountConfiguration(volume: volume, attachment: attachment, stateDirectory: store.directory,
                                               reachability: reachability)
        if let ioTimeout { configuration.ioTimeout = try parseDuration(ioTimeout, option: "--io-timeout") }
        if localLocks, let local = LockScope.local(forServiceType: volume.type) { configuration.lockScope = local }
        let ready = readyFD
        let announce = readyFD == nil
        do {
            try MountServer.serve(configuration) {
                if announce {
                    printError("\(volume.id) mounted at \(attachment.mountpoint) for task \(attachment.task) in \(attachment.availabilityZone); Ctrl-C unmounts")
                }
                guard let ready else { return }
                BackgroundMount.signalReady(ready, logPath: store.directory.mountLogPath)
            }
        } catch {
            printError("berth mount: \(error)")
            throw ExitStatus.invalidInput
        }
    }

    /// An existing, empty directory; a dead mount left by a killed server is cleaned up first.
    func checkMountpoint() throws {
        if DeadMounts.state(of: mountpoint) == .disconnected { _ = DeadMounts.clear(mountpoint) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: mountpoint, isDirectory: &isDirectory) else {
            printError("InvalidParameterValue: mount point \(mountpoint) does not exist; create an empty directory first")
            throw ExitStatus.invalidInput
        }
        guard isDirectory.boolValue else {
            printError("InvalidParameterValue: mount point \(mountpoint) is not a directory")
            throw ExitStatus.invalidInput
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: mountpoint)) ?? []
        guard entries.isEmpty else {
            printError("InvalidParameterValue: mount point \(mountpoint) is not empty (\(entries.count) \(entries.count == 1 ? "entry" : "entries"))")
            throw ExitStatus.invalidInput
        }
    }

    /// Serves the mount from a new process and returns once it answers, printing the server's pid.
    func runInBackground() throws {
        let pid = try BackgroundMount.start(arguments: Array(CommandLine.arguments.dropFirst().filter { $0 != "--background" }))
        print(pid)
    }
}

struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount an emulated volume and release its attachment.",
        discussion: helpText("""
            Refuses a mount that is in use, as umount(8) does (EBUSY), and names the processes that use
            it: open files, working directories, containers that bind-mounted it. --force unmounts
            anyway and says what it cut off (those processes then get ENOTCONN). Waits until the server
            has released the attachment. A mount whose server was killed ("Transport endpoint is not
            connected") is cleaned up too.

            Examples:
              berth unmount /mnt/db
              berth unmount /mnt/db --force

            Exit status: 0 unmounted; 1 nothing mounted there, in use (without --force), or the server did
            not finish in time.
            """))

    @Argument(help: "The mount point.") var mountpoint: String
    @Flag(help: "Unmount even while processes use the mount; they are cut off.") var force = false
    @Option(help: "Seconds to wait for the server to finish.") var timeout: Double = 10
    @OptionGroup var state: StateOptions

    func run() throws {
        let store = try state.open()
        let canonical = MountpointRules.resolve(mountpoint)
        let attachments = try refusing { () throws(StateError) in try store.listAttachments() }
        guard let attachment = attachments.first(where: { $0.mountpoint == canonical }) else {
            if DeadMounts.state(of: mountpoint) == .disconnected, DeadMounts.clear(mountpoint) { return }
            printError("InvalidAttachment.NotFound: nothing is mounted by berth at \(canonical) (berth volume list shows the mounts)")
            throw ExitStatus.invalidInput
        }
        guard attachment.server.isBerthProcess else {
            printError("berth unmount: pid \(attachment.server.pid), recorded as the server of \(canonical), is not this berth "
                       + "executable's process started at the recorded time; it was not signalled (unmount with `umount \(canonical)`)")
            throw ExitStatus.invalidInput
        }
        let users = MountUsers.lastingProcesses(using: canonical, excluding: [attachment.server.pid])
        if !users.isEmpty {
            let list = users.map { "  \($0)" }.joined(separator: "\n")
            if !force {
                printError("berth unmount: \(canonical) is busy (EBUSY); in use by:\n\(list)\n"
                    + "Stop them first, or run berth unmount --force \(canonical) to cut them off (they get ENOTCONN).")
                throw ExitStatus.invalidInput
            }
            printError("berth unmount: --force: cutting off\n\(list)")
        }
        if BackgroundMount.stop(attachment, store: store, timeout: timeout) { return }
        printError("berth unmount: the server (pid \(attachment.server.pid)) did not finish within \(timeout) s")
        throw ExitStatus.invalidInput
    }
}
