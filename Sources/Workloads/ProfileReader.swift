import StorageCatalog
import Yams

/// Walks a composed YAML node tree against the contract, collecting every problem instead of stopping
/// at the first, and building the profile with the contract's defaults.
struct ProfileReader {
    let file: String
    private(set) var diagnostics: [ProfileDiagnostic] = []
    /// Field paths reached through an alias (`*name`) or a merge key, with where that alias is used: a
    /// problem inside is reported there, not at the anchor.
    private var aliasUses: [(path: String, mark: Mark)] = []

    init(file: String) { self.file = file }

    mutating func read(_ root: Node) -> WorkloadProfile? {
        guard let top = mapping(root, path: "", fields: ProfileModel.names("")) else { return nil }

        let apiVersion = string(top["apiVersion"], path: "apiVersion", required: true, parent: root)
        if let apiVersion, apiVersion.value != WorkloadProfile.apiVersion {
            report(apiVersion.node, "apiVersion", "unsupported apiVersion \"\(apiVersion.value)\"",
                   expected: "\"\(WorkloadProfile.apiVersion)\", the one this version of Berth supports")
        }
        let kind = string(top["kind"], path: "kind", required: true, parent: root)
        if let kind, kind.value != WorkloadProfile.kind {
            report(kind.node, "kind", "unknown kind \"\(kind.value)\"", expected: "\"\(WorkloadProfile.kind)\"")
        }
        let name = string(top["name"], path: "name", required: true, parent: root)
        if let name, !Self.isValidName(name.value) {
            report(name.node, "name", "\"\(name.value)\" is not a valid name",
                   expected: "1 to 63 characters from a-z, 0-9 and -")
        }
        let description = string(top["description"], path: "description", required: false, parent: root)?.value

        let platform = readPlatform(top["platform"], parent: root)
        let access = readAccess(top["access"], parent: root)
        let availability = readAvailability(top["availability"])
        let performance = readPerformance(top["performance"])
        let capacity = readCapacity(top["capacity"])
        let protocols: [ProtocolNeed] = list(top["protocols"], path: "protocols")
        let features: [Feature] = list(top["features"], path: "features")
        let migration: Migration = choice(top["migration"], path: "migration") ?? .none
        let cost: CostPriority = choice(top["cost"], path: "cost") ?? .balanced

        guard let name, let platform, let access, let availability, let performance, let capacity else { return nil }
        return WorkloadProfile(
            name: name.value, description: description, platform: platform, access: access,
            availability: availability, performance: performance, capacity: capacity,
            protocols: protocols, features: features, migration: migration, cost: cost)
    }

    static func isValidName(_ name: String) -> Bool {
        (1...63).contains(name.count) && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
    }

    // MARK: Sections

    private mutating func readPlatform(_ node: Node?, parent: Node) -> WorkloadProfile.PlatformNeeds? {
        guard let node else {
            report(parent, "platform", "required section is missing", expected: "platform with os and launchType")
            return nil
        }
        guard let fields = mapping(node, path: "platform", fields: ProfileModel.names("platform")) else { return nil }
        let os: OperatingSystem? = choice(fields["os"], path: "platform.os", requiredIn: node)
        let launchType: LaunchType? = choice(fields["launchType"], path: "platform.launchType", requiredIn: node)
        let architecture: Architecture = choice(fields["architecture"], path: "platform.architecture") ?? .x86_64
        let runtime: Runtime = choice(fields["runtime"], path: "platform.runtime") ?? .dotnet
        if runtime == .dotnetFramework, os == .linux, let at = fields["runtime"] {
            // .NET Framework applications need Windows Server containers (course text §Introduction to AWS Fargate).
            report(at, "platform.runtime",
                   ".NET Framework needs Windows containers, but platform.os is linux (\(Catalog.seedFargate))",
                   expected: "os: windows for dotnet-framework, or runtime: dotnet (.NET 6 or later) for Linux")
        }
        guard let os, let launchType else { return nil }
        return .init(os: os, launchType: launchType, architecture: architecture, runtime: runtime)
    }

    private mutating func readAccess(_ node: Node?, parent: Node) -> WorkloadProfile.Access? {
        guard let node else {
            report(parent, "access", "required section is missing", expected: "access with sharing")
            return nil
        }
        guard let fields = mapping(node, path: "access", fields: ProfileModel.names("access")) else { return nil }
        let sharing: Sharing? = choice(fields["sharing"], path: "access.sharing", requiredIn: node)
        let tasks = integer(fields["tasks"], path: "access.tasks", range: ProfileModel.tasksRange) ?? 1
        let locking = boolean(fields["locking"], path: "access.locking") ?? false
        if sharing == .exclusive, tasks > 1, let at = fields["tasks"] {
            report(at, "access.tasks", "\(tasks) tasks cannot have exclusive access; exclusive means one task at a time",
                   expected: "tasks: 1 with sharing: exclusive, or sharing: shared / read-only-shared for several tasks")
        }
        guard let sharing else { return nil }
        return .init(sharing: sharing, tasks: tasks, locking: locking)
    }

    private mutating func readAvailability(_ node: Node?) -> WorkloadProfile.Availability? {
        guard let node else { return .init() }
        guard let fields = mapping(node, path: "availability", fields: ProfileModel.names("availability")) else { return nil }
        return .init(multiAZ: boolean(fields["multiAZ"], path: "availability.multiAZ") ?? false)
    }

    private mutating func readPerformance(_ node: Node?) -> WorkloadProfile.Performance? {
        guard let node else { return .init() }
        guard let fields = mapping(node, path: "performance", fields: ProfileModel.names("performance")) else {
            return nil
        }
        return .init(
            latency: choice(fields["latency"], path: "performance.latency") ?? .standard,
            ioPattern: choice(fields["ioPattern"], path: "performance.ioPattern") ?? .mixed,
            throughputMiBps: integer(fields["throughputMiBps"], path: "performance.throughputMiBps", range: ProfileModel.throughputRange),
            iops: integer(fields["iops"], path: "performance.iops", range: ProfileModel.iopsRange))
    }

    private mutating func readCapacity(_ node: Node?) -> WorkloadProfile.Capacity? {
        guard let node else { return .init() }
        guard let fields = mapping(node, path: "capacity", fields: ProfileModel.names("capacity")) else { return nil }
        return .init(
            sizeGiB: integer(fields["sizeGiB"], path: "capacity.sizeGiB", range: ProfileModel.sizeRange),
            growth: choice(fields["growth"], path: "capacity.growth") ?? .fixed,
            accessFrequency: choice(fields["accessFrequency"], path: "capacity.accessFrequency") ?? .frequent)
    }

    // MARK: Values

    /// A mapping's fields by key; unknown keys are reported with a "did you mean".
    private mutating func mapping(_ node: Node, path: String, fields known: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            report(node, path, "expected a mapping of fields, found \(describe(node))",
                   expected: "fields \(known.joined(separator: ", "))")
            return nil
        }
        var result: [String: Node] = [:]
        // YAML merge keys (`<<: *defaults`, or a list of them): their fields apply unless the mapping
        // sets them itself (YAML 1.1 merge key type).
        var merged: [(Node, Node)] = []
        var own: [(Node, Node)] = []
        for (keyNode, value) in mapping {
            if case .scalar(let key) = keyNode, key.string == "<<" {
                let sources: [Node] = if case .sequence(let list) = value { Array(list) } else { [value] }
                for source in sources {
                    guard case .mapping(let inner) = source else {
                        report(source, path.isEmpty ? "<<" : "\(path).<<", "a merge key takes a mapping or a list of mappings, found \(describe(source))")
                        continue
                    }
                    merged += inner.map { ($0.key, $0.value) }
                    if let use = keyNode.mark {
                        for innerKey in inner.keys {
                            guard case .scalar(let k) = innerKey else { continue }
                            aliasUses.append((path.isEmpty ? k.string : "\(path).\(k.string)", use))
                        }
                    }
                }
            } else {
                own.append((keyNode, value))
            }
        }
        let ownKeys = Set(own.compactMap { if case .scalar(let k) = $0.0 { k.string } else { nil } })
        let entries = own + merged.filter { if case .scalar(let k) = $0.0 { !ownKeys.contains(k.string) } else { true } }
        for (keyNode, value) in entries {
            guard case .scalar(let key) = keyNode else {
                report(keyNode, path, "a field name must be plain text", expected: known.joined(separator: ", "))
                continue
            }
            let name = Self.excerpt(key.string)
            let fieldPath = path.isEmpty ? name : "\(path).\(name)"
            // A value that starts before its own key was defined earlier: it is an alias to an anchor.
            if let keyMark = keyNode.mark, let valueMark = value.mark,
               (valueMark.line, valueMark.column) < (keyMark.line, keyMark.column) {
                aliasUses.append((fieldPath, keyMark))
            }
            // Top-level `x-` fields hold anchors and notes for the profile's author; Berth ignores them.
            if path.isEmpty && key.string.hasPrefix("x-") { continue }
            if known.contains(key.string) {
                result[key.string] = value
            } else if let suggestion = Suggestion.closest(to: key.string, in: known) {
                report(keyNode, fieldPath, "unknown field; did you mean \"\(suggestion)\"?",
                       expected: "one of \(known.joined(separator: ", "))")
            } else {
                report(keyNode, fieldPath, "unknown field", expected: "one of \(known.joined(separator: ", "))")
            }
        }
        return result
    }

    private mutating func string(_ node: Node?, path: String, required: Bool, parent: Node) -> (value: String, node: Node)? {
        guard let node else {
            if required { report(parent, path, "required field is missing") }
            return nil
        }
        guard case .scalar(let scalar) = node, !isNull(scalar) else {
            report(node, path, "expected text, found \(describe(node))")
            return nil
        }
        return (scalar.string, node)
    }

    /// One of an enumeration's words, spelt exactly.
    private mutating func choice<Value: RawRepresentable & CaseIterable>(
        _ node: Node?, path: String, requiredIn parent: Node? = nil
    ) -> Value? where Value.RawValue == String {
        let accepted = Value.allCases.map(\.rawValue)
        let expected = "one of \(accepted.joined(separator: ", "))"
        guard let node else {
            if let parent { report(parent, path, "required field is missing", expected: expected) }
            return nil
        }
        guard case .scalar(let scalar) = node, !isNull(scalar) else {
            report(node, path, "expected a word, found \(describe(node))", expected: expected)
            return nil
        }
        if let value = Value(rawValue: scalar.string) { return value }
        let hint = Suggestion.closest(to: scalar.string, in: accepted).map { "; did you mean \"\($0)\"?" } ?? ""
        report(node, path, "\"\(Self.excerpt(scalar.string))\" is not accepted\(hint)", expected: expected)
        return nil
    }

    private mutating func integer(_ node: Node?, path: String, range: ClosedRange<Int>) -> Int? {
        guard let node else { return nil }
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            report(node, path, "expected a whole number, found \(describe(node))", expected: expected)
            return nil
        }
        guard range.contains(value) else {
            report(node, path, "\(value) is out of range", expected: expected)
            return nil
        }
        return value
    }

    private mutating func boolean(_ node: Node?, path: String) -> Bool? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain else {
            report(node, path, "expected true or false, found \(describe(node))", expected: "true or false")
            return nil
        }
        switch scalar.string {
        case "true": return true
        case "false": return false
        default:
            report(node, path, "expected true or false, found \"\(Self.excerpt(scalar.string))\"", expected: "true or false")
            return nil
        }
    }

    /// A list of words; `[a, b]`, a block list, or a single word all read as a list.
    private mutating func list<Value: RawRepresentable & CaseIterable>(_ node: Node?, path: String) -> [Value]
    where Value.RawValue == String {
        guard let node else { return [] }
        let items: [(Node, String)]
        switch node {
        case .sequence(let sequence):
            items = sequence.enumerated().map { ($1, "\(path)[\($0)]") }
        case .scalar(let scalar) where isNull(scalar):
            return []
        default:
            report(node, path, "expected a list, found \(describe(node))",
                   expected: "a list of \(Value.allCases.map(\.rawValue).joined(separator: ", "))")
            return []
        }
        var values: [Value] = []
        for (item, itemPath) in items {
            if let value: Value = choice(item, path: itemPath), !values.contains(where: { $0.rawValue == value.rawValue }) {
                values.append(value)
            }
        }
        return values
    }

    // MARK: Reporting

    private mutating func report(_ node: Node, _ path: String, _ message: String, expected: String? = nil) {
        let use = aliasUses.filter { path == $0.path || path.hasPrefix($0.path + ".") || path.hasPrefix($0.path + "[") }
            .max { $0.path.count < $1.path.count }
        let mark = use?.mark ?? node.mark
        diagnostics.append(ProfileDiagnostic(
            file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, path: path, message: message, expected: expected))
    }

    private func isNull(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let scalar) where isNull(scalar): "nothing (null)"
        case .scalar(let scalar): "\"\(Self.excerpt(scalar.string))\""
        case .alias: "an alias"
        }
    }

    /// Text from the file as a message quotes it: at most 60 characters, so that a wrong value (a
    /// pasted key, a whole document on one line) does not flood the terminal.
    static func excerpt(_ text: String) -> String {
        let head = text.prefix(61)
        return head.count <= 60 ? String(head) : head.prefix(59) + "…"
    }
}

/// "Did you mean": a case-insensitive match first, then the nearest name within a small edit distance.
enum Suggestion {
    static func closest(to word: String, in candidates: [String]) -> String? {
        // Nothing this long is a misspelling of a field or a word, and the distance costs its length.
        guard word.utf8.count <= 64 else { return nil }
        let lowered = word.lowercased()
        if let exact = candidates.first(where: { $0.lowercased() == lowered }) { return exact }
        let scored = candidates.map { ($0, distance(lowered, $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let limit = max(2, best.0.count / 3)
        return best.1 <= limit ? best.0 : nil
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
