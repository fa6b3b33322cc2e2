import Foundation

/// How text output may look where it is printed: Unicode marks only when the locale is UTF-8, colour
/// only on a terminal and never when `NO_COLOR` is set (https://no-color.org) or `TERM` is `dumb`. The
/// one helper every text renderer and the CLI use.
public struct OutputStyle: Sendable, Equatable {
    public var unicode: Bool
    public var colour: Bool

    public init(unicode: Bool, colour: Bool) {
        self.unicode = unicode
        self.colour = colour
    }

    /// ASCII, no colour: what tests and pipes into non-UTF-8 locales get.
    public static let plain = OutputStyle(unicode: false, colour: false)
    /// Unicode, no colour: a UTF-8 pipe.
    public static let unicodePlain = OutputStyle(unicode: true, colour: false)

    /// The style for a stream: the locale from LC_ALL, then LC_CTYPE, then LANG (the first one set wins,
    /// as setlocale does); colour when the stream is a terminal.
    public static func detect(environment: [String: String], isTerminal: Bool) -> OutputStyle {
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"].lazy.compactMap { environment[$0] }.first { !$0.isEmpty } ?? ""
        let lowered = locale.lowercased()
        let unicode = lowered.contains("utf-8") || lowered.contains("utf8")
        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        let dumb = environment["TERM"] == "dumb"
        return OutputStyle(unicode: unicode, colour: isTerminal && !noColor && !dumb)
    }

    /// The style for standard output of this process.
    public static func standardOutput() -> OutputStyle {
        detect(environment: ProcessInfo.processInfo.environment, isTerminal: isatty(STDOUT_FILENO) == 1)
    }

    /// The style for standard error of this process.
    public static func standardError() -> OutputStyle {
        detect(environment: ProcessInfo.processInfo.environment, isTerminal: isatty(STDERR_FILENO) == 1)
    }

    public enum Colour: String, Sendable {
        case red = "31", green = "32", yellow = "33", bold = "1", dim = "2"
    }

    public func paint(_ text: String, _ tint: Colour) -> String {
        colour ? "\u{1B}[\(tint.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// `text` with `word` painted where it ends a line that starts with `linePrefix` (a report's result
    /// line); unchanged without colour.
    public func paint(_ word: String, endingLinesStartingWith linePrefix: String, in text: String, _ tint: Colour) -> String {
        guard colour else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard line.hasPrefix(linePrefix) && line.hasSuffix(word) else { return String(line) }
            return String(line.dropLast(word.count)) + paint(word, tint)
        }.joined(separator: "\n")
    }

    /// `text` as this style may print it: unchanged in a UTF-8 locale, else with the marks Berth uses
    /// spelt in ASCII and anything else outside ASCII replaced by `?`.
    public func apply(_ text: String) -> String {
        guard !unicode else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar.isASCII { out.unicodeScalars.append(scalar); continue }
            out += Self.ascii[scalar] ?? "?"
        }
        return out
    }

    static let ascii: [Unicode.Scalar: String] = [
        "✗": "x", "✓": "v", "−": "-", "–": "-", "—": "--", "…": "...", "µ": "u", "×": "x", "→": "->", "≥": ">=",
        "≤": "<=", "‘": "'", "’": "'", "“": "\"", "”": "\"", "§": "S", "°": "deg", "\u{00A0}": " ", "•": "*", "·": ".",
    ]
}

/// "1 error", "2 errors", "0 notes": a count with its noun, for human output (never "error(s)").
public func counted(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
    "\(n) \(n == 1 ? singular : plural ?? singular + "s")"
}
