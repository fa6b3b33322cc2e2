import StorageCatalog
import StorageLint
import Testing

/// How findings read in a terminal and in a pipe: counts in words, levels coloured only when the style says so.
@Suite struct LintOutputTests {
    static let broken = """
        {"family": "web", "requiresCompatibilities": ["EC2"],
         "containerDefinitions": [{"name": "web", "image": "nginx", "mountPoints": [{"sourceVolume": "data", "containerPath": "/srv/static", "readOnly": true}]}],
         "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}}}]}
        """

    @Test func countsArePluralisedAsWords() {
        #expect(counted(0, "error") == "0 errors")
        #expect(counted(1, "error") == "1 error")
        #expect(counted(2, "warning") == "2 warnings")
        #expect(counted(1, "entry", "entries") == "1 entry" && counted(3, "entry", "entries") == "3 entries")
        let report = Linter.lint(text: Self.broken, file: "bad.json", json: true)
        let summary = LintRenderer.summary(report)
        #expect(summary == "berth lint: 1 error, 0 warnings, 0 notes in 1 file", "\(summary)")
        #expect(!summary.contains("(s)"))
    }

    @Test func levelsAreColouredOnlyWhenTheStyleAllowsIt() {
        let report = Linter.lint(text: Self.broken, file: "bad.json", json: true)
        let terminal = OutputStyle(unicode: true, colour: true)
        #expect(LintRenderer.text(report, style: terminal).contains("bad.json:3:106: \u{1B}[31merror\u{1B}[0m BL001: "))
        #expect(LintRenderer.summary(report, style: terminal).hasPrefix("berth lint: \u{1B}[31m1 error\u{1B}[0m, 0 warnings, 0 notes"))
        // A pipe, NO_COLOR or TERM=dumb: plain text, the same as before colour existed.
        for style in [OutputStyle.plain, .unicodePlain] {
            #expect(!LintRenderer.text(report, style: style).contains("\u{1B}["))
            #expect(LintRenderer.text(report, style: style) == LintRenderer.text(report))
        }
    }
}
