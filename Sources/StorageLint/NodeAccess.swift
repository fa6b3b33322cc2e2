import Yams

/// Reading composed YAML nodes the way both input forms need: keys compared without regard to case
/// (the ECS API spells them `efsVolumeConfiguration`, CloudFormation `EFSVolumeConfiguration`), values
/// that may be CloudFormation intrinsic functions (`!Ref X` or `{"Ref": "X"}`), and every value's place.
struct Fields {
    private let pairs: [(key: String, original: String, keyNode: Node, value: Node)]

    init?(_ node: Node?) {
        guard let node, case .mapping(let mapping) = node else { return nil }
        pairs = mapping.compactMap { key, value in
            guard case .scalar(let scalar) = key else { return nil }
            return (scalar.string.lowercased(), scalar.string, key, value)
        }
    }

    /// No fields at all (a task definition resource without Properties).
    static var empty: Fields { Fields(pairs: []) }
    private init(pairs: [(key: String, original: String, keyNode: Node, value: Node)]) { self.pairs = pairs }

    /// The value of `name` (any case) and where its key is.
    func entry(_ name: String) -> (at: LintLocation, value: Node)? {
        let lowered = name.lowercased()
        guard let pair = pairs.first(where: { $0.key == lowered }) else { return nil }
        return (NodeAccess.location(pair.keyNode), pair.value)
    }

    subscript(_ name: String) -> Node? { entry(name)?.value }

    func has(_ name: String) -> Bool { entry(name) != nil }

    /// A literal text value with its key's place; the value is nil when it is not literal text.
    func located(_ name: String) -> Located<String?>? {
        entry(name).map { Located(value: NodeAccess.literal($0.value), at: $0.at) }
    }

    /// Every key as the file writes it, with its value.
    var entries: [(key: String, value: Node)] { pairs.map { ($0.original, $0.value) } }
}

enum NodeAccess {
    static func location(_ node: Node) -> LintLocation {
        node.mark.map { LintLocation(line: $0.line, column: $0.column) } ?? .start
    }

    /// The tag written in the file (`!Ref`), or nil for an untagged value.
    static func explicitTag(_ node: Node) -> String? {
        let raw = node.tag.rawValue
        return raw.hasPrefix("!") && raw != "!" ? raw : nil
    }

    /// Literal text: a scalar without an intrinsic-function tag. Numbers and booleans come back as written.
    static func literal(_ node: Node?) -> String? {
        guard let node, case .scalar(let scalar) = node, explicitTag(node) == nil else { return nil }
        if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return nil }
        return scalar.string
    }

    /// Literal text or the template of an `!Sub` (what an image name or an environment value says even
    /// when it interpolates the account or the region).
    static func text(_ node: Node?) -> String? {
        guard let node else { return nil }
        if let literal = literal(node) { return literal }
        if explicitTag(node) == "!Sub" {
            if case .scalar(let scalar) = node { return scalar.string }
            if case .sequence(let items) = node { return items.first.flatMap(literal) }
        }
        if let fields = Fields(node), let sub = fields["Fn::Sub"] {
            if let text = literal(sub) { return text }
            if case .sequence(let items) = sub { return items.first.flatMap(literal) }
        }
        return nil
    }

    static func bool(_ node: Node?) -> Bool? {
        switch literal(node)?.lowercased() {
        case "true": true
        case "false": false
        default: nil
        }
    }

    static func int(_ node: Node?) -> Int? { literal(node).flatMap { Int($0) } }

    static func items(_ node: Node?) -> [Node]? {
        guard let node, case .sequence(let sequence) = node, explicitTag(node) == nil else { return nil }
        return Array(sequence)
    }

    /// The logical id a `!Ref`, `!GetAtt`, `{"Ref": …}` or `{"Fn::GetAtt": …}` names.
    static func reference(_ node: Node?) -> String? {
        guard let node else { return nil }
        switch (node, explicitTag(node)) {
        case (.scalar(let scalar), "!Ref"): return scalar.string
        case (.scalar(let scalar), "!GetAtt"): return scalar.string.split(separator: ".").first.map(String.init)
        case (.sequence(let items), "!GetAtt"): return items.first.flatMap(literal)
        default: break
        }
        guard let fields = Fields(node) else { return nil }
        if let ref = literal(fields["Ref"]) { return ref }
        if let getAtt = fields["Fn::GetAtt"] {
            if let text = literal(getAtt) { return text.split(separator: ".").first.map(String.init) }
            return items(getAtt)?.first.flatMap(literal)
        }
        return nil
    }
}
