import Testing
import Workloads

/// Issue 14: profile errors where the user must look, in file order.
@Suite struct ProfileErrorTests {
    static func diagnostics(_ text: String, file: String = "p.yaml") -> [ProfileDiagnostic] {
        do {
            _ = try ProfileLoader.parse(text, file: file)
            return []
        } catch let error as InvalidProfileError {
            return error.diagnostics
        } catch {
            Issue.record("unexpected \(error)")
            return []
        }
    }

    @Test func aDuplicateKeyIsReportedWhereItRepeats() {
        let found = Self.diagnostics("""
            apiVersion: berth/v1
            kind: WorkloadProfile
            name: dup
            platform:
              os: linux
              launchType: ec2
              os: windows
            access: {sharing: shared}
            """)
        #expect(found.count == 1)
        #expect(found.first?.line == 7)
        #expect(found.first?.message.contains("more than once in one mapping: os") == true)
    }

    @Test func anErrorInsideAnAliasPointsAtTheAliasUse() {
        let found = Self.diagnostics("""
            apiVersion: berth/v1
            kind: WorkloadProfile
            name: alias
            x-perf: &perf
              latency: fast
            platform: {os: linux, launchType: ec2}
            access: {sharing: shared}
            performance: *perf
            """)
        #expect(found.map(\.line) == [8])
        #expect(found.first?.path == "performance.latency")
    }

    @Test func mergeKeysAreReadAndTheirErrorsPointAtTheMerge() throws {
        let profile = try ProfileLoader.parse("""
            apiVersion: berth/v1
            kind: WorkloadProfile
            name: merged
            x-defaults: &acc {sharing: shared, tasks: 2}
            platform: {os: linux, launchType: ec2}
            access:
              <<: *acc
              tasks: 3
            """, file: "m.yaml")
        #expect(profile.access.sharing == .shared)
        #expect(profile.access.tasks == 3)  // the mapping's own key wins over the merged one
        let found = Self.diagnostics("""
            apiVersion: berth/v1
            kind: WorkloadProfile
            name: merged
            platform: &plat
              os: linux
              launchType: ec2
            access:
              <<: *plat
              sharing: shared
            """)
        #expect(found.map(\.path) == ["access.os", "access.launchType"])
        #expect(found.allSatisfy { $0.line == 8 })
        #expect(!found.contains { $0.path.contains("<<") })
    }

    @Test func errorsAreSortedByLine() {
        let found = Self.diagnostics("""
            apiVersion: berth/v1
            kind: WorkloadProfile
            name: order
            performance: {iops: -1}
            platform:
              os: lunix
            access:
              sharing: sharde
            """)
        #expect(found.count >= 3)
        #expect(found.map(\.line) == found.map(\.line).sorted())
    }

    @Test func aTrailingCommaInJSONIsRefusedWithItsLocation() {
        let found = Self.diagnostics("""
            {"apiVersion": "berth/v1", "kind": "WorkloadProfile", "name": "j",
             "platform": {"os": "linux", "launchType": "ec2",},
             "access": {"sharing": "shared"}}
            """, file: "p.json")
        #expect(found.count == 1)
        #expect(found.first?.line == 2)
        #expect(found.first?.column == 49)
        #expect(found.first?.message.contains("trailing comma") == true)
        // A comma inside a string is not one.
        #expect(Self.diagnostics("""
            {"apiVersion": "berth/v1", "kind": "WorkloadProfile", "name": "j", "description": "a,}",
             "platform": {"os": "linux", "launchType": "ec2"}, "access": {"sharing": "shared"}}
            """, file: "p.json").isEmpty)
    }
}
