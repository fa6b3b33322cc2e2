import Foundation
import StorageCatalog
import Testing
@testable import StoragePlanner
@testable import Workloads

@Suite struct ExampleProfileTests {
    static let expectedPicks: [(String, ServiceID)] = [
        ("cms-uploads.yaml", .efs),
        ("postgres-ec2.yaml", .ebs),
        ("ml-training.json", .fsxLustre),
        ("legacy-fileshare.yaml", .fsxWindows),
        ("sqlserver-windows.yaml", .fsxWindows),
        ("netapp-migration.yaml", .fsxONTAP),
        ("linux-fileserver-clones.yaml", .fsxOpenZFS),
        ("reference-data.yaml", .ebs),
        ("report-archive.yaml", .efs),
    ]

    @Test(arguments: expectedPicks)
    func eachExamplePicksItsService(file: String, expected: ServiceID) throws {
        let recommendation = Planner().recommend(try Fixtures.profile(file))
        #expect(recommendation.recommended?.service == expected)
    }

    @Test func everyExampleIsPinnedAndTogetherTheyCoverAllSix() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.profilesDirectory.path).filter { !$0.hasPrefix(".") }
        #expect(Set(files) == Set(Self.expectedPicks.map(\.0)))
        #expect(Set(Self.expectedPicks.map(\.1)) == Set(ServiceID.allCases))
    }

    /// docs/PROFILES.md lists every example with its pick and no longer repeats the field table (that is PROFILE.md's).
    @Test func docsProfilesListsEveryExampleWithItsPick() throws {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("docs/PROFILES.md"), encoding: .utf8)
        var listed: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, let pick = cells[2].split(separator: "`").first else { continue }
            listed[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = String(pick)
        }
        #expect(Set(listed.keys) == Set(Self.expectedPicks.map(\.0)))
        for (file, expected) in Self.expectedPicks { #expect(listed[file] == expected.rawValue, "\(file)") }
        #expect(!text.contains("`performance.iops`") && text.contains("(PROFILE.md)"))
    }

    @Test func configurationsFollowTheProfile() throws {
        let cms = Planner().recommend(try Fixtures.profile("cms-uploads.yaml"))
        #expect(cms.recommended?.configuration?["storageClass"] == "standard")
        let archive = Planner().recommend(try Fixtures.profile("report-archive.yaml"))
        #expect(archive.recommended?.configuration?["storageClass"] == "one-zone")
        #expect(archive.recommended?.configuration?["transitionToIA"] == "AFTER_30_DAYS")
        let postgres = Planner().recommend(try Fixtures.profile("postgres-ec2.yaml"))
        #expect(postgres.recommended?.configuration?["volumeType"] == "gp3")
        #expect(postgres.recommended?.configuration?["iops"] == 12000)
        let ml = Planner().recommend(try Fixtures.profile("ml-training.json"))
        #expect(ml.recommended?.configuration?["storageType"] == "SSD")  // sub-millisecond asked for
        let sql = Planner().recommend(try Fixtures.profile("sqlserver-windows.yaml"))
        #expect(sql.recommended?.configuration?["deploymentType"] == "MULTI_AZ_1")
    }
}

@Suite struct ConfigurationTests {
    @Test func ebsIsGp3UntilTheFiguresNeedIo2() {
        // gp3's limits since 2025 (EC2 CreateVolume): 80,000 IOPS, 2,000 MiB/s.
        #expect(Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.iops = 80_000 })["volumeType"] == "gp3")
        #expect(Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.iops = 80_001 })["volumeType"] == "io2")
        #expect(Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.throughputMiBps = 2_000 })["volumeType"] == "gp3")
        #expect(Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.throughputMiBps = 2_001 })["volumeType"] == "io2")
        #expect(Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.latency = .subMillisecond })["volumeType"] == "io2")
        #expect(Configurator.configure(.ebs, for: Fixtures.minimal(os: .windows))["filesystemType"] == "ntfs")
    }

    @Test func lustreIsHDDWithAReadCacheForLargeSequentialIO() {
        let hdd = Configurator.configure(.fsxLustre, for: Fixtures.minimal {
            $0.performance.ioPattern = .sequentialLarge
            $0.capacity.sizeGiB = 5_000
        })
        #expect(hdd["storageType"] == "HDD")
        #expect(hdd["storageCapacityGiB"] == 5_400)  // 40 MB/s/TiB HDD comes in multiples of 1,800 GiB
        #expect(hdd["readCacheGiB"] == 1_080)  // 20% of HDD storage
        let ssd = Configurator.configure(.fsxLustre, for: Fixtures.minimal { $0.performance.ioPattern = .randomSmall })
        #expect(ssd["storageType"] == "SSD")
        #expect(ssd["readCacheGiB"] == nil)
    }

    @Test(arguments: [ServiceID.fsxWindows, .fsxOpenZFS, .fsxONTAP])
    func fsxDeploymentFollowsMultiAZ(service: ServiceID) throws {
        let single = Configurator.configure(service, for: Fixtures.minimal())
        let multi = Configurator.configure(service, for: Fixtures.minimal { $0.availability.multiAZ = true })
        guard case .string(let s) = try #require(single["deploymentType"]), case .string(let m) = try #require(multi["deploymentType"]) else {
            Issue.record("deploymentType is not a string")
            return
        }
        #expect(s.hasPrefix("SINGLE_AZ"))
        #expect(m.hasPrefix("MULTI_AZ"))
    }
}

/// Each exclusion rule on the smallest profile that triggers it.
@Suite struct ExclusionRuleTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var rule: String
        var service: ServiceID
        var profile: WorkloadProfile
        var testDescription: String { "\(rule) excludes \(service)" }
    }

    static let cases: [Case] = [
        Case(rule: "ebs-single-attach", service: .ebs, profile: Fixtures.minimal(sharing: .shared, tasks: 2)),
        Case(rule: "platform-support", service: .efs, profile: Fixtures.minimal(os: .windows)),
        Case(rule: "platform-support", service: .efs, profile: Fixtures.minimal(os: .windows, launch: .fargate)),
        Case(rule: "platform-support", service: .fsxLustre, profile: Fixtures.minimal(launch: .fargate)),
        Case(rule: "platform-support", service: .fsxLustre, profile: Fixtures.minimal(os: .windows)),
        Case(rule: "platform-support", service: .fsxWindows, profile: Fixtures.minimal(launch: .fargate)),
        Case(rule: "platform-support", service: .fsxWindows, profile: Fixtures.minimal(os: .windows, launch: .fargate)),
        Case(rule: "platform-support", service: .fsxOpenZFS, profile: Fixtures.minimal(launch: .fargate)),
        Case(rule: "platform-support", service: .fsxOpenZFS, profile: Fixtures.minimal(os: .windows)),
        Case(rule: "platform-support", service: .fsxONTAP, profile: Fixtures.minimal(launch: .fargate)),
        Case(rule: "platform-support", service: .ebs, profile: Fixtures.minimal(os: .windows, launch: .fargate)),
        Case(rule: "dotnet-framework-needs-windows", service: .efs, profile: Fixtures.minimal(os: .windows, runtime: .dotnetFramework)),
        Case(rule: "dotnet-framework-needs-windows", service: .fsxLustre, profile: Fixtures.minimal(os: .windows, runtime: .dotnetFramework)),
        Case(rule: "dotnet-framework-needs-windows", service: .fsxOpenZFS, profile: Fixtures.minimal(os: .windows, runtime: .dotnetFramework)),
        Case(rule: "required-protocol", service: .ebs, profile: Fixtures.minimal { $0.protocols = [.iscsi] }),
        Case(rule: "required-protocol", service: .fsxWindows, profile: Fixtures.minimal { $0.protocols = [.iscsi] }),
        Case(rule: "required-protocol", service: .fsxOpenZFS, profile: Fixtures.minimal { $0.protocols = [.iscsi] }),
        Case(rule: "required-protocol", service: .efs, profile: Fixtures.minimal { $0.protocols = [.smb] }),
        Case(rule: "required-protocol", service: .fsxWindows, profile: Fixtures.minimal { $0.protocols = [.nfs] }),
        Case(rule: "required-protocol", service: .efs, profile: Fixtures.minimal { $0.protocols = [.block] }),
        Case(rule: "required-feature", service: .efs, profile: Fixtures.minimal { $0.features = [.snapshots] }),
        Case(rule: "required-feature", service: .ebs, profile: Fixtures.minimal { $0.features = [.s3DataRepository] }),
        Case(rule: "required-feature", service: .fsxOpenZFS, profile: Fixtures.minimal { $0.features = [.activeDirectory] }),
        Case(rule: "required-feature", service: .ebs, profile: Fixtures.minimal { $0.features = [.clones] }),
        Case(rule: "fargate-ebs-performance-cap", service: .ebs, profile: Fixtures.minimal(launch: .fargate) { $0.performance.iops = 15_001 }),
        Case(rule: "fargate-ebs-performance-cap", service: .ebs, profile: Fixtures.minimal(launch: .fargate) { $0.performance.throughputMiBps = 501 }),
        Case(rule: "performance-envelope", service: .ebs, profile: Fixtures.minimal { $0.performance.iops = 300_000 }),
        Case(rule: "performance-envelope", service: .fsxWindows, profile: Fixtures.minimal(os: .windows) { $0.performance.throughputMiBps = 20_000 }),
        Case(rule: "capacity-limit", service: .ebs, profile: Fixtures.minimal { $0.capacity.sizeGiB = 70_000 }),
        Case(rule: "capacity-limit", service: .fsxWindows, profile: Fixtures.minimal(os: .windows) { $0.capacity.sizeGiB = 70_000 }),
        // 12,000 MiB/s (12,583 MB/s) is within the catalogue's maximum but above FSx for Windows's largest tier (12,288 MB/s).
        Case(rule: "no-configuration-meets", service: .fsxWindows, profile: Fixtures.minimal(os: .windows) { $0.performance.throughputMiBps = 12_000 }),
        // 250,000 IOPS is within FSx for ONTAP's maximum (12 HA pairs) but beyond one HA pair's 200,000 SSD IOPS.
        Case(rule: "no-configuration-meets", service: .fsxONTAP, profile: Fixtures.minimal { $0.performance.iops = 250_000 }),
        Case(rule: "smb-only-for-linux-posix", service: .fsxWindows, profile: Fixtures.minimal(sharing: .shared, tasks: 2)),
    ]

    @Test(arguments: cases)
    func ruleExcludesService(_ c: Case) throws {
        let candidate = try #require(Planner().recommend(c.profile).candidates.first { $0.service == c.service })
        #expect(candidate.verdict == .excluded)
        #expect(candidate.score == 0)
        let reason = try #require(candidate.reasons.first { $0.rule == c.rule })
        #expect(reason.effect == .exclude)
        #expect(!reason.source.citation.isEmpty)
        #expect(!reason.message.isEmpty)
    }

    @Test func everyRuleThatCanExcludeHasACase() {
        let excluding = Set(RuleTable.rules.filter { $0.effects.contains("exclude") }.map(\.id))
        #expect(excluding == Set(Self.cases.map(\.rule)))
    }

    @Test func withoutTheTriggerTheServiceIsNotExcluded() {
        // The same minimal profile without any trigger: EBS, for one exclusive Linux task on EC2, fits.
        let r = Planner().recommend(Fixtures.minimal())
        #expect(r.recommended?.service == .ebs)
        #expect(r.candidates.first { $0.service == .efs }?.verdict == .viable)
    }

    @Test func fsxWindowsOnFargateNamesBothSeedStatementsAndTheWayOut() throws {
        let r = Planner().recommend(Fixtures.minimal(os: .windows, launch: .fargate, sharing: .shared, tasks: 2))
        let windows = try #require(r.candidates.first { $0.service == .fsxWindows })
        let reason = try #require(windows.reasons.first)
        #expect(reason.source.citation.contains("https://github.com/aws/containers-roadmap/issues/1654"))
        #expect(reason.source.citation.hasPrefix("https://docs.aws.amazon.com/AmazonECS/"))
        #expect(r.wayOut[.fsxWindows]?.contains("the EC2 launch type") == true)
    }
}

@Suite struct RankingTests {
    @Test func allExcludedHasNoPickAndSaysWhatWouldFit() {
        let r = Planner().recommend(Fixtures.minimal(os: .windows, launch: .fargate, sharing: .shared, tasks: 3))
        #expect(r.recommended == nil)
        #expect(r.candidates.allSatisfy { $0.verdict == .excluded && $0.reasons.contains { $0.effect == .exclude } })
        #expect(r.wayOut[.efs] == ["Linux containers"])
        #expect(r.wayOut[.fsxLustre] == ["the EC2 launch type with Linux containers"])
        let text = ReportRenderer.wayOutText(r)
        #expect(text.contains("the EC2 launch type would allow fsx-windows"))
    }

    @Test func candidatesAreAllSixBestFirstWithExactlyOneRecommended() throws {
        for file in ExampleProfileTests.expectedPicks.map(\.0) {
            let r = Planner().recommend(try Fixtures.profile(file))
            #expect(Set(r.candidates.map(\.service)) == Set(ServiceID.allCases))
            #expect(r.candidates.filter { $0.verdict == .recommended }.count == 1)
            #expect(r.candidates.map(\.score) == r.candidates.map(\.score).sorted(by: >))
            #expect(r.candidates.first?.verdict == .recommended)
        }
    }

    @Test func scoresStayWithinBounds() {
        let r = Planner().recommend(Fixtures.minimal(sharing: .shared, tasks: 4) {
            $0.migration = .netappONTAP
            $0.performance.latency = .subMillisecond
            $0.availability.multiAZ = true
        })
        #expect(r.candidates.allSatisfy { (0...100).contains($0.score) })
    }
}

@Suite struct JSONReportTests {
    @Test func jsonHasTheContractsShape() throws {
        let r = Planner().recommend(try Fixtures.profile("cms-uploads.yaml"))
        let text = ReportRenderer.render([r], as: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["profile"] as? String == "cms-uploads")
        #expect(object["recommended"] as? String == "efs")
        let candidates = try #require(object["candidates"] as? [[String: Any]])
        #expect(candidates.count == 6)
        #expect(candidates.compactMap { $0["service"] as? String } == r.candidates.map(\.service.rawValue))
        for c in candidates {
            let verdict = try #require(c["verdict"] as? String)
            #expect(["recommended", "viable", "excluded"].contains(verdict))
            #expect(c["score"] is Int)
            let reasons = try #require(c["reasons"] as? [[String: Any]])
            for reason in reasons {
                #expect(Set(reason.keys).isSuperset(of: ["rule", "effect", "message", "source"]))
                #expect(["exclude", "favor", "disfavor"].contains(reason["effect"] as? String ?? ""))
            }
            if verdict == "excluded" {
                #expect(reasons.contains { $0["effect"] as? String == "exclude" })
            }
        }
        let efs = try #require(candidates.first { $0["service"] as? String == "efs" })
        #expect((efs["configuration"] as? [String: Any])?["storageClass"] as? String == "standard")
    }

    @Test func allExcludedGivesNullRecommended() throws {
        let r = Planner().recommend(Fixtures.minimal(os: .windows, launch: .fargate, sharing: .shared, tasks: 3))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(ReportRenderer.render([r], as: .json).utf8)) as? [String: Any])
        #expect(object["recommended"] is NSNull)
    }

    @Test func severalProfilesGiveAnArray() throws {
        let rs = try ["cms-uploads.yaml", "postgres-ec2.yaml"].map { Planner().recommend(try Fixtures.profile($0)) }
        let array = try #require(try JSONSerialization.jsonObject(with: Data(ReportRenderer.render(rs, as: .json).utf8)) as? [[String: Any]])
        #expect(array.compactMap { $0["recommended"] as? String } == ["efs", "ebs"])
    }

    @Test func jsonStringsAreEscaped() {
        let value: JSONValue = .object([("a\"b", .string("line\nbreak\u{1}\\"))])
        #expect(value.rendered(pretty: false) == #"{"a\"b":"line\nbreak\u0001\\"}"#)
    }

    @Test func markdownAndTextNameThePick() throws {
        let r = Planner().recommend(try Fixtures.profile("postgres-ec2.yaml"))
        #expect(ReportRenderer.render([r], as: .markdown).contains("**ebs**"))
        #expect(ReportRenderer.render([r], as: .text).hasPrefix("postgres-ec2: recommended ebs"))
    }
}

@Suite struct RulesDocumentTests {
    @Test func docsRulesMatchesTheCommandOutput() throws {
        let onDisk = try String(contentsOf: Fixtures.root.appendingPathComponent("docs/RULES.md"), encoding: .utf8)
        #expect(onDisk == RulesDocument.render(as: .markdown), "docs/RULES.md is stale: run `berth rules --format markdown > docs/RULES.md`")
    }

    /// The docs cite only what a clone contains: no "seed §" (a text no user has), no German headings, no
    /// paths outside the repository.
    @Test func docsCiteOnlyWhatTheRepositoryContains() throws {
        let docs = Fixtures.root.appendingPathComponent("docs")
        let files = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }
            .map { docs.appendingPathComponent($0) } + [Fixtures.root.appendingPathComponent("README.md")]
        #expect(files.count > 5)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for banned in ["seed §", "../shared/", "/work/shared", "emulator.md", " für ", "Speicheroptionen"] {
                #expect(!text.contains(banned), "\(file.lastPathComponent) contains \(banned)")
            }
        }
    }

    @Test func ruleIdsAreUniqueAndSourced() {
        let ids = RuleTable.rules.map(\.id)
        #expect(Set(ids).count == ids.count)
        #expect(RuleTable.rules.allSatisfy { !$0.source.citation.isEmpty && !$0.condition.isEmpty })
    }
}
