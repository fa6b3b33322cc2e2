public import StorageCatalog

/// What a task's client keeps through a power loss of its instance (`berth az fail --power-loss`,
/// emulator.md §Faults beyond an outage), per service: the worst case each service's client allows.
/// docs/SEMANTICS.md §Power loss says the same in words.
public struct PowerLossRules: Sendable, Equatable {
    /// close(2) of a written handle makes the file's data durable: an NFS or SMB client sends what it
    /// cached to the file server by the close ("close-to-open"). Otherwise only fsync/fdatasync does.
    public var dataDurableOnClose: Bool
    /// A name created, removed or renamed is durable once the call returns: the file server performs
    /// it before answering. Otherwise only an fsync of the directory holding it makes it durable (a
    /// local file system on a block device, whose directory blocks sit in the instance's page cache).
    public var namesDurableAtOnce: Bool
    /// A write through an O_DIRECT handle is durable once it returns (the client sends it at once:
    /// EFS's "synchronous write operation … the open Linux command with the O_DIRECT flag"). Otherwise
    /// (a file system on a block device) an O_DIRECT overwrite reaches the device and is kept, while what
    /// it appends (the file's size) waits for an fsync.
    public var directWritesDurable: Bool
    /// The AWS documentation the rule follows.
    public var source: String

    public init(dataDurableOnClose: Bool, namesDurableAtOnce: Bool, directWritesDurable: Bool, source: String) {
        self.dataDurableOnClose = dataDurableOnClose
        self.namesDurableAtOnce = namesDurableAtOnce
        self.directWritesDurable = directWritesDurable
        self.source = source
    }

    /// The table. EBS is a block device: the instance's file system keeps data and directory changes in
    /// memory until fsync (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html: a volume
    /// "behaves like a raw, unformatted block device"). EFS: "write operations … are durably stored … when an
    /// application performs a synchronous write operation … [or] closes a file"
    /// (https://docs.aws.amazon.com/efs/latest/ug/features.html#consistency); name changes are NFS calls
    /// answered by the server. FSx for OpenZFS and ONTAP are NFS too, FSx for Windows is SMB, whose
    /// client flushes cached writes at close
    /// (https://docs.aws.amazon.com/fsx/latest/WindowsGuide/what-is.html). FSx for Lustre's client caches
    /// writes and sends them in the background, close included
    /// (https://docs.aws.amazon.com/fsx/latest/LustreGuide/performance.html); its metadata calls are
    /// answered by the metadata server.
    public static func forService(_ type: ServiceID) -> PowerLossRules {
        switch type {
        case .ebs:
            PowerLossRules(dataDurableOnClose: false, namesDurableAtOnce: false, directWritesDurable: false,
                           source: "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html")
        case .efs:
            PowerLossRules(dataDurableOnClose: true, namesDurableAtOnce: true, directWritesDurable: true,
                           source: "https://docs.aws.amazon.com/efs/latest/ug/features.html#consistency")
        case .fsxLustre:
            PowerLossRules(dataDurableOnClose: false, namesDurableAtOnce: true, directWritesDurable: true,
                           source: "https://docs.aws.amazon.com/fsx/latest/LustreGuide/performance.html")
        default:
            PowerLossRules(dataDurableOnClose: true, namesDurableAtOnce: true, directWritesDurable: true,
                           source: "https://docs.aws.amazon.com/fsx/latest/WindowsGuide/what-is.html")
        }
    }
}
