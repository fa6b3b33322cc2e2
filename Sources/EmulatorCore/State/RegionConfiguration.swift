/// The emulated region and its Availability Zones (emulator.md §Model: "default `us-east-1` with
/// `us-east-1a`, `us-east-1b`, `us-east-1c`; another set can be configured"). Stored in the state
/// database on first use, so every later process sees the same zones whatever its environment says.
public struct RegionConfiguration: Sendable, Hashable, Encodable, CustomStringConvertible {
    public let name: String
    /// In the order `berth az list` shows them; a multi-AZ deployment's standby is the next one.
    public let zones: [String]

    public static let `default` = RegionConfiguration(
        uncheckedName: "us-east-1", zones: ["us-east-1a", "us-east-1b", "us-east-1c"])

    /// A region name like `eu-west-1` and zones like `eu-west-1a` (each starting with the region's name,
    /// as every AWS AZ name does: AWS docs: global-infrastructure/latest/regions/aws-availability-zones.html).
    /// A zone given as a bare suffix (`a`) is expanded to `<region>a`.
    public init(name: String, zones: [String]) throws(StateError) {
        guard Self.isValidName(name, maxLength: 32) else {
            throw .invalidParameter("\"\(name)\" is not a region name: use lowercase letters, digits and '-', like us-east-1")
        }
        var expanded: [String] = []
        for zone in zones {
            let isSuffix = !zone.isEmpty && zone.utf8.count <= 4 && !zone.contains("-")
            let full = zone.hasPrefix(name) ? zone : isSuffix ? name + zone : ""
            guard full.count > name.count, Self.isValidName(full, maxLength: 64) else {
                throw .invalidParameter("\"\(zone)\" is not an Availability Zone of \(name): use a suffix like a or a name like \(name)a")
            }
            guard !expanded.contains(full) else { throw .invalidParameter("Availability Zone \(full) is listed twice") }
            expanded.append(full)
        }
        guard !expanded.isEmpty else { throw .invalidParameter("region \(name) needs at least one Availability Zone") }
        self.init(uncheckedName: name, zones: expanded)
    }

    private init(uncheckedName: String, zones: [String]) {
        self.name = uncheckedName
        self.zones = zones
    }

    /// `BERTH_REGION` (default `us-east-1`) and `BERTH_AZS` (comma-separated suffixes or names, default
    /// `a,b,c`); nil when neither is set, so the stored or default region applies.
    public static func fromEnvironment(_ environment: [String: String]) throws(StateError) -> RegionConfiguration? {
        let region = environment["BERTH_REGION"].flatMap { $0.isEmpty ? nil : $0 }
        let zones = environment["BERTH_AZS"].flatMap { $0.isEmpty ? nil : $0 }
        if region == nil && zones == nil { return nil }
        let zoneList = (zones ?? "a,b,c").split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        return try RegionConfiguration(name: region ?? Self.default.name, zones: zoneList)
    }

    public var description: String { "\(name) (\(zones.joined(separator: ", ")))" }

    private static func isValidName(_ text: String, maxLength: Int) -> Bool {
        guard let first = text.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first),
              text.utf8.count <= maxLength, text.utf8.last != UInt8(ascii: "-") else { return false }
        return text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-")
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
