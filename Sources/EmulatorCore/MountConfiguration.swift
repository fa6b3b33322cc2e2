public import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// Everything one FUSE mount of an emulated volume needs to know: which volume, where its data lives,
/// and which of the service's rules apply. Built by the CLI from the state directory; applied by
/// EmulatorFUSE; plain data so tests construct it without mounting.
public struct MountConfiguration: Sendable {
    /// `vol-…` (EBS) or `fs-…` (file systems). Also the mount's `fsname`, so it shows in `df` and
    /// `/proc/mounts`.
    public var volumeID: String
    /// One of the service identifiers of workload-profile.md (`ebs`, `efs`, `fsx-lustre`, `fsx-windows`,
    /// `fsx-openzfs`, `fsx-ontap`). The mount's subtype is `berth-<serviceType>` (`df -PT` shows
    /// `fuse.berth-efs`).
    public var serviceType: ServiceID
    /// Absolute path of the directory holding the volume's data.
    public var backingDirectory: String
    /// Absolute path of the directory the volume is mounted on.
    public var mountpoint: String
    /// A read-only attachment: every change answers EROFS (emulator.md §Common to all).
    public var readOnly: Bool
    /// The provisioned size; nil for elastic storage, which grows and shrinks with its contents
    /// ("erweitert (und verringert) die Kapazität automatisch", seed §Amazon Elastic File System
    /// (Amazon EFS)); `statfs` then reports 8 EiB, the size an EFS mount shows in `df`.
    public var capacityBytes: UInt64?
    /// A directory every mount of this volume shares, in any process: cross-process counters live here.
    public var sharedStateDirectory: String
    /// How long the kernel may cache names, attributes and pages.
    public var cachePolicy: CachePolicy
    /// Who holds the volume's fcntl and flock locks: the attachment's kernel (EBS) or the servers of every
    /// mount (`LockScope`).
    public var lockScope: LockScope
    /// Asked before every operation; when it says the mount is cut off (an AZ outage), the operation
    /// answers EIO (emulator.md §Common to all).
    public var reachability: any Reachability
    /// Which new names the service accepts.
    public var nameRules: any NameRules
    /// Mount with `allow_other`, so that other users and containers can use the mount (`MountSharing`).
    public var allowOtherUsers: Bool
    /// Whether extended attributes (`setfattr`, `getfattr`) work; where not, they answer EOPNOTSUPP.
    public var extendedAttributes: Bool
    /// How long a read, write or sync waits out a `berth fault pause-io` before answering EIO; nil waits
    /// until the pause ends (`defaultIOTimeout(forServiceType:)`).
    public var ioTimeout: Duration?
    /// An EFS access point's POSIX user: the identity of every operation through the mount, whoever the
    /// caller is (nil: the caller's own). The mount then has no `default_permissions`: the server checks
    /// each operation against this uid, gid and secondary gids (`AccessPointPermissions`) and creates as
    /// it (docs/RUN.md, Access points).
    public var identity: PosixUser? = nil
    /// The directory of the volume the mount shows as its root (an access point's or a task definition's
    /// `rootDirectory`), made with its creation info when missing (nil: the whole volume).
    public var servedRoot: ServedRoot? = nil

    public init(
        volumeID: String, serviceType: ServiceID, backingDirectory: String, mountpoint: String,
        readOnly: Bool = false, capacityBytes: UInt64? = nil, sharedStateDirectory: String,
        cachePolicy: CachePolicy? = nil, reachability: any Reachability = AlwaysReachable(),
        nameRules: (any NameRules)? = nil, allowOtherUsers: Bool = MountSharing.otherUsersAllowed,
        extendedAttributes: Bool? = nil
    ) {
        self.volumeID = volumeID
        self.serviceType = serviceType
        self.backingDirectory = backingDirectory
        self.mountpoint = mountpoint
        self.readOnly = readOnly
        self.capacityBytes = capacityBytes
        self.sharedStateDirectory = sharedStateDirectory
        self.cachePolicy = cachePolicy ?? CachePolicy.default(forServiceType: serviceType)
        self.lockScope = LockScope.default(forServiceType: serviceType)
        self.reachability = reachability
        self.nameRules = nameRules ?? Self.defaultNameRules(forServiceType: serviceType)
        self.allowOtherUsers = allowOtherUsers
        self.extendedAttributes = extendedAttributes ?? Self.hasExtendedAttributes(serviceType: serviceType)
        self.ioTimeout = Self.defaultIOTimeout(forServiceType: serviceType)
    }

    /// EBS: Linux's NVMe I/O timeout, 30 s by default, past which "the Linux NVMe driver fails the I/O and
    /// returns an error" (https://docs.aws.amazon.com/ebs/latest/userguide/timeout-nvme-ebs-volumes.html).
    /// The file systems are network mounts that retry until the server answers: EFS is mounted `hard`
    /// (https://docs.aws.amazon.com/efs/latest/ug/mounting-fs-nfs-mount-settings.html), so a paused request
    /// waits for the pause to end.
    public static func defaultIOTimeout(forServiceType type: ServiceID) -> Duration? {
        type == .ebs ? .seconds(30) : nil
    }

    /// EFS speaks NFS 4.0 and 4.1 only (AWS docs efs/latest/ug/nfs4-unsupported-features.html, which also
    /// lists named attributes as unsupported), and Linux carries extended attributes over NFS from 4.2 on
    /// (RFC 8276): on an EFS mount they answer EOPNOTSUPP (as reported in noobaa/noobaa-core#7843).
    /// The other services keep what the backing file system does.
    public static func hasExtendedAttributes(serviceType type: ServiceID) -> Bool {
        type != .efs
    }

    /// FSx for Windows File Server serves NTFS over SMB, so its new names follow Windows's rules (seed
    /// §Amazon FSx für Windows File Server); every other service is POSIX.
    public static func defaultNameRules(forServiceType type: ServiceID) -> any NameRules {
        type == .fsxWindows ? WindowsNameRules() : POSIXNameRules()
    }

    /// Problems that make the configuration unusable, each with a message for people.
    public func validate() throws(MountConfigurationError) {
        if volumeID.isEmpty || !volumeID.utf8.allSatisfy(Self.isIDByte) {
            throw .invalidVolumeID(volumeID)
        }
        for (role, path) in [("backing directory", backingDirectory), ("mountpoint", mountpoint),
                             ("shared state directory", sharedStateDirectory)] {
            guard path.hasPrefix("/") else { throw .notAbsolute(role: role, path: path) }
        }
        if backingDirectory == mountpoint { throw .mountpointIsBacking(mountpoint) }
        if let capacityBytes, capacityBytes == 0 { throw .zeroCapacity }
    }

    /// Letters, digits, `-`, `_` and `.`: the id goes into a comma-separated mount option string.
    static func isIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            true
        default: false
        }
    }
}

public enum MountConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidVolumeID(String)
    case notAbsolute(role: String, path: String)
    case mountpointIsBacking(String)
    case zeroCapacity

    public var description: String {
        switch self {
        case .invalidVolumeID(let id): "invalid volume id \"\(id)\": use letters, digits, '-', '_' and '.'"
        case .notAbsolute(let role, let path): "the \(role) must be an absolute path, got \"\(path)\""
        case .mountpointIsBacking(let path): "the mountpoint \(path) is the volume's own backing directory"
        case .zeroCapacity: "a volume's capacity must be more than 0 bytes"
        }
    }
}

/// How long each mount's kernel caches may trust what they hold.
public enum CachePolicy: String, Sendable, CaseIterable {
    /// Only one read-write attachment can exist (EBS: "Amazon EBS unterstützt keinen gleichzeitigen
    /// Zugriff auf ein Volume", seed §Amazon Elastic Block Store (Amazon EBS)), so nothing else changes the
    /// data under the mount: long entry/attribute timeouts and kept page caches are safe.
    case exclusive
    /// Several mounts may change the data (EFS, FSx): close-to-open consistency between mounts must hold
    /// (AWS docs: efs/latest/ug/consistency.html), so names and attributes are revalidated and pages are
    /// kept only when the file is unchanged since this mount last opened it.
    case shared

    /// EBS is exclusive; every file service is shared.
    public static func `default`(forServiceType type: ServiceID) -> CachePolicy {
        type == .ebs ? .exclusive : .shared
    }
}

/// Whether a mount can reach its volume right now. Asked once per operation, so implementations must
/// be cheap (a load from memory, no system call).
public protocol Reachability: Sendable {
    /// False while the mount is cut off (its AZ or its volume's only AZ is down).
    var isReachable: Bool { get }
}

/// The default: never cut off. The bridge recognises it and skips the per-operation check.
public struct AlwaysReachable: Reachability {
    public init() {}
    public var isReachable: Bool { true }
}

/// Which names a service accepts for new directory entries (create, mkdir, mknod, symlink, link and
/// the target of rename): `POSIXNameRules`, or `WindowsNameRules` for FSx for Windows File Server.
public protocol NameRules: Sendable {
    /// False when every name the kernel lets through is acceptable; the bridge then skips the check.
    var checksNames: Bool { get }
    /// The errno to answer for a new entry called `name` (one path component, bytes as sent by the
    /// kernel), or nil to accept it.
    func refusal(forNewName name: UnsafeBufferPointer<UInt8>) -> Int32?
    /// True when names that differ only in case are one entry (FSx for Windows); the bridge then finds
    /// a name that is not there exactly through `matchKey` (`CaseFoldedDirectories`).
    var caseInsensitive: Bool { get }
    /// The bytes two names share exactly when they are the same entry; asked only when
    /// `caseInsensitive` is true.
    func matchKey(forName name: UnsafeBufferPointer<UInt8>) -> [UInt8]
}

extension NameRules {
    public var caseInsensitive: Bool { false }
    public func matchKey(forName name: UnsafeBufferPointer<UInt8>) -> [UInt8] { Array(name) }
}

/// POSIX names: the kernel has already refused empty names, `/` and components over NAME_MAX
/// (ENAMETOOLONG) before a request reaches the filesystem, so there is nothing left to check.
public struct POSIXNameRules: NameRules {
    public init() {}
    public var checksNames: Bool { false }
    public func refusal(forNewName name: UnsafeBufferPointer<UInt8>) -> Int32? {
        name.count > 255 ? ENAMETOOLONG : nil
    }
}
