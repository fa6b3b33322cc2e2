#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import EmulatorCore
import StorageCatalog

@Suite struct WindowsNamesTests {
    @Test(arguments: ["CON", "con", "Nul", "nul.txt", "NUL.tar.gz", "com1", "LPT9.log", "AUX ", "PRN .txt", "COM¹"])
    func reservedDeviceNamesAreRefusedWithAnyExtensionAndCase(name: String) {
        let refusal = WindowsNames.refusal(for: name)
        #expect(refusal != nil)
        if case .reservedDeviceName = refusal {} else if case .trailingDotOrSpace = refusal {} else {
            Issue.record("unexpected refusal \(String(describing: refusal))")
        }
    }

    @Test(arguments: ["CONSOLE", "com10", "LPT", "nul_", "xcon", "con-fig.txt", "COM0"])
    func namesThatOnlyLookReservedAreAccepted(name: String) {
        #expect(WindowsNames.refusal(for: name) == nil)
    }

    @Test(arguments: ["a<b", "a>b", "a:b", "a\"b", "a\\b", "a|b", "a?b", "a*b"])
    func reservedCharactersAreRefused(name: String) {
        guard case .reservedCharacter = WindowsNames.refusal(for: name) else {
            Issue.record("\(name) accepted")
            return
        }
    }

    @Test func controlCharactersTrailingDotsAndSpacesAndLengthAreRefused() {
        #expect(WindowsNames.refusal(for: "a\u{1}b") == .controlCharacter(1))
        #expect(WindowsNames.refusal(for: "tab\tname") == .controlCharacter(9))
        #expect(WindowsNames.refusal(for: "report.") == .trailingDotOrSpace)
        #expect(WindowsNames.refusal(for: "report ") == .trailingDotOrSpace)
        #expect(WindowsNames.refusal(for: String(repeating: "a", count: 255)) == nil)
        #expect(WindowsNames.refusal(for: String(repeating: "a", count: 256)) == .tooLong(256))
        // Length is counted in UTF-16 units: 128 emoji are 256 units.
        #expect(WindowsNames.refusal(for: String(repeating: "😀", count: 128)) == .tooLong(256))
        #expect(WindowsNames.refusal(for: ".hidden") == nil)
        #expect(WindowsNames.refusal(for: "Ünïcödé naïve.txt") == nil)
    }

    /// Whether two names denote the same file on Windows.
    func sameName(_ a: String, _ b: String) -> Bool { WindowsNames.caseKey(a) == WindowsNames.caseKey(b) }

    @Test func namesCompareWithoutCaseBeyondASCII() {
        #expect(sameName("Report.TXT", "report.txt"))
        #expect(sameName("ÄRGER.doc", "ärger.DOC"))
        #expect(sameName("ΣΊΣΥΦΟΣ", "σίσυφος"))
        #expect(sameName("σ", "ς"))
        #expect(sameName("Straße", "STRAßE"))
        #expect(!sameName("Straße", "STRASSE"))
        #expect(!sameName("a.txt", "b.txt"))
        // No normalisation: precomposed é and e + combining acute are different names, as on Windows.
        #expect(!sameName("caf\u{E9}", "cafe\u{301}"))
    }

    func ruleErrno(_ rules: any NameRules, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBufferPointer { rules.refusal(forNewName: $0) }
    }

    @Test func mountsOfFSxForWindowsUseWindowsRulesAndOthersPOSIX() {
        let windows = MountConfiguration.defaultNameRules(forServiceType: .fsxWindows)
        #expect(windows.checksNames)
        #expect(ruleErrno(windows, Array("nul.txt".utf8)) == EINVAL)
        #expect(ruleErrno(windows, Array("a:b".utf8)) == EINVAL)
        #expect(ruleErrno(windows, [0x66, 0xFF, 0x66]) == EINVAL, "bytes that are not UTF-8 have no Windows spelling")
        #expect(ruleErrno(windows, Array("Report.TXT".utf8)) == nil)
        for type in ServiceID.allCases where type != .fsxWindows {
            let rules = MountConfiguration.defaultNameRules(forServiceType: type)
            #expect(!rules.checksNames, "\(type) is POSIX")
            #expect(ruleErrno(rules, Array("nul.txt".utf8)) == nil)
        }
    }

    @Test func theASCIIFastPathAnswersAsTheStringPath() {
        var names = ["", ".", "..", "...", "a.", "a ", " a", "CON", "con", "Con.txt", "NUL .txt", "nul.tar.gz", "COM1",
                     "com9.log", "COM0", "COM10", "LPT1", "lpt9", "LPT", "AUX", "PRN.x", "CONSOLE", "report.txt",
                     "a<b", "a>b", "a:b", "a\"b", "a\\b", "a|b", "a?b", "a*b", "tab\there", "del\u{7F}",
                     String(repeating: "x", count: 255), String(repeating: "y", count: 256), "nul_", ".hidden", "a.b.c"]
        names += (0..<32).map { "c\(Character(Unicode.Scalar(UInt8($0))))" }
        for name in names {
            let bytes = Array(name.utf8)
            let fast = bytes.withUnsafeBufferPointer { WindowsNames.asciiRefusal($0) }
            #expect(fast == WindowsNames.refusal(for: name), "\(name.debugDescription)")
        }
    }
}
