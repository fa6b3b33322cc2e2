#if canImport(Glibc)
/// One shared flag per Availability Zone, set while the AZ is failed: `<state>/zones/<az>.down`. The
/// database's AZ status is the record; these flags mirror it so that every mount can ask "am I cut off?"
/// with one memory load per operation (`StateStore.setAZFailed` sets them; `syncZoneFlags` repairs them
/// after a process died between the two).
public struct ZoneFlags: Sendable {
    private let flags: [String: SharedFlag]

    public init(directory: StateDirectory, zones: [String]) throws(StateError) {
        var flags: [String: SharedFlag] = [:]
        for zone in zones { flags[zone] = try Self.open(directory: directory, zone: zone) }
        self.flags = flags
    }

    /// The flag of one AZ, made clear if it does not exist. Its directory must be one only the user
    /// controls and the file is opened without following a symbolic link: a planted
    /// `zones/<az>.down -> /etc/shadow` is refused, not truncated.
    static func open(directory: StateDirectory, zone: String) throws(StateError) -> SharedFlag {
        try makeStateDirectory(directory.zonesDirectory, mode: 0o755)
        let path = directory.zoneFlagPath(zone)
        try StateDirectory.checkExistingFile(path)
        do {
            return try SharedFlag(path: path)
        } catch {
            throw .storage(error.description)
        }
    }

    public func flag(_ zone: String) -> SharedFlag? { flags[zone] }

    public func isDown(_ zone: String) -> Bool { flags[zone]?.isSet ?? false }
}

/// Whether a mount can reach its volume, from the AZ flags (emulator.md §Model: "An AZ outage makes
/// everything whose data or whose task lives only in that AZ unavailable"): cut off while the task's AZ
/// is down, or while every AZ holding the volume's data is down. So an EFS Standard mount in a healthy AZ
/// keeps serving (its data is in every AZ), a multi-AZ FSx mount keeps serving from its standby AZ, and a
/// one-zone or single-AZ volume is lost to every mount while its AZ is down.
public struct ZoneReachability: Reachability {
    let taskZone: SharedFlag
    let dataZones: [SharedFlag]

    public init(taskZone: SharedFlag, dataZones: [SharedFlag]) {
        self.taskZone = taskZone
        self.dataZones = dataZones
    }

    public var isReachable: Bool {
        if taskZone.isSet { return false }
        for zone in dataZones where !zone.isSet { return true }
        return false
    }
}
#endif
