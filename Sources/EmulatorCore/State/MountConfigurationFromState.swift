extension MountConfiguration {
    /// The configuration for serving `attachment` of `volume` from the state under `directory`: the volume's
    /// data and shared directories, the attachment's mount point and read-only flag, and the volume's size
    /// (nil for elastic EFS). Reachability and name rules keep their defaults; the outage and naming issues
    /// supply them.
    public init(volume: Volume, attachment: VolumeAttachment, stateDirectory directory: StateDirectory) {
        self.init(
            volumeID: volume.id.rawValue, serviceType: volume.type.rawValue,
            backingDirectory: directory.dataDirectory(volume.id), mountpoint: attachment.mountpoint,
            readOnly: attachment.readOnly, capacityBytes: volume.capacityBytes,
            sharedStateDirectory: directory.sharedDirectory(volume.id))
    }
}
