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
        discussion: """
            Attaches the volume for one task in one AZ (refused as AWS would: VolumeInUse,
            InvalidVolume.ZoneMismatch, UnsupportedOperation for the platform, …) and serves it with FUSE.
            Without --background it stays in the foreground until `berth unmount`, Ctrl-C or SIGTERM, which
            unmount cleanly and release the attachment. With --background it returns once the mount answers.

            Examples:
              vol=$(berth volume create --type ebs --az us-east-1a --size-gib 1)
              berth mount "$vol" /mnt/db --az us-east-1a --task db-1 --background
              berth mount fs-… /mnt/shared --az us-east-1b --launch-type fargate --background
              berth unmount /mnt/db

            Exit status: 0 mounted (and, in the foreground, unmounted cleanly); 1 refused or failed.
            """)

    @Argument(help: "Volume id (vol-… or fs-…).") var id: String
    @Argument(help: "An existing, empty directory.") var mountpoint: String
    @Option(help: "The AZ the task runs in.") var az: String
    @Option(help: "Task id (default: a generated t-…).") var task: String?
    @Flag(name: .customLong("read-only"), help: "Every change answers EROFS.") var readOnly = false
    @Option(name: .customLong("launch-type"), help: "fargate or ec2.") var launchType: LaunchType = .ec2
    @Option(help: "linux or windows.") var os: OperatingSystem = .linux
    @Flag(help: "Return once the mount is ready; serve it from a new process.") var background = false
    @Option(name: .customLong("ready-fd"), help: .hidden) var readyFD: Int32?
    @OptionGroup var state: StateOptions

    func run() throws {
        if background { return try runInBackground() }
        let store = try state.open()
        try checkMountpoint()
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
        let configuration = MountConfiguration(volume: volume, attachment: attachment, stateDirectory: store.directory,
                                               reachability: reachability)
        let ready = readyFD
        let announce = readyFD == nil
        do {
            try MountServer.serve(configuration) {
                if announce {
                    printError("\(volume.id) mounted at \(attachment.mountpoint) for task \(attachment.task) in \(attachment.availabilityZone); Ctrl-C unmounts")
                }
                guard let ready else { return }
                // The caller has returned by now: stop holding its stdout and stderr open (a shell's
                // `$(berth mount --background …)` would wait for them) and write to the log instead.
                var log = open(store.directory.mountLogPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                if log < 0 { log = open("/dev/null", O_WRONLY | O_CLOEXEC) }
                if log >= 0 {
                    dup2(log, STDOUT_FILENO)
                    dup2(log, STDERR_FILENO)
                    close(log)
                }
                _ = "ready\n".withCString { write(ready, $0, 6) }
                close(ready)
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
            printError("InvalidParameterValue: mount point \(mountpoint) is not empty (\(entries.count) entries)")
            throw ExitStatus.invalidInput
        }
    }

    /// Starts `berth mount … --ready-fd N` as a new process (never fork: libfuse and the Swift runtime's
    /// threads do not survive it) and waits until it says the mount is ready or exits.
    func runInBackground() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            printError("berth mount: cannot create a pipe: \(String(cString: strerror(errno)))")
            throw ExitStatus.invalidInput
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        // The server gets the pipe's write end as fd 3 and no other descriptor of ours: one it inherited
        // (say our caller's stdout pipe, which Foundation's Process leaks into its children) would keep the
        // caller waiting for EOF for as long as the mount lives.
        let serverReadyFD: Int32 = 3
        var arguments = CommandLine.arguments.filter { $0 != "--background" }
        arguments += ["--ready-fd", String(serverReadyFD)]
        let executable = "/proc/self/exe"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, serverReadyFD)
        // glibc ignores EBADF when closing a descriptor that is already closed, so a stale list is harmless.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd > serverReadyFD {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        // A new session, so that the terminal's Ctrl-C for this shell does not reach the server.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, 0x80)  // POSIX_SPAWN_SETSID (glibc 2.26+), not imported by Swift
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        close(writeEnd)
        defer { close(readEnd) }
        guard spawned == 0 else {
            printError("berth mount: cannot start the mount server: \(String(cString: strerror(spawned)))")
            throw ExitStatus.invalidInput
        }
        var buffer = [UInt8](repeating: 0, count: 16)
        var got = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            got = max(n, 0)
            break
        }
        if got >= 5, String(decoding: buffer.prefix(5), as: UTF8.self) == "ready" {
            print(child)
            return
        }
        // The server exited without a mount; it has said why on the stderr we share.
        var status: Int32 = 0
        waitpid(child, &status, 0)
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 1
        throw ExitCode(code == 0 ? 1 : code)
    }
}

struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount an emulated volume and release its attachment.",
        discussion: """
            Waits until the server has released the attachment. A mount whose server was killed
            ("Transport endpoint is not connected") is cleaned up too.

            Example: berth unmount /mnt/db
            """)

    @Argument(help: "The mount point.") var mountpoint: String
    @Option(help: "Seconds to wait for the server to finish.") var timeout: Double = 10
    @OptionGroup var state: StateOptions

    func run() throws {
        let store = try state.open()
        let canonical = try refusing { () throws(StateError) in try store.canonicalMountpoint(mountpoint) }
        let attachments = try refusing { () throws(StateError) in try store.listAttachments() }
        guard let attachment = attachments.first(where: { $0.mountpoint == canonical }) else {
            if DeadMounts.state(of: mountpoint) == .disconnected, DeadMounts.clear(mountpoint) { return }
            printError("InvalidAttachment.NotFound: nothing is mounted by berth at \(canonical)")
            throw ExitStatus.invalidInput
        }
        // SIGTERM makes the server unmount, release the attachment and exit (as Ctrl-C does).
        kill(attachment.server.pid, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let still = (try? store.listAttachments())?.contains { $0.id == attachment.id } ?? false
            if !still { return }
            usleep(10_000)
        }
        printError("berth unmount: the server (pid \(attachment.server.pid)) did not finish within \(timeout) s; is the mount busy?")
        throw ExitStatus.invalidInput
    }
}
