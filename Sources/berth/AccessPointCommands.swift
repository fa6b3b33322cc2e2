import ArgumentParser
import EmulatorCore
import Foundation
import StoragePlanner

struct AccessPointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access-point",
        abstract: "EFS access points: a root directory and a POSIX user for every mount made through them.",
        discussion: """
            A task definition names one in efsVolumeConfiguration.authorizationConfig.accessPointId; `berth run`
            then serves the mount from the access point's root directory (made with --creation-info when
            missing) and does every operation through it as the --posix-user, whoever the container runs as.

            Examples:
              fs=$(berth volume create --type efs --az us-east-1a)
              berth access-point create "$fs" --root-directory /app --posix-user 1000:1000 --creation-info 1000:1000:755
              berth access-point list
              berth access-point delete fsap-…
            """,
        subcommands: [AccessPointCreate.self, AccessPointList.self, AccessPointDescribe.self, AccessPointDelete.self])
}

func accessPointJSON(_ accessPoint: AccessPoint) -> JSONValue {
    var fields: [(String, JSONValue)] = [
        ("accessPointId", .string(accessPoint.id.rawValue)), ("fileSystemId", .string(accessPoint.fileSystemID.rawValue)),
        ("rootDirectory", .string(accessPoint.rootDirectory)),
    ]
    fields.append(("posixUser", accessPoint.posixUser.map { user in
        .object([("uid", .int(Int(user.uid))), ("gid", .int(Int(user.gid))),
                 ("secondaryGids", .array(user.secondaryGIDs.map { .int(Int($0)) }))])
    } ?? .null))
    fields.append(("creationInfo", accessPoint.creationInfo.map { info in
        .object([("ownerUid", .int(Int(info.ownerUID))), ("ownerGid", .int(Int(info.ownerGID))),
                 ("permissions", .string(String(info.permissions, radix: 8)))])
    } ?? .null))
    fields.append(("createdAt", .string(ISO8601DateFormatter().string(from: accessPoint.createdAt))))
    return .object(fields)
}

/// Runs an access point operation; a refusal is printed with its EFS error name and exits 1.
func accessPointCall<T>(_ body: () throws(AccessPointError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        printError(error.description)
        throw ExitStatus.invalidInput
    }
}

struct AccessPointCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create an access point; prints its fsap-… id.")

    @Argument(help: "The EFS file system (fs-…).") var fileSystem: String
    @Option(name: .customLong("root-directory"), help: "The path the access point exposes as its root (up to four components).")
    var rootDirectory: String
    @Option(name: .customLong("posix-user"), help: "UID:GID[:GID...]: the identity of every operation through the access point.")
    var posixUser: String?
    @Option(name: .customLong("creation-info"), help: "UID:GID:MODE (octal): owner and mode of the root directory when it is made.")
    var creationInfo: String?
    @OptionGroup var state: StateOptions

    func validate() throws {
        if let posixUser, PosixUser(parsing: posixUser) == nil {
            throw ValidationError("--posix-user must be UID:GID[:GID...] with up to \(PosixUser.maxSecondaryGIDs) secondary groups, got \"\(posixUser)\"")
        }
        if let creationInfo, CreationInfo(parsing: creationInfo) == nil {
            throw ValidationError("--creation-info must be UID:GID:MODE with MODE in octal (e.g. 1000:1000:755), got \"\(creationInfo)\"")
        }
    }

    func run() throws {
        let store = try state.open()
        let id = try refusing { () throws(StateError) in try VolumeID(parsing: fileSystem) }
        let accessPoint = try accessPointCall { () throws(AccessPointError) in
            try store.createAccessPoint(fileSystemID: id, rootDirectory: rootDirectory, posixUser: posixUser.flatMap(PosixUser.init(parsing:)),
                                        creationInfo: creationInfo.flatMap(CreationInfo.init(parsing:)))
        }
        print(accessPoint.id.rawValue)
    }
}

struct AccessPointList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List access points.")
    @Option(help: "text or json.") var format: EmulatorFormat = .text
    @OptionGroup var state: StateOptions

    func run() throws {
        let store = try state.open()
        let accessPoints = try accessPointCall { () throws(AccessPointError) in try store.listAccessPoints() }
        if format == .json {
            print(JSONValue.array(accessPoints.map(accessPointJSON)).rendered())
            return
        }
        if accessPoints.isEmpty { printError("no access points (berth access-point create FS_ID --root-directory PATH)") }
        for accessPoint in accessPoints {
            print([accessPoint.id.rawValue, accessPoint.fileSystemID.rawValue, accessPoint.rootDirectory,
                   "user=" + (accessPoint.posixUser?.description ?? "-"), "creation=" + (accessPoint.creationInfo?.description ?? "-")]
                .joined(separator: "\t"))
        }
    }
}

struct AccessPointDescribe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "describe", abstract: "Describe one access point (JSON).")
    @Argument(help: "fsap-…") var id: String
    @OptionGroup var state: StateOptions

    func run() throws {
        let store = try state.open()
        print(accessPointJSON(try accessPointCall { () throws(AccessPointError) in try store.describeAccessPoint(id) }).rendered())
    }
}

struct AccessPointDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an access point.")
    @Argument(help: "fsap-…") var id: String
    @OptionGroup var state: StateOptions

    func run() throws {
        let store = try state.open()
        _ = try accessPointCall { () throws(AccessPointError) in try store.deleteAccessPoint(id) }
    }
}
