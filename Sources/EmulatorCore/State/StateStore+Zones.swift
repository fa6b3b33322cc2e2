import Foundation
import GRDB
import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// Availability Zones: their status, outages and the flags mounts read.
extension StateStore {
    // MARK: Availability Zones and snapshots

    /// The region's AZs in order, each with its status and the volumes whose data lives there.
    public func listAvailabilityZones() throws(StateError) -> [AvailabilityZone] {
        try decide { db throws(StateError) in
            let zones = try Self.zones(db)
            let volumes = try Self.attempt { try VolumeRecord.order(Column("id")).fetchAll(db) }.map(\.volume)
            return zones.map { zone in
                AvailabilityZone(
                    name: zone.name, status: zone.status,
                    volumeIDs: volumes.filter { $0.dataZones(in: zones.map(\.name)).contains(zone.name) }.map(\.id))
            }
        }
    }

    /// Marks an AZ failed or available again (`berth az fail|recover`). The AZ's shared flag, which every
    /// mount reads before each operation (`ZoneReachability`: cut-off mounts answer EIO), and the database
    /// (new volumes and mounts there are refused). A failure sets the flag first, so that the outage takes
    /// effect at once rather than after the database's commit, and again after it (a `syncZoneFlags` in
    /// between may have cleared it); a recovery commits first and then clears the flag. A failed commit
    /// puts the flag back.
    @discardableResult
    public func setAZFailed(_ zone: String, _ failed: Bool) throws(StateError) -> AvailabilityZone {
        guard region.zones.contains(zone) else { throw .zoneNotFound(zone, region: region.name, known: region.zones) }
        let flag = try zoneFlags().flag(zone)
        let before = flag?.isSet ?? false
        if failed { flag?.set(true) }
        do {
            let result = try recordAZStatus(zone, failed)
            flag?.set(failed)
            return result
        } catch {
            flag?.set(before)
            throw error
        }
    }

    /// The AZ flags, made to agree with the database (a process killed between the two leaves them apart).
    @discardableResult
    public func syncZoneFlags() throws(StateError) -> ZoneFlags {
        try reconcileZoneFlags()
        return try zoneFlags()
    }

    /// Makes every AZ's flag say what the database says, inside a write transaction, so that no `az fail`
    /// or `az recover` commits between reading a status and setting its flag (`setAZFailed` sets the flag
    /// again after its commit). Run by every opening of the store: a command killed between the flag and
    /// the commit leaves them apart only until the next command of any kind. A flag file that does not
    /// exist reads as clear; it is made only for a failed AZ, so reading commands change nothing.
    func reconcileZoneFlags() throws(StateError) {
        try Self.write(pool) { db throws(StateError) in
            for zone in try Self.zones(db) {
                let down = zone.status == .failed
                var info = stat()
                let path = directory.zoneFlagPath(zone.name)
                if !down && lstat(path, &info) != 0 && errno == ENOENT { continue }
                let flag = try ZoneFlags.open(directory: directory, zone: zone.name)
                if flag.isSet != down { flag.set(down) }
            }
        }
    }

    public func zoneFlags() throws(StateError) -> ZoneFlags {
        try ZoneFlags(directory: directory, zones: region.zones)
    }

    /// What decides whether a mount of `volume` by `attachment`'s task is cut off (`ZoneReachability`).
    public func reachability(of volume: Volume, for attachment: VolumeAttachment) throws(StateError) -> ZoneReachability {
        let flags = try syncZoneFlags()
        guard let task = flags.flag(attachment.availabilityZone) else {
            throw .zoneNotFound(attachment.availabilityZone, region: region.name, known: region.zones)
        }
        return ZoneReachability(taskZone: task, dataZones: volume.dataZones(in: region.zones).compactMap(flags.flag))
    }

    func recordAZStatus(_ zone: String, _ failed: Bool) throws(StateError) -> AvailabilityZone {
        try decide { db throws(StateError) in
            guard var record = try Self.attempt({ try ZoneRecord.fetchOne(db, key: zone) }) else {
                throw .zoneNotFound(zone, region: region.name, known: region.zones)
            }
            let status: AvailabilityZoneStatus = failed ? .failed : .available
            if record.status != status {
                record.status = status
                record.statusChangedAt = milliseconds(since1970: Self.now())
                try Self.attempt { try record.update(db) }
            }
            let zones = try Self.zones(db).map(\.name)
            let volumes = try Self.attempt { try VolumeRecord.order(Column("id")).fetchAll(db) }.map(\.volume)
            return AvailabilityZone(name: zone, status: status,
                                    volumeIDs: volumes.filter { $0.dataZones(in: zones).contains(zone) }.map(\.id))
        }
    }


    /// The AZ exists in the region (`InvalidZone.NotFound`) and is not failed (`IncorrectState`).
    static func requireUsableZone(_ name: String, zones: [ZoneRecord], region: RegionConfiguration) throws(StateError) {
        guard let zone = zones.first(where: { $0.name == name }) else {
            throw .zoneNotFound(name, region: region.name, known: zones.map(\.name))
        }
        if zone.status == .failed { throw .zoneFailed(name) }
    }

    /// A multi-AZ deployment needs a standby in a second AZ (AWS docs:
    /// fsx/latest/WindowsGuide/high-availability-multiAZ.html: "a standby file server in a different
    /// Availability Zone").
    static func standbyZone(
        requested: String?, preferred: String, zones: [ZoneRecord], region: RegionConfiguration
    ) throws(StateError) -> String {
        if let requested {
            try requireUsableZone(requested, zones: zones, region: region)
            guard requested != preferred else {
                throw .invalidParameter("the standby AZ of a multi-AZ deployment must differ from its preferred AZ \(preferred)")
            }
            return requested
        }
        guard let start = zones.firstIndex(where: { $0.name == preferred }) else {
            throw .zoneNotFound(preferred, region: region.name, known: zones.map(\.name))
        }
        let rotated = zones[(start + 1)...] + zones[..<start]
        guard let next = rotated.first(where: { $0.status == .available }) else {
            throw .invalidParameter("a multi-AZ deployment needs a second available AZ; \(region.name) has no other than \(preferred)")
        }
        return next.name
    }
}
