import StorageCatalog

// Resource ids are the only names the state layer ever turns into paths (`<state>/volumes/<id>/…`), so each
// type accepts exactly the shape Berth generates and nothing else: a fixed prefix followed by lowercase hex
// digits. No `/`, `.` or anything else that could leave the state directory can get through.

/// `prefix` followed by exactly `digits` lowercase hexadecimal digits.
func isHexID(_ text: String, prefix: String, digits: Int) -> Bool {
    let bytes = Array(text.utf8)
    let prefixBytes = Array(prefix.utf8)
    guard bytes.count == prefixBytes.count + digits, bytes.starts(with: prefixBytes) else { return false }
    return bytes.dropFirst(prefixBytes.count).allSatisfy { byte in
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}

/// `prefix` followed by `digits` random lowercase hexadecimal digits.
func randomHexID(prefix: String, digits: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    let hexDigits = Array("0123456789abcdef")
    return prefix + String((0..<digits).map { _ in hexDigits[Int(generator.next(upperBound: UInt8(16)))] })
}

/// A volume's id: `vol-` and 17 hex digits for EBS, as EC2 writes them (AWS docs:
/// AWSEC2/latest/APIReference/API_Volume.html, e.g. `vol-1234567890abcdef0`), and `fs-` and 17 hex digits
/// for the file systems, as EFS and FSx write them (AWS docs: efs/latest/ug/API_FileSystemDescription.html;
/// fsx/latest/APIReference/API_FileSystem.html).
public struct VolumeID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Nil unless `rawValue` has exactly the shape Berth generates.
    public init?(rawValue: String) {
        guard isHexID(rawValue, prefix: "vol-", digits: 17) || isHexID(rawValue, prefix: "fs-", digits: 17) else { return nil }
        self.rawValue = rawValue
    }

    /// Reads an id someone typed; refuses anything else with `InvalidVolumeID.Malformed`.
    public init(parsing text: String) throws(StateError) {
        guard let id = VolumeID(rawValue: text) else { throw .malformedVolumeID(text) }
        self = id
    }

    /// A fresh id for a volume of `type`.
    static func generate(for type: ServiceID) -> VolumeID {
        // Both shapes are valid by construction.
        VolumeID(uncheckedRawValue: randomHexID(prefix: type == .ebs ? "vol-" : "fs-", digits: 17))
    }

    private init(uncheckedRawValue: String) { rawValue = uncheckedRawValue }

    /// An EFS or FSx file system rather than an EBS volume: the services name their errors differently.
    public var isFileSystem: Bool { rawValue.hasPrefix("fs-") }

    public var description: String { rawValue }
    public static func < (lhs: VolumeID, rhs: VolumeID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A snapshot's id: `snap-` and 17 hex digits, as EC2 writes them (AWS docs:
/// AWSEC2/latest/APIReference/API_Snapshot.html).
public struct SnapshotID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard isHexID(rawValue, prefix: "snap-", digits: 17) else { return nil }
        self.rawValue = rawValue
    }

    /// Reads an id someone typed; refuses anything else with `InvalidSnapshotID.Malformed`.
    public init(parsing text: String) throws(StateError) {
        guard let id = SnapshotID(rawValue: text) else { throw .malformedSnapshotID(text) }
        self = id
    }

    static func generate() -> SnapshotID { SnapshotID(uncheckedRawValue: randomHexID(prefix: "snap-", digits: 17)) }
    private init(uncheckedRawValue: String) { rawValue = uncheckedRawValue }

    public var description: String { rawValue }
    public static func < (lhs: SnapshotID, rhs: SnapshotID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One mount's id: `att-` and 17 hex digits. AWS has no id for an ECS task's use of a volume; Berth needs
/// one so that `berth unmount` and the reaper can name exactly one mount.
public struct AttachmentID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard isHexID(rawValue, prefix: "att-", digits: 17) else { return nil }
        self.rawValue = rawValue
    }

    public init(parsing text: String) throws(StateError) {
        guard let id = AttachmentID(rawValue: text) else { throw .malformedAttachmentID(text) }
        self = id
    }

    static func generate() -> AttachmentID { AttachmentID(uncheckedRawValue: randomHexID(prefix: "att-", digits: 17)) }
    private init(uncheckedRawValue: String) { rawValue = uncheckedRawValue }

    public var description: String { rawValue }
    public static func < (lhs: AttachmentID, rhs: AttachmentID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A task id for mounts that name none: `t-` and 8 hex digits, short enough to read in messages.
func generateTaskID() -> String { randomHexID(prefix: "t-", digits: 8) }
