/// A strict RFC 8259 syntax check with the line and column of the first problem. Foundation's parser
/// on Linux lets a trailing comma through, and YAML forgives more still (comments, single quotes,
/// unquoted keys); a `.json` file that any JSON tool would refuse must be an error, not a finding-free
/// pass.
struct StrictJSON {
    struct Failure: Error {
        var at: LintLocation
        var message: String
    }

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private var depth = 0
    static let maximumDepth = 512

    static func validate(_ text: String) throws(Failure) {
        var parser = StrictJSON(bytes: Array(text.utf8))
        if parser.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        parser.skipWhitespace()
        try parser.value()
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw parser.failure("unexpected text after the JSON value") }
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func failure(_ message: String) -> Failure {
        // Columns count Unicode scalars, as the YAML parser's do: skip UTF-8 continuation bytes.
        let column = bytes[lineStart..<min(index, bytes.count)].filter { $0 & 0xC0 != 0x80 }.count + 1
        return Failure(at: LintLocation(line: line, column: column), message: message)
    }

    private mutating func skipWhitespace() {
        while let byte = current {
            switch byte {
            case 0x20, 0x09, 0x0D: index += 1
            case 0x0A:
                index += 1
                line += 1
                lineStart = index
            default: return
            }
        }
    }

    private mutating func value() throws(Failure) {
        guard let byte = current else { throw failure("unexpected end of the file; expected a value") }
        switch byte {
        case UInt8(ascii: "{"): try object()
        case UInt8(ascii: "["): try array()
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw failure("unexpected character '\(String(decoding: [byte], as: UTF8.self))'; expected a value")
        }
    }

    private mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw failure("nested more than \(Self.maximumDepth) levels deep") }
    }

    private mutating func object() throws(Failure) {
        try enter()
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "}") { index += 1; depth -= 1; return }
        while true {
            guard current == UInt8(ascii: "\"") else {
                throw failure(current == nil ? "unexpected end of the file inside an object" : "expected a quoted key (a trailing comma?)")
            }
            try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure("expected ':' after the key") }
            index += 1
            skipWhitespace()
            try value()
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return
            default: throw failure("expected ',' or '}' in the object")
            }
        }
    }

    private mutating func array() throws(Failure) {
        try enter()
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; depth -= 1; return }
        while true {
            if current == UInt8(ascii: "]") { throw failure("a trailing comma before ']'") }
            try value()
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                index += 1
                depth -= 1
                return
            default: throw failure("expected ',' or ']' in the array")
            }
        }
    }

    private mutating func string() throws(Failure) {
        index += 1
        while let byte = current {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard let escaped = current else { break }
                if escaped == UInt8(ascii: "u") {
                    for offset in 1...4 {
                        guard index + offset < bytes.count, Self.isHex(bytes[index + offset]) else {
                            throw failure("a \\u escape needs four hexadecimal digits")
                        }
                    }
                    index += 5
                } else if Array("\"\\/bfnrt".utf8).contains(escaped) {
                    index += 1
                } else {
                    throw failure("invalid escape in a string")
                }
            case 0x00..<0x20:
                throw failure("a control character (such as a line break) inside a string")
            default:
                index += 1
            }
        }
        throw failure("unexpected end of the file inside a string")
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    private mutating func literal(_ word: String) throws(Failure) {
        let expected = Array(word.utf8)
        guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw failure("unexpected word; expected \(word), a string, a number, an object or an array")
        }
        index += expected.count
    }

    private mutating func number() throws(Failure) {
        func digits() -> Int {
            let start = index
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index - start
        }
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw failure("invalid number")
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw failure("invalid number: digits must follow '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw failure("invalid number: digits must follow the exponent") }
        }
    }
}
