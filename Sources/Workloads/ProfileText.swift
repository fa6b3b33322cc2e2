/// Checks on a profile's text that the YAML composer cannot make: JSON's stricter syntax, and where a
/// repeated key repeats.

/// Trailing commas (`{"a": 1,}`) are fine in YAML's flow style but not in JSON: a profile that is JSON
/// (its first character `{` or `[`) is refused with the comma's location.
enum JSONStrictness {
    static func trailingCommas(_ text: String, file: String) -> [ProfileDiagnostic] {
        guard let first = text.unicodeScalars.first(where: { !$0.properties.isWhitespace }), first == "{" || first == "[" else { return [] }
        var found: [ProfileDiagnostic] = []
        var inString = false, escaped = false
        var line = 1, column = 0
        var pendingComma: (line: Int, column: Int)?
        for scalar in text.unicodeScalars {
            if scalar == "\n" { line += 1; column = 0 } else { column += 1 }
            if inString {
                if escaped { escaped = false } else if scalar == "\\" { escaped = true } else if scalar == "\"" { inString = false }
                continue
            }
            switch scalar {
            case "\"": inString = true; pendingComma = nil
            case ",": pendingComma = (line, column)
            case "}", "]":
                if let comma = pendingComma {
                    found.append(ProfileDiagnostic(file: file, line: comma.line, column: comma.column, path: "",
                                                   message: "a trailing comma before \(scalar) is not valid JSON",
                                                   expected: "no comma after the last member"))
                }
                pendingComma = nil
            default:
                if !scalar.properties.isWhitespace { pendingComma = nil }
            }
        }
        return found
    }
}

/// Where a key repeats: the composer reports the mapping that holds the repeat; users need the line of
/// the second occurrence.
enum DuplicateKey {
    /// The second place after `start` (1-based line and column) where `key` stands as a key (`key:`,
    /// `"key":`, `'key':`), or nil.
    static func secondOccurrence(of key: String, in text: String, from start: (line: Int, column: Int)) -> (line: Int, column: Int)? {
        var seen = 0
        for (index, lineText) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            guard line >= start.line else { continue }
            let characters = Array(lineText)
            var position = 0
            while position < characters.count {
                if line == start.line && position + 1 < start.column { position += 1; continue }
                for candidate in ["\"\(key)\"", "'\(key)'", key] {
                    let c = Array(candidate)
                    guard position + c.count <= characters.count, Array(characters[position..<position + c.count]) == c else { continue }
                    let before = position == 0 ? " " : characters[position - 1]
                    var after = position + c.count
                    while after < characters.count, characters[after] == " " { after += 1 }
                    let isKey = (before == " " || before == "{" || before == "," || before == "\t") && after < characters.count && characters[after] == ":"
                    if isKey {
                        seen += 1
                        if seen == 2 { return (line, position + 1) }
                        position += c.count - 1
                        break
                    }
                }
                position += 1
            }
        }
        return nil
    }
}

import Yams

extension ProfileLoader {
    /// The profile text as plain values (dictionaries, arrays, strings, integers, booleans, NSNull), merge
    /// keys applied: what a JSON Schema validator sees. Nil when the text is not YAML or JSON.
    public static func plainDocument(_ text: String) -> (any Sendable)? {
        guard let node = try? Yams.compose(yaml: text) else { return nil }
        return plain(node)
    }

    static func plain(_ node: Node) -> any Sendable {
        switch node {
        case .mapping(let mapping):
            var result: [String: any Sendable] = [:]
            for (key, value) in mapping where key.string != "<<" { result[key.string ?? ""] = plain(value) }
            for (key, value) in mapping where key.string == "<<" {
                let sources: [Node] = if case .sequence(let list) = value { Array(list) } else { [value] }
                for case .mapping(let inner) in sources {
                    for (k, v) in inner where result[k.string ?? ""] == nil { result[k.string ?? ""] = plain(v) }
                }
            }
            return result
        case .sequence(let sequence): return sequence.map(plain)
        case .scalar(let scalar):
            if scalar.style == .plain {
                if let number = Int(scalar.string) { return number }
                if scalar.string == "true" { return true }
                if scalar.string == "false" { return false }
                if ["", "~", "null"].contains(scalar.string) { return Optional<Int>.none as any Sendable }
            }
            return scalar.string
        case .alias: return Optional<Int>.none as any Sendable
        }
    }
}
