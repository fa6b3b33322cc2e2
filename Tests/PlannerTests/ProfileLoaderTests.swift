import Foundation
import StorageCatalog
import Testing
@testable import Workloads

/// The workload-profile contract: every field, every default, and the errors.
@Suite struct ProfileLoaderTests {
    static let fullExample = """
        apiVersion: berth/v1
        kind: WorkloadProfile
        name: cms-uploads
        description: Uploaded media of a horizontally scaled CMS
        platform:
          os: linux
          launchType: fargate
          architecture: arm64
          runtime: dotnet
        access:
          sharing: shared
          tasks: 6
          locking: true
        availability:
          multiAZ: true
        performance:
          latency: sub-millisecond
          ioPattern: random-small
          throughputMiBps: 250
          iops: 12000
        capacity:
          sizeGiB: 500
          growth: elastic
          accessFrequency: infrequent
        protocols: [nfs]
        features: [snapshots, encryption-at-rest]
        migration: linux-file-server
        cost: performance
        """

    @Test func everyFieldOfTheContractIsRead() throws {
        let p = try ProfileLoader.parse(Self.fullExample, file: "full.yaml")
        #expect(p.name == "cms-uploads")
        #expect(p.description == "Uploaded media of a horizontally scaled CMS")
        #expect(p.platform == .init(os: .linux, launchType: .fargate, architecture: .arm64, runtime: .dotnet))
        #expect(p.access == .init(sharing: .shared, tasks: 6, locking: true))
        #expect(p.availability.multiAZ)
        #expect(p.performance == .init(latency: .subMillisecond, ioPattern: .randomSmall, throughputMiBps: 250, iops: 12000))
        #expect(p.capacity == .init(sizeGiB: 500, growth: .elastic, accessFrequency: .infrequent))
        #expect(p.protocols == [.nfs])
        #expect(p.features == [.snapshots, .encryptionAtRest])
        #expect(p.migration == .linuxFileServer)
        #expect(p.cost == .performance)
    }

    @Test func defaultsFollowTheContract() throws {
        let p = try ProfileLoader.parse("""
            apiVersion: berth/v1
            kind: WorkloadProfile
            name: minimal
            platform: {os: windows, launchType: ec2}
            access: {sharing: exclusive}
            """, file: "min.yaml")
        #expect(p.description == nil)
        #expect(p.platform.architecture == .x86_64)
        #expect(p.platform.runtime == .dotnet)
        #expect(p.access.tasks == 1)
        #expect(p.access.locking == false)
        #expect(p.availability.multiAZ == false)
        #expect(p.performance.latency == .standard)
        #expect(p.performance.ioPattern == .mixed)
        #expect(p.performance.throughputMiBps == nil && p.performance.iops == nil)
        #expect(p.capacity.sizeGiB == nil)
        #expect(p.capacity.growth == .fixed)
        #expect(p.capacity.accessFrequency == .frequent)
        #expect(p.protocols.isEmpty && p.features.isEmpty)
        #expect(p.migration == .none)
        #expect(p.cost == .balanced)
    }

    @Test func jsonProfilesReadLikeYAML() throws {
        let p = try ProfileLoader.parse("""
            {"apiVersion": "berth/v1", "kind": "WorkloadProfile", "name": "j",
             "platform": {"os": "linux", "launchType": "ec2"},
             "access": {"sharing": "shared", "tasks": 3, "locking": true},
             "features": ["clones"]}
            """, file: "p.json")
        #expect(p.access == .init(sharing: .shared, tasks: 3, locking: true))
        #expect(p.features == [.clones])
    }

    @Test(arguments: [
        ("apiVersion", "berth/v1"), ("kind", "WorkloadProfile"),
    ])
    func headerValuesAreChecked(field: String, good: String) throws {
        let text = Self.fullExample.replacingOccurrences(of: "\(field): \(good)", with: "\(field): other")
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "h.yaml") }
        let d = try #require(error.diagnostics.first)
        #expect(d.path == field)
        #expect(d.expected?.contains(good) == true)
    }

    @Test func aBadWordNamesFileLineColumnPathAndTheAcceptedWords() throws {
        let text = Self.fullExample.replacingOccurrences(of: "sharing: shared", with: "sharing: shard")
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "cms.yaml") }
        #expect(error.diagnostics.count == 1)
        let d = try #require(error.diagnostics.first)
        #expect(d.file == "cms.yaml")
        #expect(d.line == 11)
        #expect(d.column == 12)
        #expect(d.path == "access.sharing")
        #expect(d.expected == "one of exclusive, shared, read-only-shared")
        #expect(d.message.contains("did you mean \"shared\""))
        #expect(d.description.hasPrefix("cms.yaml:11:12: error: access.sharing: "))
    }

    @Test func aMisspeltFieldIsAnErrorWithDidYouMean() throws {
        let text = Self.fullExample.replacingOccurrences(of: "multiAZ: true", with: "multiAz: true")
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "cms.yaml") }
        let d = try #require(error.diagnostics.first)
        #expect(d.path == "availability.multiAz")
        #expect(d.message.contains("did you mean \"multiAZ\""))
        #expect(d.line == 15 && d.column == 3)
    }

    @Test func anUnknownFieldFarFromAnyNameIsStillAnError() throws {
        let text = Self.fullExample + "\nbudget: 12\n"
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "x.yaml") }
        let d = try #require(error.diagnostics.first)
        #expect(d.path == "budget")
        #expect(d.message == "unknown field")
        #expect(d.expected?.contains("availability") == true)
    }

    @Test func everyProblemIsListedAtOnce() throws {
        let text = """
            apiVersion: berth/v2
            kind: WorkloadProfile
            name: Bad_Name
            platform: {os: linux, launchType: lambda}
            access: {sharing: shared, tasks: zero}
            performance: {latency: fast}
            features: [snapshots, teleport]
            """
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "bad.yaml") }
        let paths = error.diagnostics.map(\.path)
        #expect(paths == ["apiVersion", "name", "platform.launchType", "access.tasks", "performance.latency", "features[1]"])
        #expect(error.diagnostics.allSatisfy { $0.line > 0 && $0.column > 0 && $0.expected != nil })
    }

    @Test func missingRequiredFieldsAreNamed() throws {
        let error = try #require(throws: InvalidProfileError.self) {
            try ProfileLoader.parse("apiVersion: berth/v1\nkind: WorkloadProfile\nplatform: {os: linux}\n", file: "m.yaml")
        }
        let paths = Set(error.diagnostics.map(\.path))
        #expect(paths == ["name", "platform.launchType", "access"])
    }

    @Test func dotnetFrameworkOnLinuxSaysItNeedsWindows() throws {
        let text = Self.fullExample.replacingOccurrences(of: "runtime: dotnet", with: "runtime: dotnet-framework")
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "f.yaml") }
        let d = try #require(error.diagnostics.first)
        #expect(d.path == "platform.runtime")
        #expect(d.message.contains(".NET Framework needs Windows containers"))
    }

    @Test func exclusiveWithSeveralTasksIsRefused() throws {
        let text = Self.fullExample.replacingOccurrences(of: "sharing: shared", with: "sharing: exclusive")
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "e.yaml") }
        #expect(error.diagnostics.map(\.path) == ["access.tasks"])
    }

    @Test(arguments: ["", "name: [unclosed", "- just\n- a list\n", "apiVersion: berth/v1\napiVersion: berth/v1\n"])
    func malformedDocumentsAreLocatedErrorsNotCrashes(text: String) throws {
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "s.yaml") }
        #expect(!error.diagnostics.isEmpty)
        #expect(error.diagnostics.allSatisfy { $0.file == "s.yaml" && $0.line >= 1 })
    }

    @Test func quotedNumbersAndWordyBooleansAreRefused() throws {
        let text = Self.fullExample
            .replacingOccurrences(of: "tasks: 6", with: "tasks: \"6\"")
            .replacingOccurrences(of: "locking: true", with: "locking: yes")
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "q.yaml") }
        #expect(error.diagnostics.map(\.path) == ["access.tasks", "access.locking"])
    }

    @Test func aMissingFileIsAReadError() {
        #expect(throws: ProfileReadError.self) { try ProfileLoader.load(path: "/nonexistent/profile.yaml") }
    }

    @Test func aDirectoryOrAnOversizedFileIsARefusalThatSaysWhy() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-profiles-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let directoryError = try #require(throws: ProfileReadError.self) { try ProfileLoader.load(path: directory.path) }
        #expect(directoryError.reason.contains("is a directory"))

        let atCap = directory.appendingPathComponent("at-cap.yaml")
        try Data(repeating: UInt8(ascii: "a"), count: ProfileLoader.maximumFileBytes).write(to: atCap)
        #expect(throws: InvalidProfileError.self) { try ProfileLoader.load(path: atCap.path) }
        let overCap = directory.appendingPathComponent("over-cap.yaml")
        try Data(repeating: UInt8(ascii: "a"), count: ProfileLoader.maximumFileBytes + 1).write(to: overCap)
        let sizeError = try #require(throws: ProfileReadError.self) { try ProfileLoader.load(path: overCap.path) }
        #expect(sizeError.reason.contains("larger than 1 MiB"))
        // A file that never ends: the cap ends the read.
        let endless = try #require(throws: ProfileReadError.self) { try ProfileLoader.load(path: "/dev/zero") }
        #expect(endless.reason.contains("larger than 1 MiB"))
    }

    @Test func longValuesAndKeysAreQuotedShort() throws {
        // YAML allows a plain key of up to 1024 characters; a value may be any length.
        let longValue = String(repeating: "x", count: 100_000), longKey = String(repeating: "x", count: 1_000)
        let text = Self.fullExample.replacingOccurrences(of: "sharing: shared", with: "sharing: \(longValue)")
            + "\n\(longKey): 1\n"
        let error = try #require(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "l.yaml") }
        #expect(error.diagnostics.count == 2)
        #expect(error.description.utf8.count < 2_000)
        let excerpt = String(repeating: "x", count: 59) + "…"
        #expect(error.diagnostics.contains { $0.message.contains("\"\(excerpt)\" is not accepted") })
        #expect(error.diagnostics.contains { $0.path == excerpt })
    }

    @Test func suggestionsAreCloseOrAbsent() {
        #expect(Suggestion.closest(to: "multiaz", in: ["multiAZ"]) == "multiAZ")
        #expect(Suggestion.closest(to: "lauchType", in: ["os", "launchType"]) == "launchType")
        #expect(Suggestion.closest(to: "zzz", in: ["exclusive", "shared"]) == nil)
    }
}
