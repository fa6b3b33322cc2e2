public import StorageCatalog

/// Who arbitrates a volume's POSIX (`fcntl`, `lockf`) and BSD (`flock`) locks, and so who sees them.
public enum LockScope: String, Sendable, CaseIterable {
    /// The kernel of the one attachment. An EBS volume is a block device with the instance's own file
    /// system on it ("a raw, unformatted block device" on which you create a file system, AWS docs
    /// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volumes.html): its locks are that instance
    /// kernel's local locks, seen by every process and container of the one task it is attached to
    /// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ebs-volumes.html), never by another
    /// instance ("Standard file systems, such as XFS and EXT4, are not designed to be accessed
    /// simultaneously by multiple servers", https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volumes-multi.html).
    /// The mount server does not take lock requests (FUSE_POSIX_LOCKS and FUSE_FLOCK_LOCKS left out of
    /// the INIT reply), so the mount's kernel keeps them as it does for a local file system, and it has no
    /// FLUSH handler: closing a descriptor drops the process's locks in that kernel, and nothing is left
    /// for the server to do at a close (the kernel stops sending FLUSH after the first ENOSYS).
    case attachment
    /// The mount servers, on the shared backing files, across every mount of the volume in any process:
    /// EFS and FSx are network file systems whose server holds the locks for all clients (EFS: AWS docs
    /// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/efs-volumes.html; NFSv4 locking,
    /// https://docs.aws.amazon.com/efs/latest/ug/nfs4-unsupported-features.html lists what is not
    /// supported, and locks are not among them; FSx for Windows: SMB byte-range locks and share modes).
    case volume

    /// The scope per service type: one row per service. Every type's default is `volume`, EBS's too,
    /// because the emulator contract makes every operation on a mount cut off by an outage answer EIO,
    /// lock requests and closes included, and only a server that sees them can answer so.
    public static let byService: [ServiceID: LockScope] = [
        .ebs: .volume,
        .efs: .volume,
        .fsxLustre: .volume,
        .fsxWindows: .volume,
        .fsxOpenZFS: .volume,
        .fsxONTAP: .volume,
    ]

    /// The scope a mount may ask for instead (`berth mount --local-locks`): EBS only, where it is what
    /// the instance's own file system does. It trades the outage's EIO on locks and closes for fewer
    /// round trips (no SETLK, GETLK or FLUSH requests: SEMANTICS.md §Locks, §Applications).
    public static let localByService: [ServiceID: LockScope] = [
        .ebs: .attachment,
    ]

    /// The service's scope; a type missing from the table gets `volume`, which never hides a lock from
    /// another mount.
    public static func `default`(forServiceType type: ServiceID) -> LockScope {
        byService[type] ?? .volume
    }

    /// The scope `--local-locks` gives on this type, or nil where it is refused.
    public static func local(forServiceType type: ServiceID) -> LockScope? {
        localByService[type]
    }

    /// Whether the mount server answers lock requests (getlk, setlk, flock) and FLUSH itself.
    public var serverHoldsLocks: Bool { self == .volume }
}
