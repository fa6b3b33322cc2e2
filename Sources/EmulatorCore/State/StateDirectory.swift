import Foundation

/// Where the emulator keeps everything durable (emulator.md §Model: "`--state-dir`, else
/// `BERTH_STATE_DIR`, else the user's state directory"), and the layout under it:
///
///     <state>/berth.sqlite            volumes, attachments, AZs, snapshots (SQLite in WAL mode)
///     <state>/berth.lock              held while a process creates or migrates the database
///     <state>/volumes/<id>/data       the volume's files
///     <state>/volumes/<id>/shared     state every mount of the volume shares (EmulatorFUSE)
///     <state>/snapshots/<snap-id>/    snapshot contents (later issue)
///
/// Every path below the root is built from a validated id type, never from user text.
public struct StateDirectory: Sendable, Hashable, CustomStringConvertible {
    /// Absolute, without a trailing slash.
    public let path: String

    public init(path: String) {
        self.path = absolutePath(path)
    }

    /// `flag` (from `--state-dir`), else `BERTH_STATE_DIR`, else `$XDG_STATE_HOME/berth` (only when
    /// absolute, as the XDG Base Directory specification requires), else `$HOME/.local/state/berth`.
    /// Empty values count as unset.
    public static func resolve(flag: String?, environment: [String: String]) throws(StateError) -> StateDirectory {
        if let flag, !flag.isEmpty { return StateDirectory(path: flag) }
        if let explicit = environment["BERTH_STATE_DIR"], !explicit.isEmpty { return StateDirectory(path: explicit) }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return StateDirectory(path: xdg + "/berth") }
        if let home = environment["HOME"], home.hasPrefix("/") { return StateDirectory(path: home + "/.local/state/berth") }
        throw .noStateDirectory
    }

    public var databasePath: String { path + "/berth.sqlite" }
    var lockPath: String { path + "/berth.lock" }
    public var volumesDirectory: String { path + "/volumes" }
    public var snapshotsDirectory: String { path + "/snapshots" }
    /// One shared flag per AZ, set while it is failed (`ZoneFlags`).
    public var zonesDirectory: String { path + "/zones" }
    public func zoneFlagPath(_ zone: String) -> String { zonesDirectory + "/" + zone + ".down" }
    /// Where a background mount server writes what it has to say once its caller has returned.
    public var mountLogPath: String { path + "/mount.log" }

    public func volumeDirectory(_ id: VolumeID) -> String { volumesDirectory + "/" + id.rawValue }
    /// The volume's files: what a mount shows.
    public func dataDirectory(_ id: VolumeID) -> String { volumeDirectory(id) + "/data" }
    /// Shared by every mount of the volume, in any process (EmulatorFUSE keeps cross-process counters here).
    public func sharedDirectory(_ id: VolumeID) -> String { volumeDirectory(id) + "/shared" }
    public func snapshotDirectory(_ id: SnapshotID) -> String { snapshotsDirectory + "/" + id.rawValue }

    public var description: String { path }
}

/// `path` made absolute against the working directory, with `.`/`..`, repeated and trailing slashes removed
/// lexically (symbolic links are left alone: the path may not exist yet).
func absolutePath(_ path: String) -> String {
    let joined = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var parts: [Substring] = []
    for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
        switch part {
        case ".": continue
        case "..": if !parts.isEmpty { parts.removeLast() }
        default: parts.append(part)
        }
    }
    return "/" + parts.joined(separator: "/")
}
