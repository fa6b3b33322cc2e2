public import StorageCatalog
public import Workloads

/// What a rule does to a service's standing.
public enum Effect: Hashable, Sendable {
    case exclude
    case favor(Int)
    case disfavor(Int)

    public var name: String {
        switch self {
        case .exclude: "exclude"
        case .favor: "favor"
        case .disfavor: "disfavor"
        }
    }

    /// The score change; zero for an exclusion, which sets the score to zero instead.
    public var weight: Int {
        switch self {
        case .exclude: 0
        case .favor(let w): w
        case .disfavor(let w): -w
        }
    }

    public var summary: String {
        switch self {
        case .exclude: "exclude"
        case .favor(let w): "favor +\(w)"
        case .disfavor(let w): "disfavor -\(w)"
        }
    }
}

/// One rule's verdict on one service, with the words and the source that explain it.
public struct Reason: Hashable, Sendable {
    public var rule: String
    public var service: ServiceID
    public var effect: Effect
    public var message: String
    public var source: Source
}

/// A row of the rules table: what it looks at, when it applies, what it does to which service, why,
/// and where that comes from. Adding a rule is adding a row to `RuleTable.rules`.
public struct Rule: Sendable {
    public let id: String
    /// The profile fields it reads, e.g. `access.sharing`.
    public let looksAt: String
    /// When it applies, in words (for `berth rules` and docs/RULES.md).
    public let condition: String
    /// Its effect on each service, in words.
    public let effects: String
    public let source: Source
    let evaluate: @Sendable (WorkloadProfile) -> [Reason]

    /// A rule with fixed effects on named services.
    public init(
        _ id: String, looksAt: String, when condition: String, effects: [ServiceID: Effect], source: Source,
        applies: @escaping @Sendable (WorkloadProfile) -> Bool,
        message: @escaping @Sendable (WorkloadProfile, ServiceID) -> String
    ) {
        self.id = id
        self.looksAt = looksAt
        self.condition = condition
        self.source = source
        let ordered = effects.sorted { $0.key < $1.key }
        self.effects = ordered.map { "\($0.key): \($0.value.summary)" }.joined(separator: ", ")
        self.evaluate = { profile in
            guard applies(profile) else { return [] }
            return ordered.map {
                Reason(rule: id, service: $0.key, effect: $0.value, message: message(profile, $0.key), source: source)
            }
        }
    }

    /// A rule that asks the catalogue about each service: the fact decides the effect and brings its source.
    public init(
        _ id: String, looksAt: String, when condition: String, effects: String, source: Source,
        perService: @escaping @Sendable (WorkloadProfile, ServiceFacts) -> (Effect, String, Source)?
    ) {
        self.id = id
        self.looksAt = looksAt
        self.condition = condition
        self.effects = effects
        self.source = source
        self.evaluate = { profile in
            Catalog.all.compactMap { facts in
                perService(profile, facts).map {
                    Reason(rule: id, service: facts.id, effect: $0.0, message: $0.1, source: $0.2)
                }
            }
        }
    }

    public func reasons(for profile: WorkloadProfile) -> [Reason] { evaluate(profile) }
}
