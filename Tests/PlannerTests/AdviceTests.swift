import Foundation
import Testing
import StorageCatalog
import StoragePlanner
import Workloads

/// Issue 14's advice: positive reasons, what would fit with a change, NFS locks, SMB for Linux, messages.
@Suite struct AdviceTests {
    @Test func everyRankedServiceCarriesAPositiveReason() throws {
        for file in try FileManager.default.contentsOfDirectory(atPath: Fixtures.root.appendingPathComponent("Profiles").path) {
            let r = Planner().recommend(try Fixtures.profile(file))
            for c in r.candidates where !c.isExcluded {
                #expect(c.reasons.contains { $0.effect != .exclude && $0.effect.weight >= 0 }, "\(file): \(c.service)")
                #expect(c.reasons.contains { $0.rule == "service-role" }, "\(file): \(c.service)")
            }
            if let pick = r.recommended {
                #expect(pick.reasons.contains { $0.effect.weight > 0 }, "\(file): the winner is explained by what it does")
            }
        }
    }

    @Test func fargateIOPSBeyondEBSSaysEC2WouldFit() throws {
        let r = Planner().recommend(Fixtures.minimal(launch: .fargate) { $0.performance.iops = 20_000 })
        #expect(r.recommended?.service == .efs)
        let ebs = try #require(r.candidates.first { $0.service == .ebs })
        let reason = try #require(ebs.reasons.first { $0.rule == "fargate-ebs-performance-cap" })
        #expect(reason.message.hasSuffix("the profile asks for 20,000 IOPS"))
        #expect(!reason.message.contains(" and 0 MiB/s"))
        #expect(r.wayOut[.ebs] == ["the EC2 launch type"])
        let text = ReportRenderer.text(r, style: .plain)
        #expect(text.contains("Would rank above efs with one change:\n  - ebs: with the EC2 launch type"))
        let efs = try #require(r.candidates.first { $0.service == .efs })
        #expect(efs.reasons.contains { $0.rule == "meets-performance" })
    }

    @Test func nothingBetterRuledOutSaysNothingMore() {
        let r = Planner().recommend(Fixtures.minimal())
        #expect(r.recommended?.service == .ebs)
        #expect(r.wayOut.isEmpty)
    }

    @Test func linuxPOSIXWithLocksGetsAnNFSServerAndNotSMB() throws {
        let r = Planner().recommend(Fixtures.minimal(sharing: .shared, tasks: 4) {
            $0.access.locking = true
            $0.performance.iops = 10_000
            $0.performance.latency = .subMillisecond
            $0.performance.ioPattern = .randomSmall
        })
        #expect(r.recommended?.service == .fsxOpenZFS)
        for service in [ServiceID.fsxOpenZFS, .fsxONTAP, .efs, .fsxLustre] {
            let c = try #require(r.candidates.first { $0.service == service })
            #expect(c.reasons.contains { $0.rule == "locking-across-tasks" && $0.effect == .favor(5) }, "\(service)")
        }
        let windows = try #require(r.candidates.first { $0.service == .fsxWindows })
        #expect(windows.verdict == .excluded)
        #expect(windows.reasons.contains { $0.rule == "smb-only-for-linux-posix" })
        // Saying that the application speaks SMB makes it a candidate again.
        let smb = Planner().recommend(Fixtures.minimal(sharing: .shared, tasks: 4) { $0.protocols = [.smb] })
        #expect(smb.candidates.first { $0.service == .fsxWindows }?.isExcluded == false)
    }

    @Test func textIsASCIIWithoutAUTF8LocaleAndHasNoColourInAPipe() throws {
        let r = Planner().recommend(Fixtures.minimal(launch: .fargate) { $0.performance.iops = 20_000 })
        let plain = ReportRenderer.text(r, style: .plain)
        #expect(plain.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(plain.contains("x exclude"))
        #expect(!plain.contains("\u{1B}["))
        let coloured = ReportRenderer.text(r, style: OutputStyle(unicode: true, colour: true))
        #expect(coloured.contains("✗ exclude"))
        #expect(coloured.contains("\u{1B}[31m"))
    }

    @Test func outputStyleFollowsLocaleTerminalAndNoColor() {
        #expect(OutputStyle.detect(environment: ["LC_ALL": "C", "LANG": "en_US.UTF-8"], isTerminal: true) == OutputStyle(unicode: false, colour: true))
        #expect(OutputStyle.detect(environment: ["LANG": "en_US.UTF-8"], isTerminal: false) == .unicodePlain)
        #expect(OutputStyle.detect(environment: ["LANG": "C.utf8", "NO_COLOR": "1"], isTerminal: true) == .unicodePlain)
        #expect(OutputStyle.detect(environment: ["LANG": "C.UTF-8", "TERM": "dumb"], isTerminal: true) == .unicodePlain)
        #expect(OutputStyle.plain.apply("a − b ✗ 250 µs…") == "a - b x 250 us...")
        // A report's result line (berth drill): the word painted on a terminal, nothing else touched.
        let report = "AZ failure drill\n  result             passed\nsteps:\n  passed on\n"
        let terminal = OutputStyle(unicode: true, colour: true)
        #expect(terminal.paint("passed", endingLinesStartingWith: "  result ", in: report, .green)
                == "AZ failure drill\n  result             \u{1B}[32mpassed\u{1B}[0m\nsteps:\n  passed on\n")
        #expect(OutputStyle.unicodePlain.paint("passed", endingLinesStartingWith: "  result ", in: report, .green) == report)
    }

    @Test func efsTaskDefinitionNamesATaskRole() throws {
        let draft = try TaskDefinitionBuilder.build(Planner().recommend(try Fixtures.profile("cms-uploads.yaml")))
        guard case .object(let fields) = draft.taskDefinition else {
            Issue.record("not an object")
            return
        }
        #expect(fields.first { $0.0 == "taskRoleArn" }?.1 == "<TASK_ROLE_ARN>")
        #expect(draft.placeholders.contains { $0.placeholder == "<TASK_ROLE_ARN>" })
        let ebs = try TaskDefinitionBuilder.build(Planner().recommend(try Fixtures.profile("postgres-ec2.yaml")))
        guard case .object(let ebsFields) = ebs.taskDefinition else { return }
        #expect(!ebsFields.contains { $0.0 == "taskRoleArn" })
    }

    @Test func largeSequentialDataGetsHDDWhenItIsTheSmallerFileSystem() throws {
        let c = Configurator.configure(.fsxLustre, for: Fixtures.minimal {
            $0.performance.ioPattern = .sequentialLarge
            $0.performance.throughputMiBps = 1_200
            $0.capacity.sizeGiB = 51_200
        })
        #expect(c["storageType"] == "HDD")
        #expect(c["storageCapacityGiB"] == 52_200)  // a multiple of 1,800 at 40 MB/s/TiB
        #expect(c["perUnitStorageThroughput"] == 40)
    }
}

@Suite struct SourceTests {
    /// Sources are pages a user can open: every rule and every reason cites an AWS documentation URL; the
    /// course text appears only beside one, as "course text §" with an English heading.
    @Test func everyRuleAndReasonCitesAnAWSPage() throws {
        for rule in RuleTable.rules {
            #expect(rule.source.urls.contains { $0.hasPrefix("https://docs.aws.amazon.com/") }, "\(rule.id)")
            #expect(!rule.source.citation.contains("seed §"))
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: Fixtures.root.appendingPathComponent("Profiles").path) {
            for candidate in Planner().recommend(try Fixtures.profile(file)).candidates {
                for reason in candidate.reasons {
                    #expect(reason.source.urls.contains { $0.hasPrefix("https://") }, "\(file) \(reason.rule)")
                    #expect(!reason.source.citation.contains("für"), "\(reason.source)")
                }
            }
        }
    }
}

@Suite struct ConfigurationJSONTests {
    @Test func io2ReasoningIsInTheJSONToo() throws {
        let r = Planner().recommend(Fixtures.minimal {
            $0.performance.iops = 8_000
            $0.performance.latency = .subMillisecond
        })
        guard case .object(let top) = ReportRenderer.json(r), case .array(let candidates)? = top.first(where: { $0.0 == "candidates" })?.1,
              case .object(let ebs)? = candidates.first else {
            Issue.record("unexpected JSON shape")
            return
        }
        #expect(ebs.first { $0.0 == "service" }?.1 == "ebs")
        guard case .array(let notes)? = ebs.first(where: { $0.0 == "configurationNotes" })?.1 else {
            Issue.record("no configurationNotes")
            return
        }
        #expect(notes.contains { if case .string(let s) = $0 { s.hasPrefix("io2, not gp3:") } else { false } })
    }
}
