public import StorageCatalog
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
        if let configuration = c.configuration {
            fields.append(("configuration", configuration.json))
            // Why these values (a size raised to an accepted step, io2 rather than gp3), in words.
            fields.append(("configurationNotes", .array(configuration.notes.map { .string($0) })))
        }
        return .object(fields)
    }

    // MARK: Text

    /// The terminal report: the pick and why, the ranking, each service's reasons and configuration, and
    /// what would fit with a change. `style` decides Unicode marks and colour (`OutputStyle`).
    public static func text(_ r: Recommendation) -> String { text(r, style: .unicodePlain) }

    public static func text(_ r: Recommendation, style: OutputStyle) -> String {
        var out = ""
        if let pick = r.recommended {
            out += "\(r.profile.name): recommended \(style.paint(pick.service.rawValue, .bold)) (\(Catalog.facts(pick.service).name))\n"
            let why = pick.reasons.filter { $0.effect.weight > 0 }.sorted { $0.effect.weight > $1.effect.weight }.prefix(3)
            for reason in why { out += "  because \(reason.message)\n" }
            if let role = pick.reasons.first(where: { $0.rule == "service-role" }) { out += "  it is \(role.message)\n" }
            out += "\n"
        } else {
            out += "\(r.profile.name): no service fits this profile\n\n"
        }
        out += "  #  service       verdict      score\n"
        for (index, c) in r.candidates.enumerated() {
            out += "  \(index + 1)  \(c.service.rawValue.padded(12))  \(verdictText(c.verdict, style: style, width: 11))  \(String(c.score).leftPadded(5))\n"
        }
        for c in r.candidates {
            out += "\n\(c.service) (\(c.verdict.rawValue)\(c.isExcluded ? "" : ", \(c.score)"))\n"
            for reason in c.reasons {
                out += "  \(marker(reason.effect, style: style)) \(reason.rule): \(reason.message)\n      source: \(reason.source)\n"
            }
            if let configuration = c.configuration {
                out += "  configuration: " + configuration.entries.map { "\($0.0)=\(plain($0.1))" }.joined(separator: ", ") + "\n"
                for note in configuration.notes { out += "    \(note)\n" }
            }
        }
        if r.recommended == nil {
            out += "\n" + wayOutText(r)
        } else if !r.wayOut.isEmpty {
            out += "\nWould rank above \(r.recommended?.service.rawValue ?? "the pick") with one change:\n"
            for service in ServiceID.allCases {
                guard let changes = r.wayOut[service] else { continue }
                out += "  - \(service): with \(changes.joined(separator: ", or with "))\n"
            }
        }
        return style.apply(out)
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

    static func verdictText(_ verdict: Verdict, style: OutputStyle, width: Int) -> String {
        let padded = verdict.rawValue.padded(width)
        switch verdict {
        case .recommended: return style.paint(padded, .green)
        case .viable: return padded
        case .excluded: return style.paint(padded, .dim)
        }
    }

    static func marker(_ effect: Effect, style: OutputStyle) -> String {
        switch effect {
        case .exclude: style.paint((style.unicode ? "✗" : "x") + " exclude ", .red)
        case .favor(0): "  note    "
        case .favor(let w): style.paint("+ favor +\(w)".padded(10), .green)
        case .disfavor(let w): style.paint("- disfavor -\(w)", .yellow)
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
        if let pick = r.recommended {
            let why = pick.reasons.filter { $0.effect.weight > 0 }.sorted { $0.effect.weight > $1.effect.weight }.prefix(3)
            for reason in why { out += "- because \(reason.message)\n" }
            if !why.isEmpty { out += "\n" }
        }
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
        if r.recommended == nil {
            out += "\n" + wayOutText(r)
        } else if !r.wayOut.isEmpty {
            out += "\n**Would rank above `\(r.recommended?.service.rawValue ?? "")` with one change:** "
            out += ServiceID.allCases.compactMap { s in r.wayOut[s].map { "`\(s)` with \($0.joined(separator: ", or with "))" } }
                .joined(separator: "; ") + "\n"
        }
        return out
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
