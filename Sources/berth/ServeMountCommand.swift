import ArgumentParser
import EmulatorCore
import EmulatorFUSE
import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// Hidden: serves one FUSE mount in the foreground. `berth mount` runs this in-process or, with
/// `--background`, in a freshly spawned process (never fork: see docs/SEMANTICS.md).
struct ServeMountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_serve-mount", abstract: "Serve one emulated mount (internal).", shouldDisplay: false)

    @Option(help: "Directory holding the volume's data.") var backing: String
    @Option(help: "Directory to mount the volume on.") var mountpoint: String
    @Option(name: .customLong("volume-id"), help: "Volume id (vol-… or fs-…); the mount's fsname.") var volumeID: String
    @Option(help: "Service type: ebs, efs, fsx-lustre, fsx-windows, fsx-openzfs, fsx-ontap.") var type: ServiceID
    @Option(name: .customLong("shared-state"), help: "Per-volume directory all mounts of the volume share.")
    var sharedState: String
    @Flag(name: .customLong("read-only"), help: "Refuse every change with EROFS.") var readOnly = false
    @Option(name: .customLong("capacity-bytes"), help: "Provisioned size; writes past it fail with ENOSPC.")
    var capacityBytes: UInt64?
    @Flag(help: "Elastic storage (no size; df shows 8 EiB). The default without --capacity-bytes.")
    var elastic = false
    @Option(name: .customLong("cache-policy"), help: "exclusive or shared (default: exclusive for ebs, else shared).")
    var cachePolicy: String?
    @Option(name: .customLong("cut-off-flag"), help: "Shared flag file; while set, every operation answers EIO.")
    var cutOffFlags: [String] = []
    @Option(name: .customLong("io-timeout"), help: "How long a paused request waits before EIO: 30s, 500ms, or none.")
    var ioTimeout: String?
    @Option(name: .customLong("posix-user"), help: "An EFS access point's POSIX user UID:GID[:GID...]: the identity of every operation.")
    var posixUser: String?
    @Flag(name: .customLong("local-locks"), help: "ebs only: locks are this mount's kernel's (no lock or FLUSH requests).")
    var localLocks = false
    @Option(name: .customLong("ready-fd"), help: "Descriptor to write \"ready\\n\" to, then close, once the mount answers.")
    var readyFD: Int32?

    func validate() throws {
        if elastic && capacityBytes != nil { throw ValidationError("--elastic and --capacity-bytes exclude each other") }
        if let cachePolicy, CachePolicy(rawValue: cachePolicy) == nil {
            throw ValidationError("--cache-policy must be exclusive or shared, got \"\(cachePolicy)\"")
        }
        if localLocks && LockScope.local(forServiceType: type) == nil {
            throw ValidationError("--local-locks is for ebs only, got \(type.rawValue)")
        }
        if let posixUser, PosixUser(parsing: posixUser) == nil {
            throw ValidationError("--posix-user must be UID:GID[:GID...], got \"\(posixUser)\"")
        }
    }

    func run() throws {
        let flags = try cutOffFlags.map { path in try SharedFlag(path: path) }
        var configuration = MountConfiguration(
            volumeID: volumeID, serviceType: type, backingDirectory: backing, mountpoint: mountpoint,
            readOnly: readOnly, capacityBytes: capacityBytes, sharedStateDirectory: sharedState,
            cachePolicy: cachePolicy.flatMap(CachePolicy.init(rawValue:)),
            reachability: flags.isEmpty ? AlwaysReachable() : SharedFlagReachability(flags: flags))
        configuration.identity = posixUser.flatMap(PosixUser.init(parsing:))
        if localLocks, let local = LockScope.local(forServiceType: type) { configuration.lockScope = local }
        if let ioTimeout { configuration.ioTimeout = ioTimeout == "none" ? nil : try parseDuration(ioTimeout, option: "--io-timeout") }
        let ready = readyFD
        do {
            try MountServer.serve(configuration) {
                guard let ready else { return }
                _ = "ready\n".withCString { write(ready, $0, 6) }
                close(ready)
            }
        } catch {
            let message = "berth _serve-mount: \(error)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            throw ExitCode(1)
        }
    }
}
