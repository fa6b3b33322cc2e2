import Foundation
import GRDB
import StorageCatalog

/// EFS access points: create, list, describe, delete. Each is one transaction; a refusal changes nothing.
extension StateStore {
    /// Records an access point on the EFS file system `fileSystemID`. Refused (`BadRequest`) for a file
    /// system that is not EFS or a root directory EFS would refuse; `FileSystemNotFound` for an unknown id.
    public func createAccessPoint(fileSystemID: VolumeID, rootDirectory: String, posixUser: PosixUser?,
                                  creationInfo: CreationInfo?) throws(AccessPointError) -> AccessPoint {
        try AccessPointError.checkRootDirectory(rootDirectory)
        let accessPoint = AccessPoint(id: .generate(), fileSystemID: fileSystemID, rootDirectory: rootDirectory,
                                      posixUser: posixUser, creationInfo: creationInfo, createdAt: Self.now())
        let refusal: AccessPointError? = try stateCall { () throws(StateError) in
            try decide { db throws(StateError) -> AccessPointError? in
                let volume = try Self.volume(db, fileSystemID)
                guard volume.type == .efs else {
                    return .badRequest("\(fileSystemID) is an \(volume.type.rawValue) volume; access points are an EFS feature")
                }
                try Self.attempt { try AccessPointRecord(accessPoint).insert(db) }
                return nil
            }
        }
        if let refusal { throw refusal }
        return accessPoint
    }

    public func listAccessPoints() throws(AccessPointError) -> [AccessPoint] {
        try stateCall { () throws(StateError) in
            try Self.attempt { try pool.read { db in try AccessPointRecord.order(Column("id")).fetchAll(db) } }.compactMap(\.accessPoint)
        }
    }

    public func describeAccessPoint(_ text: String) throws(AccessPointError) -> AccessPoint {
        guard let id = AccessPointID(rawValue: text) else { throw .notFound(text) }
        let found = try stateCall { () throws(StateError) in
            try Self.attempt { try pool.read { db in try AccessPointRecord.fetchOne(db, key: id.rawValue) } }
        }
        guard let accessPoint = found?.accessPoint else { throw .notFound(text) }
        return accessPoint
    }

    @discardableResult
    public func deleteAccessPoint(_ text: String) throws(AccessPointError) -> AccessPoint {
        guard let id = AccessPointID(rawValue: text) else { throw .notFound(text) }
        let deleted = try stateCall { () throws(StateError) in
            try decide { db throws(StateError) -> AccessPointRecord? in
                guard let record = try Self.attempt({ try AccessPointRecord.fetchOne(db, key: id.rawValue) }) else { return nil }
                _ = try Self.attempt { try record.delete(db) }
                return record
            }
        }
        guard let accessPoint = deleted?.accessPoint else { throw .notFound(text) }
        return accessPoint
    }

    func stateCall<T>(_ body: () throws(StateError) -> T) throws(AccessPointError) -> T {
        do { return try body() } catch { throw .state(error) }
    }
}

struct AccessPointRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "accessPoint"
    var id: String
    var fileSystemID: String
    var rootDirectory: String
    /// JSON text of `PosixUser` and `CreationInfo`, or nil.
    var posixUser: String?
    var creationInfo: String?
    var createdAt: Int64

    init(_ accessPoint: AccessPoint) {
        id = accessPoint.id.rawValue
        fileSystemID = accessPoint.fileSystemID.rawValue
        rootDirectory = accessPoint.rootDirectory
        posixUser = accessPoint.posixUser.flatMap(Self.encode)
        creationInfo = accessPoint.creationInfo.flatMap(Self.encode)
        createdAt = milliseconds(since1970: accessPoint.createdAt)
    }

    static func encode<T: Encodable>(_ value: T) -> String? {
        (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func decode<T: Decodable>(_ text: String?, as: T.Type) -> T? {
        text.flatMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    /// Nil only for a row that is not Berth's (ids are checked when written).
    var accessPoint: AccessPoint? {
        guard let accessPointID = AccessPointID(rawValue: id), let volumeID = VolumeID(rawValue: fileSystemID) else { return nil }
        return AccessPoint(
            id: accessPointID, fileSystemID: volumeID,
            rootDirectory: rootDirectory, posixUser: Self.decode(posixUser, as: PosixUser.self),
            creationInfo: Self.decode(creationInfo, as: CreationInfo.self), createdAt: date(milliseconds: createdAt))
    }
}

/// The tables `berth access-point` and `berth run` add. Registered after the emulator's own migrations.
enum RunSchema {
    static func register(into migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5 (run): access points, runs and what each run holds") { db in
            try db.create(table: "accessPoint") { t in
                t.primaryKey("id", .text)
                t.column("fileSystemID", .text).notNull().indexed()
                t.column("rootDirectory", .text).notNull()
                t.column("posixUser", .text)
                t.column("creationInfo", .text)
                t.column("createdAt", .integer).notNull()
            }
            try db.create(table: "run") { t in
                t.primaryKey("id", .text)
                t.column("pid", .integer).notNull()
                t.column("processStartTime", .integer).notNull()
                t.column("engine", .text).notNull()
                t.column("taskDefinition", .text).notNull()
                t.column("detached", .boolean).notNull()
                t.column("createdAt", .integer).notNull()
                // Set while a later process clears the run after its owner died.
                t.column("cleanerPid", .integer)
                t.column("cleanerStartTime", .integer)
            }
            try db.create(table: "runResource") { t in
                t.column("runID", .text).notNull().indexed().references("run", onDelete: .cascade)
                t.column("kind", .text).notNull()
                t.column("value", .text).notNull()
                t.column("createdAt", .integer).notNull()
                t.primaryKey(["runID", "kind", "value"])
            }
        }
    }
}
