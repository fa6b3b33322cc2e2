/// One place a rule found something, and what to say about it.
public struct LintHit: Sendable {
    public var at: LintLocation
    public var message: String
    public init(_ at: LintLocation, _ message: String) {
        self.at = at
        self.message = message
    }
}

/// A row of the lint rule table: a stable id, a level, what it catches, where AWS says so, the check
/// itself, and the smallest inputs that do and do not trigger it (tests run them; docs/LINT.md shows
/// them). Adding a rule is adding a row to `LintRules.all`.
public struct LintRule: Sendable {
    /// `BL` and three digits; stable once published.
    public let id: String
    public let level: LintLevel
    /// A short name (SARIF `name`): lower-case words joined by hyphens.
    public let name: String
    /// One line: what it catches.
    public let title: String
    /// Why it matters and what would be accepted instead.
    public let help: String
    /// The AWS documentation page that states the fact.
    public let source: String
    /// Task definitions (JSON) or templates (YAML, JSON) that trigger the rule.
    public let triggering: [String]
    /// Inputs close to the triggering ones that do not.
    public let nonTriggering: [String]
    let check: @Sendable (LintSubject) -> [LintHit]

    init(
        _ id: String, _ level: LintLevel, name: String, title: String, help: String, source: String,
        triggering: [String], nonTriggering: [String], check: @escaping @Sendable (LintSubject) -> [LintHit]
    ) {
        self.id = id
        self.level = level
        self.name = name
        self.title = title
        self.help = help
        self.source = source
        self.triggering = triggering
        self.nonTriggering = nonTriggering
        self.check = check
    }

    public func findings(in subject: LintSubject) -> [LintFinding] {
        check(subject).map {
            LintFinding(ruleID: id, level: level, message: $0.message, file: subject.document.file, at: $0.at, source: source)
        }
    }
}
