import StorageCatalog
import Workloads

public enum ReportFormat: String, CaseIterable, Sendable {
    case text, json, markdown
}

/// Turns recommendations into the contract's JSON, a terminal report, or a pull-request comment.
public enum ReportRenderer {
    public static func render(_ recommendations: [Recommendation], as format: ReportFormat) -> String {
        switch format {
        case .json:
            // One profile: one object; several: an array (workload-profile.md; issue #2).
            let values = recommendations.map(json)
            return (values.count == 1 ? values[0] : .array(values)).rendered() + "\n"
        case .text: return recommendations.map(text).joined(separator: "\n")
        case .markdown: return recommendations.map(markdown).joined(separator: "\n---\n\n")
        }
    }

    // MARK: JSON

    public static func json(_ r: Recommendation) -> JSONValue {
        var top: [(String, JSONValue)] = [
            ("profile", .string(r.profile.name)),
            ("recommended", r.recommended.map { .string($0.service.rawValue) } ?? .null),
            ("candidates", .array(r.candidates.map(json))),
        ]
        if !r.wayOut.isEmpty {
            top.append(("wayOut", .object(ServiceID.allCases.compactMap { service in
                r.wayOut[service].map { (service.rawValue, .array($0.map { .string($0) })) }
            })))
        }
        return .object(top)
    }

    static func json(_ c: Candidate) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("service", .string(c.service.rawValue)),
            ("verdict", .string(c.verdict.rawValue)),
            ("score", .int(c.score)),
            ("reasons", .array(c.reasons.map { reason in
                var r: [(String, JSONValue)] = [
                    ("rule", .string(reason.rule)), ("effect", .string(reason.effect.name)),
                ]
                if reason.effect != .exclude { r.append(("weight", .int(abs(reason.effect.weight)))) }
                r.append(("message", .string(reason.message)))
                r.append(("source", .string(reason.source.citation)))
                return .object(r)
            })),
        ]
        if let configuration = c.configuration { fields.append(("configuration", configuration.json)) }
        return .object(fields)
    }

    // MARK: Text

    public static func text(_ r: Recommendation) -> String {
        var out = ""
        if let pick = r.recommended {
            out += "\(r.profile.name): recommended \(pick.service) (\(Catalog.facts(pick.service).name))\n\n"
        } else {
            out += "\(r.profile.name): no service fits this profile\n\n"
        }
        out += "  #  service       verdict      score\n"
        for (index, c) in r.candidates.enumerated() {
            out += "  \(index + 1)  \(c.service.rawValue.padded(12))  \(c.verdict.rawValue.padded(11))  \(String(c.score).leftPadded(5))\n"
        }
        for c in r.candidates {
            out += "\n\(c.service) (\(c.verdict.rawValue)\(c.isExcluded ? "" : ", \(c.score)"))\n"
            if c.reasons.isEmpty { out += "  no rule applies; base score \(Planner.baseScore)\n" }
            for reason in c.reasons {
                out += "  \(marker(reason.effect)) \(reason.rule): \(reason.message)\n      source: \(reason.source)\n"
            }
            if let configuration = c.configuration {
                out += "  configuration: " + configuration.entries.map { "\($0.0)=\(plain($0.1))" }.joined(separator: ", ") + "\n"
                for note in configuration.notes { out += "    \(note)\n" }
            }
        }
        if r.recommended == nil { out += "\n" + wayOutText(r) }
        return out
    }

    /// For the all-excluded case: what rules out each service and which single change would let it fit.
    public static func wayOutText(_ r: Recommendation) -> String {
        var out = "Every service is excluded:\n"
        for c in r.candidates {
            let why = c.reasons.filter { $0.effect == .exclude }.map(\.message).joined(separator: "; ")
            out += "  - \(c.service): \(why)"
            if let changes = r.wayOut[c.service], !changes.isEmpty {
                out += "\n    \(changes.joined(separator: " or ")) would allow \(c.service)"
            }
            out += "\n"
        }
        return out
    }

    static func marker(_ effect: Effect) -> String {
        switch effect {
        case .exclude: "✗ exclude "
        case .favor(let w): "+ favor +\(w)".padded(10)
        case .disfavor(let w): "- disfavor −\(w)"
        }
    }

    public static func plain(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): s
        case .array(let items): items.map(plain).joined(separator: "+")
        default: value.rendered(pretty: false)
        }
    }

    // MARK: Markdown

    public static func markdown(_ r: Recommendation) -> String {
        var out = "### Storage for `\(r.profile.name)`: "
        out += r.recommended.map { "**\($0.service)** (\(Catalog.facts($0.service).name))\n\n" } ?? "no service fits\n\n"
        out += "| # | service | verdict | score | deciding reasons |\n|---|---|---|---|---|\n"
        for (index, c) in r.candidates.enumerated() {
            let reasons = c.reasons.map { "`\($0.rule)` \($0.effect.summary)" }.joined(separator: "<br>")
            out += "| \(index + 1) | `\(c.service)` | \(c.verdict.rawValue) | \(c.score) | \(reasons.isEmpty ? "–" : reasons) |\n"
        }
        if let pick = r.recommended, let configuration = pick.configuration {
            out += "\n**Configuration for `\(pick.service)`:** "
            out += configuration.entries.map { "`\($0.0)` = `\(plain($0.1))`" }.joined(separator: ", ") + "\n"
        }
        out += "\n<details><summary>Why, rule by rule</summary>\n\n"
        for c in r.candidates where !c.reasons.isEmpty {
            out += "- **\(c.service)**\n"
            for reason in c.reasons {
                out += "  - \(reason.effect.summary) `\(reason.rule)`: \(reason.message) _(\(reason.source))_\n"
            }
        }
        out += "\n</details>\n"
        if r.recommended == nil { out += "\n" + wayOutText(r) }
        return out
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
