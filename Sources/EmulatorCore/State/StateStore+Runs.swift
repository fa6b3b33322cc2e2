public import Foundation
import GRDB

/// What a `berth run` holds, recorded before it is made, so that whatever the run leaves when it is
/// killed (even with SIGKILL) is found and released by the next berth command (`claimAbandonedRuns`).
public struct RunResource: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// A container of the engine, by name.
        case container
        /// A mount point served for one of the run's tasks (its attachment names the server).
        case mount
        /// A volume the run created for one task (EBS `configuredAtLaunch`) and deletes when the task stops.
        case volume
        /// A directory the run made (its mount points' parents), removed when empty.
        case directory
        /// A volume of the container engine the run created (`dockerVolumeConfiguration` with task scope).
        case engineVolume
    }
    public var kind: Kind
    public var value: String

    public init(kind: Kind, value: String) {
        self.kind = kind
        self.value = value
    }
}

/// One run's record.
public struct RunInfo: Sendable, Equatable {
    public var id: String
    public var owner: ServerProcess
    public var engine: String
    public var taskDefinition: String
    public var detached: Bool
    public var createdAt: Date
    public var resources: [RunResource]
}

extension StateStore {
    /// Records a run owned by this process. `id` must be `run-` and 12 hex digits.
    public func beginRun(id: String, engine: String, taskDefinition: String, detached: Bool) throws(StateError) {
        guard isHexID(id, prefix: "run-", digits: 12) else { throw .invalidParameter("invalid run id \"\(id)\"") }
        guard let owner = ServerProcess.current else { throw .storage("cannot read this process's start time") }
        let record = RunRecord(id: id, pid: Int64(owner.pid), processStartTime: Int64(clamping: owner.startTime), engine: engine,
                               taskDefinition: taskDefinition, detached: detached,
                               createdAt: milliseconds(since1970: Self.now()), cleanerPid: nil, cleanerStartTime: nil)
        try decide { db throws(StateError) in try Self.attempt { try record.insert(db) } }
    }

    /// Records that the run holds `resource`: called before the resource is made.
    public func recordRunResource(_ runID: String, _ resource: RunResource) throws(StateError) {
        let row = RunResourceRecord(runID: runID, kind: resource.kind.rawValue, value: resource.value,
                                    createdAt: milliseconds(since1970: Self.now()))
        try decide { db throws(StateError) in try Self.attempt { try row.save(db) } }
    }

    /// Records several resources in one transaction (one commit instead of one per resource).
    public func recordRunResources(_ runID: String, _ resources: [RunResource]) throws(StateError) {
        let now = milliseconds(since1970: Self.now())
        try decide { db throws(StateError) in
            for resource in resources {
                try Self.attempt { try RunResourceRecord(runID: runID, kind: resource.kind.rawValue, value: resource.value, createdAt: now).save(db) }
            }
        }
    }

    /// Forgets `resource` once it is released.
    public func forgetRunResource(_ runID: String, _ resource: RunResource) throws(StateError) {
        try decide { db throws(StateError) in
            _ = try Self.attempt {
                try RunResourceRecord.filter(Column("runID") == runID && Column("kind") == resource.kind.rawValue
                                             && Column("value") == resource.value).deleteAll(db)
            }
        }
    }

    /// Removes the run's record (and what it still lists): called once everything is released.
    public func endRun(_ runID: String) throws(StateError) {
        try decide { db throws(StateError) in
            _ = try Self.attempt { try RunResourceRecord.filter(Column("runID") == runID).deleteAll(db) }
            _ = try Self.attempt { try RunRecord.deleteOne(db, key: runID) }
        }
    }

    public func listRuns() throws(StateError) -> [RunInfo] {
        try Self.attempt {
            try pool.read { db in
                try RunRecord.order(Column("createdAt")).fetchAll(db).map { run in
                    try run.info(resources: RunResourceRecord.filter(Column("runID") == run.id).order(Column("createdAt")).fetchAll(db))
                }
            }
        }
    }

    /// The runs whose owner is gone and that no live process is clearing yet, each now claimed by this
    /// process (in one transaction, so two commands never clear the same run).
    public func claimAbandonedRuns() throws(StateError) -> [RunInfo] {
        guard let me = ServerProcess.current else { return [] }
        let quick = try Self.attempt { try pool.read { db in try RunRecord.fetchAll(db) } }
        if quick.allSatisfy({ $0.owner.isRunning }) { return [] }
        return try decide { db throws(StateError) in
            var claimed: [RunInfo] = []
            for var run in try Self.attempt({ try RunRecord.fetchAll(db) }) where !run.owner.isRunning {
                if let cleaner = run.cleaner, cleaner.isRunning, cleaner != me { continue }
                run.cleanerPid = Int64(me.pid)
                run.cleanerStartTime = Int64(clamping: me.startTime)
                try Self.attempt { try run.update(db) }
                let resources = try Self.attempt { try RunResourceRecord.filter(Column("runID") == run.id).fetchAll(db) }
                claimed.append(run.info(resources: resources))
            }
            return claimed
        }
    }
}

struct RunRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "run"
    var id: String
    var pid: Int64
    var processStartTime: Int64
    var engine: String
    var taskDefinition: String
    var detached: Bool
    var createdAt: Int64
    var cleanerPid: Int64?
    var cleanerStartTime: Int64?

    var owner: ServerProcess { ServerProcess(pid: Int32(clamping: pid), startTime: UInt64(clamping: processStartTime)) }
    var cleaner: ServerProcess? {
        guard let cleanerPid, let cleanerStartTime else { return nil }
        return ServerProcess(pid: Int32(clamping: cleanerPid), startTime: UInt64(clamping: cleanerStartTime))
    }

    func info(resources: [RunResourceRecord]) -> RunInfo {
        RunInfo(id: id, owner: owner, engine: engine, taskDefinition: taskDefinition, detached: detached,
                createdAt: date(milliseconds: createdAt),
                resources: resources.compactMap { row in RunResource.Kind(rawValue: row.kind).map { RunResource(kind: $0, value: row.value) } })
    }
}

struct RunResourceRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "runResource"
    var runID: String
    var kind: String
    var value: String
    var createdAt: Int64
}
