import StorageCatalog

/// The workload-profile format as data: every section and field, its kind, whether it is required, its
/// default and what it means. `ProfileReader` takes its field names and ranges from here, and
/// docs/profile.schema.json and docs/PROFILE.md are generated from it, so the three cannot drift apart.
public struct ProfileField: Sendable {
    public enum Kind: Sendable {
        /// Exactly this text.
        case constant(String)
        /// Free text.
        case text
        /// The profile's name: 1 to 63 characters from a-z, 0-9 and -.
        case name
        /// One of these words.
        case word([String])
        /// A list of these words (a single word reads as a list of one).
        case words([String])
        case integer(ClosedRange<Int>)
        case boolean
        case section([ProfileField])
    }

    public let name: String
    public let kind: Kind
    public let required: Bool
    /// The default, as the profile would spell it; nil when there is none.
    public let defaultValue: String?
    public let meaning: String

    init(_ name: String, _ kind: Kind, required: Bool = false, default defaultValue: String? = nil, _ meaning: String) {
        self.name = name
        self.kind = kind
        self.required = required
        self.defaultValue = defaultValue
        self.meaning = meaning
    }

    public var fields: [ProfileField] {
        if case .section(let fields) = kind { return fields }
        return []
    }
}

public enum ProfileModel {
    static func words<T: CaseIterable & RawRepresentable>(_: T.Type) -> [String] where T.RawValue == String {
        T.allCases.map(\.rawValue)
    }

    public static let sizeRange = 1...100_000_000
    public static let throughputRange = 1...100_000_000
    public static let iopsRange = 1...1_000_000_000
    public static let tasksRange = 1...10_000

    /// The top-level fields, in the contract's order.
    public static let fields: [ProfileField] = [
        ProfileField("apiVersion", .constant(WorkloadProfile.apiVersion), required: true, "the format version"),
        ProfileField("kind", .constant(WorkloadProfile.kind), required: true, "what the document is"),
        ProfileField("name", .name, required: true, "the component's name: 1 to 63 characters from a-z, 0-9 and -"),
        ProfileField("description", .text, "free text"),
        ProfileField("platform", .section([
            ProfileField("os", .word(words(OperatingSystem.self)), required: true, "the containers' operating system"),
            ProfileField("launchType", .word(words(LaunchType.self)), required: true, "where the tasks run"),
            ProfileField("architecture", .word(words(Architecture.self)), default: "x86_64", "CPU architecture"),
            ProfileField("runtime", .word(words(Runtime.self)), default: "dotnet",
                         ".NET (6 or later) or .NET Framework (needs windows)"),
        ]), required: true, "where the tasks run"),
        ProfileField("access", .section([
            ProfileField("sharing", .word(words(Sharing.self)), required: true,
                         "exclusive: one task at a time reads and writes; shared: several tasks read and write at once; "
                         + "read-only-shared: several tasks read, nobody writes at run time"),
            ProfileField("tasks", .integer(tasksRange), default: "1", "how many tasks mount it at the same time"),
            ProfileField("locking", .boolean, default: "false", "the tasks coordinate through file locks"),
        ]), required: true, "how the tasks use the data"),
        ProfileField("availability", .section([
            ProfileField("multiAZ", .boolean, default: "false",
                         "tasks run in several AZs and the data must survive the loss of one"),
        ]), "what the data must survive"),
        ProfileField("performance", .section([
            ProfileField("latency", .word(words(LatencyClass.self)), default: "standard", "the latency the application needs"),
            ProfileField("ioPattern", .word(words(IOPattern.self)), default: "mixed", "the shape of its I/O"),
            ProfileField("throughputMiBps", .integer(throughputRange), "sustained throughput needed, MiB/s"),
            ProfileField("iops", .integer(iopsRange), "sustained I/O operations per second needed"),
        ]), "what the storage must deliver"),
        ProfileField("capacity", .section([
            ProfileField("sizeGiB", .integer(sizeRange), "expected size, GiB"),
            ProfileField("growth", .word(words(Growth.self)), default: "fixed", "whether the data grows and shrinks unattended"),
            ProfileField("accessFrequency", .word(words(AccessFrequency.self)), default: "frequent", "how often the data is read"),
        ]), "how much data"),
        ProfileField("protocols", .words(words(ProtocolNeed.self)), "what the application itself must speak"),
        ProfileField("features", .words(words(Feature.self)), "features the storage must offer"),
        ProfileField("migration", .word(words(Migration.self)), default: "none", "where the data comes from"),
        ProfileField("cost", .word(words(CostPriority.self)), default: "balanced", "what matters most"),
    ]

    /// The field names of a section (`""` for the top level).
    public static func names(_ section: String) -> [String] {
        guard !section.isEmpty else { return fields.map(\.name) }
        return fields.first { $0.name == section }?.fields.map(\.name) ?? []
    }

    /// A field by its path (`access.tasks`).
    public static func field(_ path: String) -> ProfileField? {
        var current = fields
        var found: ProfileField?
        for part in path.split(separator: ".") {
            found = current.first { $0.name == part }
            current = found?.fields ?? []
        }
        return found
    }

    /// The range of an integer field; the reader's check.
    static func range(_ path: String) -> ClosedRange<Int> {
        if case .integer(let range)? = field(path)?.kind { return range }
        return 1...Int.max
    }
}
