#if canImport(Glibc)
import Glibc
#endif

/// The naming rules of FSx for Windows File Server, which are Windows's (NTFS over SMB): what names are
/// refused, and when two names are the same file.
///
/// Sources: Microsoft, "Naming Files, Paths, and Namespaces" (learn.microsoft.com/windows/win32/fileio/
/// naming-a-file): reserved device names, reserved characters, no trailing dot or space, 255 UTF-16
/// units per component, 32,767 for an extended-length path; FSx for Windows serves NTFS over SMB
/// (seed §Amazon FSx für Windows File Server).
public enum WindowsNames {
    /// Longest component, in UTF-16 code units.
    public static let maxComponentLength = 255
    /// Longest path, in UTF-16 code units (extended-length paths; SMB clients send these).
    public static let maxPathLength = 32_767

    /// Device names Windows reserves, with or without an extension, in any case.
    static let reservedDeviceNames: Set<String> = {
        var names: Set<String> = ["CON", "PRN", "AUX", "NUL"]
        for n in 1...9 {
            names.insert("COM\(n)")
            names.insert("LPT\(n)")
        }
        // Superscript digits count too (Windows 10+ treats COM¹ like COM1).
        for digit in ["¹", "²", "³"] {
            names.insert("COM\(digit)")
            names.insert("LPT\(digit)")
        }
        return names
    }()

    static let reservedCharacters: Set<Unicode.Scalar> = ["<", ">", ":", "\"", "\\", "|", "?", "*"]

    public enum Refusal: Equatable, Sendable, CustomStringConvertible {
        case reservedDeviceName(String)
        case reservedCharacter(Unicode.Scalar)
        case controlCharacter(UInt32)
        case trailingDotOrSpace
        case tooLong(Int)
        case empty
        /// Not valid UTF-8: the name has no UTF-16 spelling, so an SMB client could never send it.
        case notUnicode

        public var description: String {
            switch self {
            case .reservedDeviceName(let base): "\"\(base)\" is a reserved device name on Windows"
            case .reservedCharacter(let c): "the character \(c) is not allowed in Windows file names"
            case .controlCharacter(let v): "control character U+\(String(v, radix: 16, uppercase: true)) is not allowed in Windows file names"
            case .trailingDotOrSpace: "Windows file names cannot end in a dot or a space"
            case .tooLong(let n): "the name is \(n) UTF-16 units long; Windows allows \(WindowsNames.maxComponentLength)"
            case .empty: "the name is empty"
            case .notUnicode: "the name is not valid UTF-8, so it has no Windows (UTF-16) spelling"
            }
        }

        /// The errno a mount answers: ENAMETOOLONG for length (what POSIX programs expect of a name too
        /// long), EINVAL for every other refusal (Windows's ERROR_INVALID_NAME has no closer errno).
        public var errno: Int32 {
            switch self {
            case .tooLong: ENAMETOOLONG
            default: EINVAL
            }
        }
    }

    /// `refusal(for:)` of a name as the kernel sends it: one component's UTF-8 bytes.
    public static func refusal(utf8 name: UnsafeBufferPointer<UInt8>) -> Refusal? {
        if name.allSatisfy({ $0 < 0x80 }) { return asciiRefusal(name) }
        guard let text = decodeUTF8(name) else { return .notUnicode }
        return refusal(for: text)
    }

    /// `refusal(for:)` of an ASCII name, the common case, without building a String (a mount asks this
    /// for every new name). Same answers; `WindowsNamesTests` compares the two.
    static func asciiRefusal(_ name: UnsafeBufferPointer<UInt8>) -> Refusal? {
        if name.isEmpty { return .empty }
        for byte in name {
            if byte < 0x20 || byte == 0x7F { return .controlCharacter(UInt32(byte)) }
            switch byte {
            case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: ":"), UInt8(ascii: "\""), UInt8(ascii: "\\"),
                 UInt8(ascii: "|"), UInt8(ascii: "?"), UInt8(ascii: "*"):
                return .reservedCharacter(Unicode.Scalar(byte))
            default: continue
            }
        }
        let dot = UInt8(ascii: "."), space = UInt8(ascii: " ")
        if let last = name.last, last == dot || last == space {
            let isDotEntry = name.count <= 2 && name.allSatisfy { $0 == dot }
            if !isDotEntry { return .trailingDotOrSpace }
        }
        if name.count > maxComponentLength { return .tooLong(name.count) }
        var base = name.prefix { $0 != dot }
        while base.last == space { base = base.dropLast() }
        guard base.count == 3 || base.count == 4 else { return nil }
        let upper = base.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
        let text = String(decoding: upper, as: UTF8.self)
        return reservedDeviceNames.contains(text) ? .reservedDeviceName(String(decoding: base, as: UTF8.self)) : nil
    }

    /// The name the bytes spell, or nil when they are not valid UTF-8 (Linux names are any bytes).
    public static func decodeUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var scalars = String.UnicodeScalarView()
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): scalars.append(scalar)
            case .emptyInput: return String(scalars)
            case .error: return nil
            }
        }
    }

    /// Why Windows would refuse `name` as one path component, or nil when it accepts it.
    public static func refusal(for name: String) -> Refusal? {
        if name.isEmpty { return .empty }
        for scalar in name.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F { return .controlCharacter(scalar.value) }
            if reservedCharacters.contains(scalar) { return .reservedCharacter(scalar) }
        }
        if name.hasSuffix(".") || name.hasSuffix(" ") {
            // "." and ".." are the directory entries themselves, not names anyone creates.
            if name != "." && name != ".." { return .trailingDotOrSpace }
        }
        let length = name.utf16.count
        if length > maxComponentLength { return .tooLong(length) }
        // "nul.txt" and "NUL .txt" are the device too: the part before the first dot, trailing spaces
        // removed, decides.
        var base = Substring(name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        while base.hasSuffix(" ") { base = base.dropLast() }
        let upper = base.uppercased()
        if reservedDeviceNames.contains(upper) { return .reservedDeviceName(String(base)) }
        return nil
    }

    /// The key under which two names are the same file: each character's simple uppercase mapping, as
    /// NTFS compares names through its upcase table. Unicode-aware ("Straße" and "STRASSE" stay
    /// different because ß has no single-character uppercase; "σ", "ς" and "Σ" are one name), and
    /// without normalisation, as Windows does not normalise.
    public static func caseKey(_ name: String) -> Key {
        var key = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            if scalar.isASCII {
                // Same answer as the table below, without building a String per character.
                let value = scalar.value
                key.append(value >= 0x61 && value <= 0x7A ? Unicode.Scalar(UInt8(value - 0x20)) : scalar)
                continue
            }
            let upper = scalar.properties.uppercaseMapping.unicodeScalars
            if upper.count == 1, let single = upper.first {
                key.append(single)
            } else {
                key.append(scalar)
            }
        }
        return Key(bytes: Array(String(key).utf8))
    }

    /// `caseKey` of a name as the kernel sends it. ASCII names, the common case, are folded byte by
    /// byte; bytes that are not UTF-8 are kept as they are (there is no character to fold).
    public static func caseKey(utf8 name: UnsafeBufferPointer<UInt8>) -> Key {
        if name.allSatisfy({ $0 < 0x80 }) {
            return Key(bytes: name.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 })
        }
        guard let text = decodeUTF8(name) else { return Key(bytes: Array(name)) }
        return caseKey(text)
    }

    /// A name's identity for lookups. Bytes, not a String: Swift's String equality and hashing follow
    /// canonical equivalence, which would make "é" and "e\u{301}" one name where Windows has two.
    public struct Key: Hashable, Sendable {
        public let bytes: [UInt8]
        public init(bytes: [UInt8]) { self.bytes = bytes }
    }
}
