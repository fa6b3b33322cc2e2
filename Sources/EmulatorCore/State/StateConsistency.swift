import Foundation
import GRDB
import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// One disagreement between the database's records, the metadata files (`volume.json`, `snapshot.json`)
/// and the directories of a state directory, as `berth state check` reports it.
public struct StateProblem: Sendable, Equatable, CustomStringConvertible {
    /// The volume or snapshot id, or the path, it is about.
    public var subject: String
    public var message: String
    /// `berth state repair` fixes it (else the message says what to do).
    public var repairable: Bool

    public var description: String { "\(subject): \(message)" }
}

/// What a state directory holds, read without changing anything: the basis of the refusal to open a lost
/// database, of `berth state check` and of `berth state repair`.
public enum StateInventory {
    /// The ids named by the entries of `volumes/` (others are ignored).
    static func volumeDirectories(_ directory: StateDirectory) -> [VolumeID] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.volumesDirectory)) ?? [])
            .compactMap(VolumeID.init(rawValue:)).sorted()
    }

    static func snapshotDirectories(_ directory: StateDirectory) -> [SnapshotID] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.snapshotsDirectory)) ?? [])
            .compactMap(SnapshotID.init(rawValue:)).sorted { $0.rawValue < $1.rawValue }
    }

    /// The volume and snapshot directories present, by id.
    static func dataPresent(_ directory: StateDirectory) -> [String] {
        volumeDirectories(directory).map(\.rawValue) + snapshotDirectories(directory).map(\.rawValue)
    }

    /// No database file, or an empty one (which SQLite would take for a new database).
    static func databaseIsMissingOrEmpty(_ directory: StateDirectory) -> Bool {
        var info = stat()
        guard lstat(directory.databasePath, &info) == 0 else { return errno == ENOENT }
        return info.st_size == 0
    }

    static func lostMessage(_ directory: StateDirectory, present: [String], reason: String) -> String {
        let volumes = present.filter { !$0.hasPrefix("snap-") }.count
        let snapshots = present.count - volumes
        let listed = present.prefix(5).joined(separator: ", ") + (present.count > 5 ? ", …" : "")
        return "the state directory \(directory.path) holds \(counted(volumes, "volume")) and \(counted(snapshots, "snapshot")) (\(listed)), "
            + "but its database \(directory.databasePath) \(reason); nothing was changed. "
            + "`berth state check` lists what is there; `berth state repair` rebuilds the records from the volume.json "
            + "and snapshot.json files beside the data (move a damaged berth.sqlite aside first)"
    }

    /// The region a volume's metadata file names (the first found), for rebuilding a lost database.
    public static func metadataRegion(_ directory: StateDirectory) -> RegionConfiguration? {
        for id in volumeDirectories(directory) {
            if let metadata = try? StateMetadata.read(VolumeMetadata.self, from: StateMetadata.volumePath(directory, id)),
               let region = try? RegionConfiguration(name: metadata.region, zones: metadata.zones) {
                return region
            }
        }
        return nil
    }

    public static func databaseMissing(_ directory: StateDirectory) -> Bool { databaseIsMissingOrEmpty(directory) }

    /// Every disagreement between records, metadata files and directories under `directory`; empty when
    /// they agree. Reads only: opens the database read-only and creates, changes and removes nothing.
    public static func check(_ directory: StateDirectory) -> [StateProblem] {
        var problems: [StateProblem] = []
        func problem(_ subject: String, _ message: String, repairable: Bool) {
            problems.append(StateProblem(subject: subject, message: message, repairable: repairable))
        }
        var rootInfo = stat()
        guard stat(directory.path, &rootInfo) == 0 else { return [] }
        do {
            try StateDirectory.checkOwned(directory.path, rootInfo, what: "the state directory")
            try directory.checkLayout()
        } catch {
            problem(directory.path, error.message, repairable: false)
            return problems
        }
        let volumeDirectories = volumeDirectories(directory)
        let snapshotDirectories = snapshotDirectories(directory)
        var snapshotRecords: [SnapshotID: Snapshot] = [:]
        var volumeRecords: [VolumeID: Volume] = [:]
        var intents: [String: DirectoryIntentRecord] = [:]
        var zones: [ZoneRecord] = []
        if databaseIsMissingOrEmpty(directory) {
            if !volumeDirectories.isEmpty || !snapshotDirectories.isEmpty {
                problem(directory.databasePath, "missing or empty while volume or snapshot data is present; every "
                            + "berth command refuses to run until `berth state repair` rebuilds it", repairable: true)
            }
        } else {
            do {
                var configuration = Configuration()
                configuration.readonly = true
                let queue = try DatabaseQueue(path: directory.databasePath, configuration: configuration)
                try queue.read { db in
                    for record in try VolumeRecord.fetchAll(db) { volumeRecords[record.id] = record.volume }
                    for record in try SnapshotRecord.fetchAll(db) { snapshotRecords[record.id] = record.snapshot }
                    if try db.tableExists(DirectoryIntentRecord.databaseTableName) {
                        for record in try DirectoryIntentRecord.fetchAll(db) { intents[record.id] = record }
                    }
                    zones = try ZoneRecord.order(ZoneRecord.Columns.position).fetchAll(db)
                }
                try queue.close()
            } catch {
                problem(directory.databasePath, "cannot be read (\(error)); move it aside (`mv berth.sqlite "
                            + "berth.sqlite.damaged`) and run `berth state repair`", repairable: false)
                return problems
            }
        }

        for id in Set(volumeRecords.keys).union(volumeDirectories).sorted() {
            let path = directory.volumeDirectory(id)
            let exists = FileManager.default.fileExists(atPath: path)
            if let intent = intents[id.rawValue], !intent.process.isRunning {
                problem(id.rawValue, "its \(intent.action == .creating ? "creation" : "deletion") by pid \(intent.pid) was "
                            + "interrupted; the next berth command removes \(path)", repairable: true)
                continue
            }
            do { try directory.checkVolumeDirectories(id) } catch {
                problem(id.rawValue, error.message, repairable: false)
                continue
            }
            let metadata: VolumeMetadata?
            do { metadata = try StateMetadata.read(VolumeMetadata.self, from: StateMetadata.volumePath(directory, id)) } catch {
                problem(id.rawValue, error.message, repairable: volumeRecords[id] != nil)
                continue
            }
            switch (volumeRecords[id], exists) {
            case (let record?, true):
                if !FileManager.default.fileExists(atPath: directory.dataDirectory(id)) {
                    problem(id.rawValue, "its data directory \(directory.dataDirectory(id)) is missing", repairable: false)
                }
                if metadata == nil {
                    problem(id.rawValue, "\(StateMetadata.volumeFile) is missing", repairable: true)
                } else if metadata.map({ VolumeRecord($0.volume).volume }) != record {
                    problem(id.rawValue, "\(StateMetadata.volumeFile) disagrees with the record", repairable: true)
                }
            case (_?, false):
                if intents[id.rawValue] == nil {
                    problem(id.rawValue, "recorded, but its directory \(path) is missing (its data is gone); "
                                + "`berth volume delete \(id)` removes the record", repairable: false)
                }
            case (nil, _):
                if intents[id.rawValue] != nil { continue }  // being created by a live process
                if let metadata, metadata.volume.id == id {
                    problem(id.rawValue, "\(path) has no record; `berth state repair` restores it from \(StateMetadata.volumeFile)",
                            repairable: true)
                } else {
                    problem(id.rawValue, "\(path) has no record and no \(StateMetadata.volumeFile) to rebuild one from; "
                                + "Berth leaves it alone: move it away if it is not needed", repairable: false)
                }
            }
        }

        for id in Set(snapshotRecords.keys).union(snapshotDirectories).sorted(by: { $0.rawValue < $1.rawValue }) {
            let path = directory.snapshotDirectory(id)
            let exists = FileManager.default.fileExists(atPath: path)
            if let intent = intents[id.rawValue], !intent.process.isRunning {
                problem(id.rawValue, "its deletion by pid \(intent.pid) was interrupted; the next berth command removes \(path)",
                        repairable: true)
                continue
            }
            do { try directory.checkSnapshotDirectories(id) } catch {
                problem(id.rawValue, error.message, repairable: false)
                continue
            }
            let metadata: SnapshotMetadata?
            do { metadata = try StateMetadata.read(SnapshotMetadata.self, from: StateMetadata.snapshotPath(directory, id)) } catch {
                problem(id.rawValue, error.message, repairable: snapshotRecords[id] != nil)
                continue
            }
            switch (snapshotRecords[id], exists) {
            case (let record?, true):
                if metadata == nil {
                    problem(id.rawValue, "\(StateMetadata.snapshotFile) is missing", repairable: true)
                } else if metadata.map({ SnapshotRecord($0.snapshot).snapshot }) != record {
                    problem(id.rawValue, "\(StateMetadata.snapshotFile) disagrees with the record", repairable: true)
                }
            case (let record?, false):
                // A failed snapshot's partial copy is removed on purpose; a pending one may not have made it yet.
                if record.state == .completed {
                    problem(id.rawValue, "recorded as completed, but its directory \(path) is missing (its data is gone); "
                                + "`berth snapshot delete \(id)` removes the record", repairable: false)
                }
            case (nil, _):
                if intents[id.rawValue] != nil { continue }
                if let metadata, metadata.snapshot.id == id {
                    problem(id.rawValue, "\(path) has no record; `berth state repair` restores it from \(StateMetadata.snapshotFile)",
                            repairable: true)
                } else {
                    problem(id.rawValue, "\(path) has no record and no \(StateMetadata.snapshotFile) to rebuild one from; "
                                + "Berth leaves it alone: move it away if it is not needed", repairable: false)
                }
            }
        }

        for zone in zones {
            let down = zone.status == .failed
            if zoneFlagIsSet(directory.zoneFlagPath(zone.name)) != down {
                problem(zone.name, "its flag says \(down ? "available" : "failed") but the database says \(zone.status.rawValue); "
                            + "the next berth command makes the flag agree", repairable: true)
            }
        }
        return problems
    }

    /// Reads a zone flag without creating or mapping it (`SharedWords`: two header words, then the flag).
    static func zoneFlagIsSet(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var word: UInt64 = 0
        guard pread(fd, &word, 8, 16) == 8 else { return false }
        return word != 0
    }
}

/// What `berth state repair` did and what it could not fix.
public struct StateRepairReport: Sendable {
    public var repaired: [String]
    public var remaining: [StateProblem]
}

extension StateStore {
    /// Rebuilds what can be rebuilt and deletes nothing: finishes interrupted creations and deletions (as
    /// every command does), makes the AZ flags agree, restores the records of volumes and snapshots whose
    /// directory holds a metadata file but that the database does not know, and rewrites missing or
    /// outdated metadata files from the records. Then checks again and returns what remains.
    public func repair() throws(StateError) -> StateRepairReport {
        try reapStaleAttachments()
        try reconcileZoneFlags()
        var repaired: [String] = []
        let directory = directory
        try decide { db throws(StateError) in
            let intents = Set(try Self.attempt { try DirectoryIntentRecord.fetchAll(db) }.map(\.id))
            let zones = Set(try Self.attempt { try ZoneRecord.fetchAll(db) }.map(\.name))
            let volumes = Dictionary(uniqueKeysWithValues: try Self.attempt { try VolumeRecord.fetchAll(db) }.map { ($0.id, $0.volume) })
            for id in StateInventory.volumeDirectories(directory) where !intents.contains(id.rawValue) {
                guard (try? directory.checkVolumeDirectories(id)) != nil else { continue }
                let path = StateMetadata.volumePath(directory, id)
                let metadata = try? StateMetadata.read(VolumeMetadata.self, from: path)
                if let record = volumes[id] {
                    if metadata.map({ VolumeRecord($0.volume).volume }) != record {
                        try StateMetadata.write(VolumeMetadata(region: region.name, zones: region.zones, volume: record), to: path)
                        repaired.append("\(id): wrote \(StateMetadata.volumeFile) from its record")
                    }
                    continue
                }
                guard let volume = metadata?.volume, volume.id == id else { continue }
                let needed = [volume.availabilityZone] + (volume.standbyAvailabilityZone.map { [$0] } ?? [])
                guard needed.allSatisfy(zones.contains) else { continue }
                try Self.attempt { try VolumeRecord(volume).insert(db) }
                repaired.append("\(id): restored its record from \(StateMetadata.volumeFile)")
            }
            let snapshots = Dictionary(uniqueKeysWithValues: try Self.attempt { try SnapshotRecord.fetchAll(db) }.map { ($0.id, $0.snapshot) })
            for id in StateInventory.snapshotDirectories(directory) where !intents.contains(id.rawValue) {
                guard (try? directory.checkSnapshotDirectories(id)) != nil else { continue }
                let path = StateMetadata.snapshotPath(directory, id)
                let metadata = try? StateMetadata.read(SnapshotMetadata.self, from: path)
                if let record = snapshots[id] {
                    if metadata.map({ SnapshotRecord($0.snapshot).snapshot }) != record {
                        try StateMetadata.write(SnapshotMetadata(snapshot: record), to: path)
                        repaired.append("\(id): wrote \(StateMetadata.snapshotFile) from its record")
                    }
                    continue
                }
                guard let snapshot = metadata?.snapshot, snapshot.id == id else { continue }
                try Self.attempt { try SnapshotRecord(snapshot).insert(db) }
                repaired.append("\(id): restored its record from \(StateMetadata.snapshotFile)")
            }
        }
        var remaining = StateInventory.check(directory)
        // Say why a volume whose metadata names an AZ this region lacks was not restored.
        for index in remaining.indices where remaining[index].repairable {
            if let id = VolumeID(rawValue: remaining[index].subject),
               let metadata = try? StateMetadata.read(VolumeMetadata.self, from: StateMetadata.volumePath(directory, id)),
               !region.zones.contains(metadata.volume.availabilityZone) {
                remaining[index].message += " (it was made in \(metadata.region) \(metadata.volume.availabilityZone), which this "
                    + "state's region \(region) lacks: set BERTH_REGION and BERTH_AZS to include it)"
                remaining[index].repairable = false
            }
        }
        return StateRepairReport(repaired: repaired, remaining: remaining)
    }
}
