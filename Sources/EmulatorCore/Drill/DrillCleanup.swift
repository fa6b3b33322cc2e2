/// Leaves nothing behind, whether the drill ends, fails or is interrupted: stops the drill's mount
/// servers, recovers the failed AZ, and removes the private directory.
public final class DrillCleanup: Sendable {
    let store: StateStore
    let mounter: any DrillMounter
    let workDirectory: String
    let removeWorkDirectory: Bool
    let failedAZ: String?

    public init(store: StateStore, mounter: any DrillMounter, workDirectory: String, removeWorkDirectory: Bool,
                failedAZ: String?) {
        self.store = store
        self.mounter = mounter
        self.workDirectory = workDirectory
        self.removeWorkDirectory = removeWorkDirectory
        self.failedAZ = failedAZ
    }

    /// Safe to call more than once; each step that is already done does nothing.
    public func run() {
        let attachments = (try? store.listAttachments()) ?? []
        for attachment in attachments where attachment.mountpoint.hasPrefix(workDirectory + "/") {
            try? mounter.unmount(attachment.mountpoint, stateDirectory: store.directory)
        }
        if let failedAZ { _ = try? store.setAZFailed(failedAZ, false) }
        // Not entering a mount point that failed to unmount: the volume behind it is not the drill's to delete.
        // Resolved first: TreeRemover refuses a parent that is a link, and $TMPDIR may be one.
        if removeWorkDirectory { try? TreeRemover.removeTree(at: MountpointRules.resolve(workDirectory)) }
    }
}
