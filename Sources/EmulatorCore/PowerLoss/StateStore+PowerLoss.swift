#if canImport(Glibc)
/// What a power loss did to one mount (`berth az fail --power-loss`).
public struct PowerLossResult: Sendable {
    public var attachment: VolumeAttachment
    public var volume: Volume
    public var answer: PowerLossJournal.Answer
}

extension StateStore {
    /// An AZ power interruption (emulator.md §Faults beyond an outage): after `setAZFailed(zone, true)`
    /// has cut the mounts off, every mount cut off by `zone` (its task runs there, or its volume's data
    /// lives only in failed AZs including it) takes back what it had not made durable
    /// (`PowerLossJournal`): each mount server is asked and answers once its changes in flight drained
    /// and its journal is applied.
    public func losePower(in zone: String, timeout: Double = 30) throws(StateError) -> [PowerLossResult] {
        let zones = region.zones
        let failedZones = Set(try listAvailabilityZones().filter { $0.status == .failed }.map(\.name)).union([zone])
        var results: [PowerLossResult] = []
        for attachment in try listAttachments() {
            let volume = try describeVolume(attachment.volumeID).volume
            let dataZones = volume.dataZones(in: zones)
            let cutOffByZone = attachment.availabilityZone == zone
                || (dataZones.contains(zone) && dataZones.allSatisfy(failedZones.contains))
            guard cutOffByZone else { continue }
            let answer = PowerLossJournal.request(sharedStateDirectory: directory.sharedDirectory(volume.id),
                                                  pid: attachment.server.pid, timeout: timeout)
            results.append(PowerLossResult(attachment: attachment, volume: volume, answer: answer))
        }
        return results
    }
}
#endif
