public import Foundation
import GRDB
import StorageCatalog
#if canImport(Glibc)
import Glibc
#endif

/// The emulator's durable state: volumes, attachments, Availability Zones and snapshots in one SQLite
/// database (GRDB `DatabasePool`, WAL mode) under a `StateDirectory`.
///
/// Many `berth` processes use one state directory at once. Every operation is one `IMMEDIATE` transaction
/// (GRDB's `write`), so the checks and the change it decides on are atomic: of several processes racing for
/// the same EBS volume exactly one attaches, and a process killed half-way leaves the database as it was.
/// Processes waiting for the write lock wait (busy timeout) rather than fail.
///
/// Every operation first releases attachments whose serving process has died (see `ServerProcess`), in the
/// same transaction as its decision, and records them; the CLI collects them with `takeReapedAttachments()`
/// to clear their dead mount points (`DeadMounts.clear`).
public final class StateStore: Sendable {
    public let directory: StateDirectory
    /// The region and AZs stored in the database: the same for every process using this directory.
    public let region: RegionConfiguration
    let pool: DatabasePool
    let reapLog = ReapLog()

    /// Opens (creating if needed) the state under `directory`. `region` applies on first use; later it must
    /// match what is stored or only add AZs to it. `busyTimeout` is how long to wait for another process's
    /// transaction.
    ///
    /// Refused (`StateError.unsafeStateDirectory`) when the directory or anything Berth keeps in it is not
    /// controlled by this user alone (see `StateDirectory.checkOwned`), and (`stateDatabaseLost`) when volume
    /// or snapshot data is present but the database is missing, empty or unreadable, unless
    /// `rebuildingLostDatabase` (`berth state repair`). Every opening makes the AZ flags agree with the
    /// database (a command killed between the two leaves them apart).
    public init(directory: StateDirectory, region requested: RegionConfiguration? = nil,
                busyTimeout: TimeInterval = 60, rebuildingLostDatabase: Bool = false) throws(StateError) {
        self.directory = directory
        try directory.prepareRoot()
        try directory.checkLayout()
        for path in [directory.volumesDirectory, directory.snapshotsDirectory] {
            try makeStateDirectory(path, mode: 0o700)
        }
        // Creating the database, switching it to WAL and migrating are not safe to race between processes
        // (GRDB's migrator reads the applied migrations before its write transaction), so opening is
        // serialised by an advisory lock on a file next to the database.
        let openLock = try FileLock(path: directory.lockPath)
        let present = StateInventory.dataPresent(directory)
        if !rebuildingLostDatabase, !present.isEmpty, StateInventory.databaseIsMissingOrEmpty(directory) {
            throw .stateDatabaseLost(StateInventory.lostMessage(directory, present: present, reason: "is missing or empty"))
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "berth-state"
        configuration.prepareDatabase { db in
            // WAL with synchronous=FULL: a committed attach survives power loss, not only a killed process.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: directory.databasePath, configuration: configuration)
            try StateSchema.migrator.migrate(pool)
        } catch {
            if !present.isEmpty {
                throw .stateDatabaseLost(StateInventory.lostMessage(directory, present: present, reason: "cannot be read (\(error))"))
            }
            throw .storage("cannot open \(directory.databasePath): \(error)")
        }
        region = try Self.write(pool) { db throws(StateError) in try Self.settleRegion(db, requested: requested, directory: directory) }
        openLock.unlock()  // on the error paths above, its deinit unlocks
        try reconcileZoneFlags()
    }

    /// The store for a command line: `--state-dir` or the environment's state directory, and the region
    /// from `BERTH_REGION`/`BERTH_AZS`.
    public convenience init(stateDirectoryFlag: String?, environment: [String: String]) throws(StateError) {
        try self.init(directory: StateDirectory.resolve(flag: stateDirectoryFlag, environment: environment),
                      region: RegionConfiguration.fromEnvironment(environment))
    }

    // MARK: Transactions

    /// Runs `body` in one IMMEDIATE write transaction after releasing stale attachments in the same
    /// transaction. The released attachments are recorded only once the transaction has committed: a
    /// refused operation changes nothing, not even that. `alsoAccepting` lets a detach succeed for an
    /// attachment the reaper released a moment before.
    func decide<T>(
        alsoAccepting reapedMatch: ((VolumeAttachment) -> Bool)? = nil,
        onReap: (([VolumeAttachment]) -> Void)? = nil,
        _ body: (Database) throws(StateError) -> T
    ) throws(StateError) -> T {
        var reaped: [VolumeAttachment] = []
        var abandoned: [(SnapshotID, VolumeID)] = []
        let result: T = try Self.write(pool) { db throws(StateError) in
            reaped = try Self.reap(db)
            abandoned = try Self.failAbandonedSnapshots(db)
            do throws(StateError) {
                return try body(db)
            } catch {
                // A detach of an attachment that was just reaped: the reaping is the detach.
                if let reapedMatch, let match = reaped.first(where: reapedMatch), let value = match as? T { return value }
                throw error
            }
        }
        reapLog.append(reaped)
        onReap?(reaped)
        // Their partial copies are of no use; the records stay, in state error, until deleted (as EC2
        // keeps a snapshot that failed).
        // Mounts stop preserving for them at once (their own watchers would in a second).
        for (id, volumeID) in abandoned {
            try? TreeRemover.removeTree(at: directory.snapshotDirectory(id))
            SnapshotPreservation.releaseAbandoned(sharedStateDirectory: directory.sharedDirectory(volumeID))
        }
        return result
    }

    static func write<T>(_ pool: DatabasePool, _ body: (Database) throws(StateError) -> T) throws(StateError) -> T {
        do {
            return try pool.write { db in try body(db) }
        } catch let error as StateError {
            throw error
        } catch {
            throw .storage("state database: \(error)")
        }
    }

    /// Runs a GRDB call, turning its errors into `StateError.storage`.
    static func attempt<T>(_ call: () throws -> T) throws(StateError) -> T {
        do { return try call() } catch let error as StateError { throw error } catch {
            throw .storage("state database: \(error)")
        }
    }

    static func reap(_ db: Database) throws(StateError) -> [VolumeAttachment] {
        let stale = try attachments(db).filter { !$0.server.isRunning }
        for attachment in stale {
            _ = try attempt { try AttachmentRecord.deleteOne(db, key: attachment.id.rawValue) }
        }
        return stale
    }

    /// Marks `error` the pending snapshots whose taking process is gone (killed, crashed), saying so in
    /// their `stateMessage`; returns them.
    static func failAbandonedSnapshots(_ db: Database) throws(StateError) -> [(SnapshotID, VolumeID)] {
        let pending = try attempt {
            try SnapshotRecord.filter(Column("state") == SnapshotState.pending.rawValue).fetchAll(db)
        }.map(\.snapshot)
        var failed: [(SnapshotID, VolumeID)] = []
        for var snapshot in pending {
            // No recorded taker: a state file from before takers were recorded, whose taking has long ended.
            if let creator = snapshot.creator, creator.isRunning { continue }
            snapshot.state = .error
            snapshot.stateMessage = Self.abandonedMessage(snapshot.creator)
            try attempt { try SnapshotRecord(snapshot).update(db) }
            failed.append((snapshot.id, snapshot.volumeID))
        }
        return failed
    }

    /// The `stateMessage` of a snapshot whose taking process is gone.
    static func abandonedMessage(_ creator: ServerProcess?) -> String {
        guard let creator else { return "the process copying it is gone (a state made by an older Berth); the copy was abandoned" }
        return "the process copying it (pid \(creator.pid)) is gone (killed, crashed or the machine restarted); the copy was abandoned"
    }

    static func volume(_ db: Database, _ id: VolumeID) throws(StateError) -> Volume {
        guard let record = try attempt({ try VolumeRecord.fetchOne(db, key: id.rawValue) }) else { throw .volumeNotFound(id) }
        return record.volume
    }

    static func attachments(_ db: Database, of id: VolumeID? = nil) throws(StateError) -> [VolumeAttachment] {
        var request = AttachmentRecord.order(AttachmentRecord.Columns.createdAt, Column.rowID)
        if let id { request = request.filter(AttachmentRecord.Columns.volumeID == id.rawValue) }
        return try attempt { try request.fetchAll(db) }.map(\.attachment)
    }

    static func zones(_ db: Database) throws(StateError) -> [ZoneRecord] {
        try attempt { try ZoneRecord.order(ZoneRecord.Columns.position).fetchAll(db) }
    }

    /// Stores the region on first use; afterwards accepts the same configuration, or the same region with
    /// AZs added, and refuses anything else (volumes and attachments name their AZs).
    static func settleRegion(
        _ db: Database, requested: RegionConfiguration?, directory: StateDirectory
    ) throws(StateError) -> RegionConfiguration {
        let storedName = try attempt { try RegionRecord.fetchOne(db) }?.name
        let storedZones = try zones(db).map(\.name)
        guard let storedName else {
            let configuration = requested ?? .default
            try attempt { try RegionRecord(name: configuration.name).insert(db) }
            for (position, zone) in configuration.zones.enumerated() {
                try attempt {
                    try ZoneRecord(name: zone, position: position, status: .available, statusChangedAt: milliseconds(since1970: now())).insert(db)
                }
            }
            return configuration
        }
        let stored = try RegionConfiguration(name: storedName, zones: storedZones)
        guard let requested, requested != stored else { return stored }
        guard requested.name == stored.name, Set(stored.zones).isSubset(of: requested.zones) else {
            throw .regionMismatch(stateDirectory: directory.path, stored: stored, requested: requested)
        }
        for zone in requested.zones where !stored.zones.contains(zone) {
            let position = try attempt { try ZoneRecord.fetchCount(db) }
            try attempt {
                try ZoneRecord(name: zone, position: position, status: .available, statusChangedAt: milliseconds(since1970: now())).insert(db)
            }
        }
        return try RegionConfiguration(name: stored.name, zones: zones(db).map(\.name))
    }

    /// Now, to the millisecond the database keeps.
    static func now() -> Date { date(milliseconds: milliseconds(since1970: Date())) }
}

/// Checks `createVolume`'s options against the service's facts before anything is touched.
struct VolumeOptions {
    var sizeGiB: Int?
    var name: String?
    var storageClass: EFSStorageClass?
    var deployment: Deployment?
    var lustre: LustreConfiguration?
    /// What goes into `Volume.options`.
    var typeOptions: [String: String] = [:]

    /// Berth's default EBS size: ECS-managed EBS volumes have none (AWS docs:
    /// AmazonECS/latest/developerguide/ebs-volumes.html requires `sizeInGiB` or a snapshot).
    static let defaultEBSSizeGiB = 20

    /// EC2's Name tag: at most 256 characters (AWS docs: AWSEC2/latest/UserGuide/Using_Tags.html).
    static func validateName(_ name: String?) throws(StateError) -> String? {
        guard let name else { return nil }
        guard !name.isEmpty, name.count <= 256, name.contains(where: { !$0.isWhitespace }),
              name.unicodeScalars.allSatisfy({ $0.properties.generalCategory != .control }) else {
            throw .invalidParameter("a name is 1 to 256 characters, not only spaces, without control characters")
        }
        return name
    }

    static func validate(
        type: ServiceID, sizeGiB: Int?, name: String?, storageClass: EFSStorageClass?, deployment: Deployment?,
        standbyAZ: String?, lustre: LustreConfiguration? = nil
    ) throws(StateError) -> VolumeOptions {
        let facts = Catalog.facts(type)
        var options = VolumeOptions(name: try validateName(name))
        if facts.capacityGiB != nil {
            // The sizes AWS accepts come from the catalogue's limits table, the one the planner sizes with.
            let lustreChoice = type == .fsxLustre ? lustre.map { ($0.deployment, $0.storageType) } ?? (.persistent, .ssd) : nil
            let size = sizeGiB ?? (type == .ebs ? defaultEBSSizeGiB : Limits.smallestSize(type, lustre: lustreChoice) ?? 1)
            if let refusal = Limits.refusal(sizeGiB: size, type, lustre: lustreChoice) { throw .invalidParameter(refusal) }
            options.sizeGiB = size
        } else if let sizeGiB {
            throw .invalidParameter("\(type) is elastic and takes no size (--size-gib \(sizeGiB)) (\(facts.elastic.source))")
        }
        if type == .efs {
            options.storageClass = storageClass ?? .standard
        } else if let storageClass {
            throw .invalidParameter("--storage-class \(storageClass.rawValue) applies to efs only, not \(type)")
        }
        if facts.deployments.isEmpty {
            if let deployment {
                let why = facts.zones.value == .singleAZ ? "it is always single-AZ" : "it has storage classes instead"
                throw .invalidParameter("\(type) has no deployment choice (--deployment \(deployment.rawValue)): \(why) (\(facts.zones.source))")
            }
        } else {
            let chosen = deployment ?? .singleAZ
            guard facts.deployments.contains(chosen) else {
                throw .invalidParameter("\(type) offers no \(chosen.rawValue) deployment (\(facts.zones.source))")
            }
            options.deployment = chosen
        }
        if standbyAZ != nil && options.deployment != .multiAZ {
            throw .invalidParameter("a standby AZ applies to multi-az deployments only")
        }
        if type == .fsxLustre {
            let chosen = lustre ?? LustreConfiguration()
            try chosen.validate(sizeGiB: options.sizeGiB ?? 0)
            options.lustre = chosen
            options.typeOptions = chosen.options
        } else if lustre != nil {
            throw .invalidParameter("--lustre-deployment, --storage-type and --read-cache-gib apply to fsx-lustre only, not \(type)")
        }
        return options
    }
}

/// Attachments released by the reaper, kept until the CLI takes them.
final class ReapLog: @unchecked Sendable {
    // @unchecked: every access to `entries` holds `lock`.
    private let lock = NSLock()
    private var entries: [VolumeAttachment] = []

    func append(_ attachments: [VolumeAttachment]) {
        guard !attachments.isEmpty else { return }
        lock.withLock { entries += attachments }
    }

    func take() -> [VolumeAttachment] {
        lock.withLock {
            defer { entries = [] }
            return entries
        }
    }
}

/// An exclusive advisory lock (flock) on a file, held until `unlock`. flock locks belong to the open file
/// description, so two opens in one process exclude each other just as two processes do.
struct FileLock: ~Copyable {
    private let descriptor: Int32

    init(path: String) throws(StateError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .storage("cannot open \(path): \(String(cString: strerror(errno)))") }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let message = String(cString: strerror(errno))
                close(descriptor)
                throw .storage("cannot lock \(path): \(message)")
            }
        }
        self.descriptor = descriptor
    }

    consuming func unlock() {
        close(descriptor)
        discard self
    }

    deinit { close(descriptor) }
}

