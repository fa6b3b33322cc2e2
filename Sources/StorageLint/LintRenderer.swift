import Foundation
public import StoragePlanner
public import StorageCatalog

public enum LintFormat: String, CaseIterable, Sendable {
    case text, json, sarif
}

public enum RuleListFormat: String, CaseIterable, Sendable {
    case text, json, markdown
}

/// Findings as compiler-style lines, as JSON, or as SARIF 2.1.0 for GitHub code scanning.
public enum LintRenderer {
    public static func render(_ report: LintReport, as format: LintFormat, rules: [LintRule] = LintRules.all,
                              workingDirectory: String? = nil, style: OutputStyle = .unicodePlain) -> String {
        let workingDirectory = workingDirectory ?? FileManager.default.currentDirectoryPath
        switch format {
        case .text: return text(report, style: style)
        case .json: return json(report).rendered() + "\n"
        case .sarif: return sarif(report, rules: rules, workingDirectory: workingDirectory).rendered() + "\n"
        }
    }

    /// `file:line:col: level BLxxx: message (source)`, one line each; on a terminal the level is coloured as
    /// compilers colour it (`style`; NO_COLOR and pipes get none).
    public static func text(_ report: LintReport, style: OutputStyle = .unicodePlain) -> String {
        report.findings.map { line($0, style: style) + "\n" }.joined()
    }

    public static func line(_ finding: LintFinding) -> String { line(finding, style: .unicodePlain) }

    public static func line(_ finding: LintFinding, style: OutputStyle) -> String {
        "\(finding.file):\(finding.at.line):\(finding.at.column): \(paint(finding.level, style)) \(finding.ruleID): \(finding.message) (\(finding.source))"
    }

    static func paint(_ level: LintLevel, _ style: OutputStyle) -> String {
        switch level {
        case .error: style.paint(level.rawValue, .red)
        case .warning: style.paint(level.rawValue, .yellow)
        case .note: style.paint(level.rawValue, .dim)
        }
    }

    /// What goes to stderr in text mode: skipped files, unreadable files, and a count.
    public static func diagnostics(_ report: LintReport) -> [String] {
        report.skipped.map { "\($0.file): note: skipped: \($0.reason)" } + report.errors.map(\.description)
    }

    public static func summary(_ report: LintReport, style: OutputStyle = .unicodePlain) -> String {
        func count(_ level: LintLevel) -> Int { report.findings.filter { $0.level == level }.count }
        func part(_ level: LintLevel) -> String {
            let n = count(level)
            let text = counted(n, level.rawValue)
            return n == 0 ? text : style.paint(text, level == .error ? .red : level == .warning ? .yellow : .dim)
        }
        return "berth lint: \(part(.error)), \(part(.warning)), \(part(.note)) in \(counted(report.documents, "file"))"
            + (report.skipped.isEmpty ? "" : "; \(report.skipped.count) skipped")
            + (report.errors.isEmpty ? "" : "; \(report.errors.count) unreadable")
    }

    // MARK: JSON

    public static func json(_ report: LintReport) -> JSONValue {
        .object([
            ("findings", .array(report.findings.map { finding in
                .object([
                    ("ruleId", .string(finding.ruleID)), ("level", .string(finding.level.rawValue)),
                    ("file", .string(finding.file)), ("line", .int(finding.at.line)), ("column", .int(finding.at.column)),
                    ("message", .string(finding.message)), ("source", .string(finding.source)),
                ])
            })),
            ("skipped", .array(report.skipped.map { .object([("file", .string($0.file)), ("reason", .string($0.reason))]) })),
            ("errors", .array(report.errors.map { error in
                .object([
                    ("file", .string(error.file)), ("line", .int(error.at.line)), ("column", .int(error.at.column)),
                    ("message", .string(error.message)),
                ])
            })),
        ])
    }

    // MARK: SARIF 2.1.0

    public static func sarif(_ report: LintReport, rules: [LintRule] = LintRules.all, workingDirectory: String) -> JSONValue {
        let index = Dictionary(uniqueKeysWithValues: rules.enumerated().map { ($1.id, $0) })
        let results: [JSONValue] = report.findings.map { finding in
            let uri = artifactURI(finding.file, workingDirectory: workingDirectory)
            var result: [(String, JSONValue)] = [("ruleId", .string(finding.ruleID))]
            if let ruleIndex = index[finding.ruleID] { result.append(("ruleIndex", .int(ruleIndex))) }
            result += [
                ("level", .string(finding.level.rawValue)),
                ("message", .object([("text", .string(finding.message))])),
                ("locations", .array([location(uri: uri, at: finding.at)])),
                ("partialFingerprints", .object([
                    ("berthFindingHash/v1", .string(fingerprint("\(finding.ruleID)\u{0}\(uri)\u{0}\(finding.message)"))),
                ])),
            ]
            return .object(result)
        }
        let notifications: [JSONValue] = report.skipped.map { skip in
            .object([
                ("level", "note"), ("message", .object([("text", .string("skipped: \(skip.reason)"))])),
                ("locations", .array([location(uri: artifactURI(skip.file, workingDirectory: workingDirectory), at: .start)])),
            ])
        } + report.errors.map { error in
            .object([
                ("level", "error"), ("message", .object([("text", .string(error.message))])),
                ("locations", .array([location(uri: artifactURI(error.file, workingDirectory: workingDirectory), at: error.at)])),
            ])
        }
        let driver: JSONValue = .object([
            ("name", "berth"),
            ("rules", .array(rules.map(sarifRule))),
        ])
        return .object([
            ("$schema", "https://json.schemastore.org/sarif-2.1.0.json"),
            ("version", "2.1.0"),
            ("runs", .array([.object([
                ("tool", .object([("driver", driver)])),
                ("invocations", .array([.object([
                    ("executionSuccessful", .bool(report.errors.isEmpty)),
                    ("toolExecutionNotifications", .array(notifications)),
                ])])),
                ("results", .array(results)),
            ])])),
        ])
    }

    static func sarifRule(_ rule: LintRule) -> JSONValue {
        .object([
            ("id", .string(rule.id)),
            ("name", .string(rule.name)),
            ("shortDescription", .object([("text", .string(rule.title))])),
            ("fullDescription", .object([("text", .string(rule.help))])),
            ("helpUri", .string(rule.source)),
            ("help", .object([
                ("text", .string("\(rule.help) Source: \(rule.source)")),
                ("markdown", .string("\(rule.help)\n\nSource: [\(rule.source)](\(rule.source))")),
            ])),
            ("defaultConfiguration", .object([("level", .string(rule.level.rawValue))])),
        ])
    }

    static func location(uri: String, at: LintLocation) -> JSONValue {
        .object([("physicalLocation", .object([
            ("artifactLocation", .object([("uri", .string(uri))])),
            ("region", .object([("startLine", .int(at.line)), ("startColumn", .int(at.column))])),
        ]))])
    }

    /// The file relative to the working directory (what code scanning matches against the checkout), or
    /// a `file://` URI when it lies outside it.
    public static func artifactURI(_ file: String, workingDirectory: String) -> String {
        let cwd = URL(fileURLWithPath: workingDirectory).standardizedFileURL.path
        let absolute = file.hasPrefix("/") ? file : (cwd == "/" ? "/" + file : cwd + "/" + file)
        let standardized = URL(fileURLWithPath: absolute).standardizedFileURL.path
        let prefix = cwd.hasSuffix("/") ? cwd : cwd + "/"
        if standardized.hasPrefix(prefix) {
            return encode(String(standardized.dropFirst(prefix.count)))
        }
        return "file://" + encode(standardized)
    }

    static func encode(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: ";?#")
        return path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
    }

    /// FNV-1a, 64 bits, as hex: stable across runs and machines (Swift's Hasher is seeded per process).
    static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    // MARK: The rule list (`berth lint --list-rules`, docs/LINT.md)

    public static func renderRules(_ rules: [LintRule] = LintRules.all, as format: RuleListFormat) -> String {
        switch format {
        case .text:
            return rules.map { "\($0.id) \($0.level.rawValue) \($0.name)\n  \($0.title)\n  \($0.help)\n  source: \($0.source)\n" }
                .joined(separator: "\n")
        case .json:
            return JSONValue.array(rules.map { rule in
                .object([
                    ("id", .string(rule.id)), ("level", .string(rule.level.rawValue)), ("name", .string(rule.name)),
                    ("title", .string(rule.title)), ("help", .string(rule.help)), ("source", .string(rule.source)),
                    ("triggering", .array(rule.triggering.map { .string($0) })),
                    ("nonTriggering", .array(rule.nonTriggering.map { .string($0) })),
                ])
            }).rendered() + "\n"
        case .markdown:
            return markdown(rules)
        }
    }

    static func markdown(_ rules: [LintRule]) -> String {
        var out = """
            # `berth lint` rules

            Generated by `berth lint --list-rules --format markdown`; a test fails when this file and the command
            differ, and every example below is a test (the triggering ones must raise the rule, the others must not).
            Levels: `error` — ECS or the service refuses it or it cannot work; `warning` — it works but breaks AWS
            guidance or loses data under a failure; `note` — advice. `berth lint` exits 2 when a finding reaches
            `--severity` (default `error`), 1 when a file cannot be read or parsed, 64 for bad arguments.

            | id | level | what it catches | source |
            |---|---|---|---|

            """
        for rule in rules {
            out += "| [\(rule.id)](#\(rule.id.lowercased())) | \(rule.level.rawValue) | \(rule.title) | [AWS docs](\(rule.source)) |\n"
        }
        for rule in rules {
            out += "\n## \(rule.id)\n\n**\(rule.title)** (`\(rule.name)`, \(rule.level.rawValue))\n\n\(rule.help)\n\nSource: \(rule.source)\n"
            for (title, examples) in [("Triggers", rule.triggering), ("Does not trigger", rule.nonTriggering)] {
                for example in examples {
                    let language = example.first == "{" ? "json" : "yaml"
                    out += "\n\(title):\n\n```\(language)\n\(example)\n```\n"
                }
            }
        }
        return out
    }
}
