/// FSx for Windows File Server names on a mount: `WindowsNames`'s refusals for new entries
/// (ENAMETOOLONG for a component over 255 UTF-16 units, EINVAL for everything else), and
/// case-insensitive, case-preserving matching through `WindowsNames.caseKey`.
public struct WindowsNameRules: NameRules {
    public init() {}

    public var checksNames: Bool { true }

    public var caseInsensitive: Bool { true }

    public func refusal(forNewName name: UnsafeBufferPointer<UInt8>) -> Int32? {
        WindowsNames.refusal(utf8: name)?.errno
    }

    public func matchKey(forName name: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        WindowsNames.caseKey(utf8: name).bytes
    }
}
