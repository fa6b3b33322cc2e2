import BerthTestSupport
import Foundation
import Testing

/// Issue 14's CLI: version, did-you-mean, exit statuses, help at 80 columns, locale and colour, the
/// manual page, JSON keys.
@Suite struct CLIBehaviourTests {
    static func berth(_ arguments: String..., environment: [String: String]? = nil) throws -> CommandRun {
        try CommandRun.run(try BuiltBinary.berth(), arguments, in: BuiltBinary.packageRoot, environment: environment)
    }

    @Test func versionIsPrinted() throws {
        let run = try Self.berth("--version")
        #expect(run.status == 0)
        #expect(run.trimmedStdout.split(separator: ".").count == 3)
    }

    @Test func anUnknownCommandSaysWhichOneItMeantAndExits64() throws {
        let run = try Self.berth("recomend", "x")
        #expect(run.status == 64)
        #expect(run.stderr.contains("unknown command 'recomend'; did you mean 'recommend'?"))
        let nested = try Self.berth("volume", "creat", "--type", "ebs")
        #expect(nested.status == 64)
        #expect(nested.stderr.contains("unknown command 'volume creat'; did you mean 'create'?"))
        #expect(nested.stderr.contains("See 'berth volume --help'"))
        #expect(try Self.berth("help", "volume").status == 0)
        // A command's own arguments are not commands.
        #expect(try Self.berth("recommend", "no-such-file.yaml").status == 1)
        let far = try Self.berth("zzzzzzzz")
        #expect(far.status == 64)
        #expect(!far.stderr.contains("did you mean"))
    }

    /// The top-level help's exit statuses are what the commands do.
    @Test func exitStatusesAreTheDocumentedOnes() throws {
        let help = try Self.berth("--help").stdout
        #expect(help.contains("64  usage error"))
        #expect(help.contains("1   invalid input"))
        #expect(try Self.berth("recommend", "--bogus").status == 64)
        #expect(try Self.berth("recommend").status == 64)
        #expect(try Self.berth("recommend", "does-not-exist.yaml").status == 1)
        // A command with a default subcommand takes its arguments: `berth run TASKDEF.json` is `run start`.
        let run = try Self.berth("run", "does-not-exist.json")
        #expect(run.status == 1 && !run.stderr.contains("unknown command"), "\(run.stderr)")
    }

    /// In a pipe ArgumentParser wraps at 80 columns: every help line fits, and every example line in the
    /// source is printed whole (no second wrap of a line already broken by hand).
    @Test(arguments: [
        [], ["recommend"], ["taskdef"], ["rules"], ["lint"], ["volume", "create"], ["mount"], ["snapshot", "create"],
        ["az", "fail"], ["state", "repair"], ["drill", "az-failure"], ["fault"], ["fault", "pause-io"],
        ["fault", "latency"],
    ])
    func helpReadsWellAt80Columns(command: [String]) throws {
        let run = try CommandRun.run(try BuiltBinary.berth(), command + ["--help"], in: BuiltBinary.packageRoot,
                                     environment: ["COLUMNS": "80", "LANG": "C.UTF-8"])
        #expect(run.status == 0)
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (index, line) in lines.enumerated() where !line.hasPrefix("USAGE:") {
            #expect(line.count <= 80, "\(command): \(line)")
            // An example line is followed by another example, a continuation, a blank or a heading.
            if line.hasPrefix("  berth ") || line.hasPrefix("    --"), index + 1 < lines.count {
                let next = lines[index + 1]
                #expect(next.isEmpty || next.hasPrefix("  ") || next.first?.isUppercase == true, "\(command): \(line) / \(next)")
            }
        }
    }

    @Test func plainASCIIWithoutAUTF8LocaleAndNoColourInAPipe() throws {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("berth-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: profile) }
        try """
            apiVersion: berth/v1
            kind: WorkloadProfile
            name: fargate-iops
            platform: {os: linux, launchType: fargate}
            access: {sharing: exclusive}
            performance: {iops: 20000}
            """.write(toFile: profile, atomically: true, encoding: .utf8)
        let ascii = try Self.berth("recommend", profile, environment: ["LC_ALL": "C"])
        #expect(ascii.status == 0)
        #expect(ascii.stdout.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(ascii.stdout.contains("x exclude"))
        #expect(!ascii.stdout.contains("\u{1B}["))
        let utf8 = try Self.berth("recommend", profile, environment: ["LC_ALL": "C.UTF-8"])
        #expect(utf8.stdout.contains("✗ exclude"))
        #expect(!utf8.stdout.contains("\u{1B}["))  // a pipe is not a terminal
        #expect(utf8.stdout.contains("Would rank above efs with one change:"))
    }

    @Test func theManualPageIsCurrent() throws {
        let run = try Self.berth("_man")
        #expect(run.status == 0)
        let onDisk = try String(contentsOf: BuiltBinary.packageRoot.appendingPathComponent("docs/berth.1"), encoding: .utf8)
        #expect(onDisk == run.stdout, "docs/berth.1 is stale: run `berth _man > docs/berth.1`")
        #expect(run.stdout.contains(".SS \"berth volume create\""))
        #expect(run.stdout.contains("generate\\-completion\\-script"))
    }

    @Test func completionScriptsAreGenerated() throws {
        for shell in ["bash", "zsh", "fish"] {
            let run = try Self.berth("--generate-completion-script", shell)
            #expect(run.status == 0)
            #expect(run.stdout.contains("recommend"))
        }
    }

    /// `volume list` and `volume describe` print the same keys, nulls included, for every type.
    @Test func volumeListAndDescribeHaveTheSameKeys() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("berth-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        var ids: [String] = []
        for arguments in [["--type", "ebs"], ["--type", "efs"], ["--type", "fsx-lustre"], ["--type", "fsx-windows", "--deployment", "multi-az"]] {
            let run = try CommandRun.run(try BuiltBinary.berth(), ["volume", "create", "--az", "us-east-1a", "--state-dir", state] + arguments)
            #expect(run.status == 0, "\(run.stderr)")
            ids.append(run.trimmedStdout)
        }
        let list = try Self.berth("volume", "list", "--format", "json", "--state-dir", state)
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        let keys = Set(try #require(listed.first).keys)
        #expect(listed.allSatisfy { Set($0.keys) == keys })
        for id in ids {
            let describe = try Self.berth("volume", "describe", id, "--format", "json", "--state-dir", state)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(describe.stdout.utf8)) as? [String: Any])
            #expect(Set(object.keys) == keys)
        }
        #expect(keys.isSuperset(of: ["standbyAvailabilityZone", "storageClass", "deployment", "lustreDeployment", "attachments"]))
    }
}
