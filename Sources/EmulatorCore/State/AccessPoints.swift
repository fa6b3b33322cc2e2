public import Foundation

/// An EFS access point (`berth access-point create`): a file system path exposed as the root of every
/// mount made through it, and a POSIX user that is the identity of every operation through it.
///
/// Facts (AWS docs, checked 2026-11-26):
/// - efs/latest/ug/API_CreateAccessPoint.html: the POSIX user and group "override any identity
///   information provided by the NFS client"; the path is "exposed as the access point's root directory".
/// - efs/latest/ug/API_RootDirectory.html: a path of 1 to 100 characters with up to four subdirectories;
///   if it does not exist, EFS creates it with the `CreationInfo` when a client connects, and without
///   `CreationInfo` mounts through the access point fail.
/// - efs/latest/ug/API_CreationInfo.html: owner uid and gid 0…4294967295, permissions as an octal mode.
/// - efs/latest/ug/API_PosixUser.html: uid, gid and up to 16 secondary gids.
public struct AccessPoint: Sendable, Equatable, Codable {
    public var id: AccessPointID
    public var fileSystemID: VolumeID
    public var rootDirectory: String
    public var posixUser: PosixUser?
    public var creationInfo: CreationInfo?
    public var createdAt: Date

    public init(id: AccessPointID, fileSystemID: VolumeID, rootDirectory: String, posixUser: PosixUser?,
                creationInfo: CreationInfo?, createdAt: Date) {
        self.id = id
        self.fileSystemID = fileSystemID
        self.rootDirectory = rootDirectory
        self.posixUser = posixUser
        self.creationInfo = creationInfo
        self.createdAt = createdAt
    }
}

/// The identity every operation through an access point's mount uses.
public struct PosixUser: Sendable, Equatable, Codable, CustomStringConvertible {
    public var uid: UInt32
    public var gid: UInt32
    public var secondaryGIDs: [UInt32]

    public init(uid: UInt32, gid: UInt32, secondaryGIDs: [UInt32] = []) {
        self.uid = uid
        self.gid = gid
        self.secondaryGIDs = secondaryGIDs
    }

    /// `UID:GID[:GID…]`, the form `--posix-user` takes.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { UInt32($0) }
        guard parts.count >= 2, parts.count <= 2 + PosixUser.maxSecondaryGIDs, let uid = parts[0], let gid = parts[1] else { return nil }
        var secondary: [UInt32] = []
        for part in parts.dropFirst(2) {
            guard let part else { return nil }
            secondary.append(part)
        }
        self.init(uid: uid, gid: gid, secondaryGIDs: secondary)
    }

    /// efs/latest/ug/API_PosixUser.html: SecondaryGids, "Array Members: Minimum number of 0 items. Maximum
    /// number of 16 items."
    public static let maxSecondaryGIDs = 16

    public var description: String { ([uid, gid] + secondaryGIDs).map(String.init).joined(separator: ":") }
}

/// Owner and mode EFS gives an access point's root directory when it makes it.
public struct CreationInfo: Sendable, Equatable, Codable, CustomStringConvertible {
    public var ownerUID: UInt32
    public var ownerGID: UInt32
    /// Permission bits (at most 0o7777).
    public var permissions: UInt32

    public init(ownerUID: UInt32, ownerGID: UInt32, permissions: UInt32) {
        self.ownerUID = ownerUID
        self.ownerGID = ownerGID
        self.permissions = permissions
    }

    /// `UID:GID:MODE` with MODE in octal (`1000:1000:755`), the form `--creation-info` takes.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let uid = UInt32(parts[0]), let gid = UInt32(parts[1]),
              let mode = UInt32(parts[2], radix: 8), mode <= 0o7777 else { return nil }
        self.init(ownerUID: uid, ownerGID: gid, permissions: mode)
    }

    public var description: String { "\(ownerUID):\(ownerGID):\(String(permissions, radix: 8))" }
}

/// `fsap-` and 17 hex digits, as EFS writes access point ids (efs/latest/ug/API_AccessPointDescription.html).
public struct AccessPointID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard isHexID(rawValue, prefix: "fsap-", digits: 17) else { return nil }
        self.rawValue = rawValue
    }

    static func generate() -> AccessPointID {
        AccessPointID(uncheckedRawValue: randomHexID(prefix: "fsap-", digits: 17))
    }

    private init(uncheckedRawValue: String) { rawValue = uncheckedRawValue }

    public var description: String { rawValue }
    public static func < (lhs: AccessPointID, rhs: AccessPointID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Why an access point operation was refused, with EFS's error names (efs/latest/ug/API_CreateAccessPoint.html,
/// API_DescribeAccessPoints.html, API_DeleteAccessPoint.html).
public enum AccessPointError: Error, Sendable, Equatable, CustomStringConvertible {
    case state(StateError)
    /// EFS: `AccessPointNotFound`.
    case notFound(String)
    /// EFS: `BadRequest` (an invalid path, POSIX user or creation info; a file system that is not EFS).
    case badRequest(String)

    public var description: String {
        switch self {
        case .state(let error): error.description
        case .notFound(let id): "AccessPointNotFound: access point \(id) does not exist (berth access-point list shows them)"
        case .badRequest(let message): "BadRequest: \(message)"
        }
    }

    /// The path rule of efs/latest/ug/API_RootDirectory.html: absolute, 1 to 100 characters, at most four
    /// components, none empty, none starting with `.`, none holding `$#<>;`|&?{}^*` or a newline.
    public static func checkRootDirectory(_ path: String) throws(AccessPointError) {
        let source = "efs/latest/ug/API_RootDirectory.html"
        guard path.hasPrefix("/"), !path.isEmpty, path.count <= 100 else {
            throw .badRequest("root directory \"\(path)\" must be an absolute path of 1 to 100 characters (\(source))")
        }
        if path == "/" { return }
        let components = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard components.count <= 4 else {
            throw .badRequest("root directory \"\(path)\" has \(components.count) components; EFS allows up to four (\(source))")
        }
        let forbidden = Set("$#<>;`|&?{}^*\n")
        for component in components {
            guard !component.isEmpty, !component.hasPrefix("."), !component.contains(where: forbidden.contains) else {
                throw .badRequest("root directory \"\(path)\": component \"\(component)\" is empty, starts with '.', "
                    + "or holds one of $#<>;`|&?{}^* (\(source))")
            }
        }
    }
}
