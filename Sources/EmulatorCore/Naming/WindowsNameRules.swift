/// FSx for Windows File Server names on a mount: `WindowsNames`'s refusals for new entries
/// (ENAMETOOLONG for a component over 255 UTF-16 units, EINVAL for everything else).
///
/// Case-insensitive, case-preserving matching (`WindowsNames.caseKey`) is not applied on mounts yet:
/// lookups are still exact (docs/SEMANTICS.md §FSx for Windows File Server).
public struct WindowsNameRules: NameRules {
    public init() {}

    public var checksNames: Bool { true }

    public func refusal(forNewName name: UnsafeBufferPointer<UInt8>) -> Int32? {
        WindowsNames.refusal(utf8: name)?.errno
    }
}
