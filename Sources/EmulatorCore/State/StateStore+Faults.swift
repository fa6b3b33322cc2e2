import Foundation
import GRDB

/// Injected I/O faults (`berth fault pause-io|latency|list|clear`, emulator.md §Faults beyond an outage).
/// The records say what was asked and when; the volume's shared fault words (`VolumeFaults`) are what every
/// mount reads. A command commits the record, then sets the words, then returns: when it returns the fault is
/// in effect on every mount of the volume, and after `clear` returns it is over. A command killed between the
/// two leaves them apart only until the next `fault` command, which makes the words say what the records say.
extension StateStore {
    /// Starts a fault on a volume. Refused for a volume that does not exist, and while a fault of the same
    /// kind is active on it (FIS: `ConflictException`).
    @discardableResult
    public func injectFault(_ request: FaultRequest) throws(StateError) -> Fault {
        let id = request.volumeID
        try Self.checkFaultParameters(request)
        let now = Self.now()
        let fault = try Self.write(pool) { db throws(StateError) -> Fault in
            _ = try Self.volume(db, id)
            let kind: FaultKind = if case .pauseIO = request { .pauseIO } else { .latency }
            if let active = try Self.faults(db, of: id).first(where: { $0.kind == kind && $0.status(at: now) == .active }) {
                throw .faultInEffect(active.id, volume: id, kind: kind.rawValue)
            }
            let fault: Fault
            switch request {
            case .pauseIO(_, let duration):
                fault = Fault(id: .generate(), kind: .pauseIO, volumeID: id, startedAt: now,
                              endsAt: now.addingTimeInterval(seconds(duration)))
            case .latency(_, let delay, let percent, let operations, let duration):
                fault = Fault(id: .generate(), kind: .latency, volumeID: id, startedAt: now,
                              endsAt: duration.map { now.addingTimeInterval(seconds($0)) },
                              delayMilliseconds: Int(clamping: delay.components.seconds * 1_000
                                  + delay.components.attoseconds / 1_000_000_000_000_000),
                              percent: percent, operations: operations)
            }
            try Self.attempt { try FaultRecord(fault).insert(db) }
            return fault
        }
        try applyFaults(of: id)
        return fault
    }

    /// Ends a fault at once on every mount (FIS: stopping the experiment). Ending one that already ended
    /// changes nothing and is not an error.
    @discardableResult
    public func clearFault(_ id: FaultID) throws(StateError) -> Fault {
        let now = Self.now()
        let fault = try Self.write(pool) { db throws(StateError) -> Fault in
            guard let record = try Self.attempt({ try FaultRecord.fetchOne(db, key: id.rawValue) }) else {
                throw .faultNotFound(id.rawValue)
            }
            guard var fault = record.fault else { throw .faultNotFound(id.rawValue) }
            if fault.status(at: now) == .active {
                fault.clearedAt = now
                try Self.attempt { try FaultRecord(fault).update(db) }
            }
            return fault
        }
        try applyFaults(of: fault.volumeID)
        return fault
    }

    /// Every fault ever injected on volumes that still exist, oldest first.
    public func listFaults() throws(StateError) -> [Fault] {
        try Self.write(pool) { db throws(StateError) in
            try Self.attempt { try FaultRecord.order(Column("startedAt"), Column("id")).fetchAll(db) }.compactMap(\.fault)
        }
    }

    /// The faults active on a volume now (for its status: `impaired` while its I/O is paused).
    public func activeFaults(of id: VolumeID) throws(StateError) -> [Fault] {
        let now = Date()
        return try listFaults().filter { $0.volumeID == id && $0.status(at: now) == .active }
    }

    /// Each volume's status as EBS's status checks name it: `impaired` while its I/O is paused, else `ok`
    /// (https://docs.aws.amazon.com/ebs/latest/userguide/monitoring-volume-checks.html). AWS takes up to
    /// 120 s to show it; Berth shows it at once.
    public func volumeStatuses() throws(StateError) -> [VolumeID: VolumeStatus] {
        let now = Date()
        var statuses: [VolumeID: VolumeStatus] = [:]
        for fault in try listFaults() where fault.kind == .pauseIO && fault.status(at: now) == .active {
            statuses[fault.volumeID] = .impaired
        }
        return statuses
    }

    /// Makes the volume's fault words say what its records say: the active pause and latency, if any.
    func applyFaults(of id: VolumeID) throws(StateError) {
        let now = Self.now()
        let active = try Self.write(pool) { db throws(StateError) in
            try Self.faults(db, of: id).filter { $0.status(at: now) == .active }
        }
        let words: VolumeFaults
        do {
            try makeStateDirectory(directory.sharedDirectory(id), mode: 0o755)
            words = try VolumeFaults(sharedStateDirectory: directory.sharedDirectory(id))
        } catch let error as StateError {
            throw error
        } catch {
            throw .storage("cannot open the fault words of \(id): \(error)")
        }
        if let pause = active.first(where: { $0.kind == .pauseIO }) {
            words.setPause(endsAt: pause.endsAt.map(realtimeNanoseconds(of:)) ?? 0)
        } else {
            words.clearPause()
        }
        if let latency = active.first(where: { $0.kind == .latency }) {
            words.setLatency(
                LatencyFault(delayNanoseconds: UInt64(max(0, latency.delayMilliseconds ?? 0)) * 1_000_000,
                             shareOf10000: (latency.percent ?? 100) * 100,
                             operations: (latency.operations ?? .all).operations),
                endsAt: latency.endsAt.map(realtimeNanoseconds(of:)) ?? 0)
        } else {
            words.clearLatency()
        }
    }

    static func faults(_ db: Database, of id: VolumeID) throws(StateError) -> [Fault] {
        try attempt { try FaultRecord.filter(Column("volumeID") == id.rawValue).order(Column("startedAt")).fetchAll(db) }
            .compactMap(\.fault)
    }

    static func checkFaultParameters(_ request: FaultRequest) throws(StateError) {
        switch request {
        case .pauseIO(_, let duration):
            guard duration > .zero else { throw .invalidParameter("--duration must be longer than 0s") }
        case .latency(_, let delay, let percent, _, let duration):
            guard delay > .zero else { throw .invalidParameter("--delay must be longer than 0ms") }
            guard delay <= .seconds(60) else {
                throw .invalidParameter("--delay must be at most 60s (FIS's latency action takes at most 60,000 ms)")
            }
            guard (1...100).contains(percent) else {
                throw .invalidParameter("--percent must be a whole number from 1 to 100, got \(percent)")
            }
            if let duration, duration <= .zero { throw .invalidParameter("--duration must be longer than 0s") }
        }
    }
}

private func seconds(_ duration: Duration) -> TimeInterval {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

private func realtimeNanoseconds(of date: Date) -> UInt64 {
    UInt64(max(0, date.timeIntervalSince1970 * 1e9))
}

struct FaultRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "fault"
    var id: String
    var kind: String
    var volumeID: String
    var startedAt: Int64
    var endsAt: Int64?
    var clearedAt: Int64?
    var delayMilliseconds: Int?
    var percent: Int?
    var operations: String?

    init(_ fault: Fault) {
        id = fault.id.rawValue
        kind = fault.kind.rawValue
        volumeID = fault.volumeID.rawValue
        startedAt = milliseconds(since1970: fault.startedAt)
        endsAt = fault.endsAt.map { milliseconds(since1970: $0) }
        clearedAt = fault.clearedAt.map { milliseconds(since1970: $0) }
        delayMilliseconds = fault.delayMilliseconds
        percent = fault.percent
        operations = fault.operations?.rawValue
    }

    /// Records are written only by `init(_:)`; a row that does not parse (edited by hand) is left out, so it
    /// never takes effect.
    var fault: Fault? {
        guard let id = FaultID(rawValue: id), let volume = VolumeID(rawValue: volumeID), let kind = FaultKind(rawValue: kind)
        else { return nil }
        return Fault(id: id, kind: kind, volumeID: volume, startedAt: date(milliseconds: startedAt),
                     endsAt: endsAt.map { date(milliseconds: $0) }, clearedAt: clearedAt.map { date(milliseconds: $0) },
                     delayMilliseconds: delayMilliseconds, percent: percent,
                     operations: operations.flatMap(LatencyOperationsChoice.init(rawValue:)))
    }

    static func registerMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("faults: injected I/O faults") { db in
            try db.create(table: "fault") { t in
                t.primaryKey("id", .text)
                t.column("kind", .text).notNull()
                // A volume's faults go with it.
                t.column("volumeID", .text).notNull().indexed().references("volume", onDelete: .cascade)
                t.column("startedAt", .integer).notNull()
                t.column("endsAt", .integer)
                t.column("clearedAt", .integer)
                t.column("delayMilliseconds", .integer)
                t.column("percent", .integer)
                t.column("operations", .text)
            }
        }
    }
}
