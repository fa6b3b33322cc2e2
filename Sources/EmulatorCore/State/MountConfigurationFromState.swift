extension MountConfiguration {
    /// The configuration for serving `attachment` of `volume` from the state under `directory`: the volume's
    /// data and shared directories, the attachment's mount point and read-only flag, and the volume's size
    /// (nil for elastic EFS), and what cuts it off (`reachability`, from `StateStore.reachability`).
    public init(volume: Volume, attachment: VolumeAttachment, stateDirectory directory: StateDirectory,
                reachability: any Reachability = AlwaysReachable()) {
        self.init(
            volumeID: volume.id.rawValue, serviceType: volume.type,
            backingDirectory: directory.dataDirectory(volume.id), mountpoint: attachment.mountpoint,
            readOnly: attachment.readOnly, capacityBytes: volume.capacityBytes,
            sharedStateDirectory: directory.sharedDirectory(volume.id), reachability: reachability)
    }
}
