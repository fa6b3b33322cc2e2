/// Durations as the contract writes them: `500ms`, `2s`, `5m`, `1h` (emulator.md §Drills).
public enum DurationText {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var text: String
        public var description: String {
            "\"\(text)\" is not a duration; expected a whole number with a unit: 500ms, 2s, 5m or 1h"
        }
    }

    public static func parse(_ text: String) throws -> Duration {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for (unit, millis) in units where text.hasSuffix(unit) {
            let number = text.dropLast(unit.count)
            // "ms" ends in "s": try the longer unit first and do not let "5ms" read as "5m" + "s".
            guard !number.isEmpty, number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber),
                  let value = Int64(number), value <= Int64.max / millis / 1_000
            else { continue }
            return .milliseconds(value * millis)
        }
        throw ParseError(text: text)
    }

    /// The shortest exact form: `1h`, `5m`, `2s`, `500ms`; fractions of a second as `1.25s`.
    public static func format(_ duration: Duration) -> String {
        let millis = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        if millis != 0, millis % 3_600_000 == 0 { return "\(millis / 3_600_000)h" }
        if millis != 0, millis % 60_000 == 0 { return "\(millis / 60_000)m" }
        if millis % 1_000 == 0 { return "\(millis / 1_000)s" }
        if millis < 1_000 { return "\(millis)ms" }
        let seconds = Double(millis) / 1_000
        return "\((seconds * 100).rounded() / 100)s"
    }
}
