import Foundation
import StorageCatalog
import Testing
@testable import EmulatorCore

@Suite struct StateIdentifierTests {
    @Test func acceptsExactlyTheGeneratedShapes() {
        #expect(VolumeID(rawValue: "vol-0123456789abcdef0") != nil)
        #expect(VolumeID(rawValue: "fs-0123456789abcdef0") != nil)
        #expect(SnapshotID(rawValue: "snap-0123456789abcdef0") != nil)
        #expect(AttachmentID(rawValue: "att-0123456789abcdef0") != nil)
        for type in ServiceID.allCases {
            let id = VolumeID.generate(for: type)
            #expect(VolumeID(rawValue: id.rawValue) == id)
            #expect(id.rawValue.hasPrefix(type == .ebs ? "vol-" : "fs-"))
            #expect(id.isFileSystem == (type != .ebs))
        }
        #expect(SnapshotID(rawValue: SnapshotID.generate().rawValue) != nil)
        #expect(AttachmentID(rawValue: AttachmentID.generate().rawValue) != nil)
        let task = generateTaskID()
        #expect(task.count == 10 && task.hasPrefix("t-"))
    }

    @Test(arguments: [
        "", "vol-", "../etc", "../../etc/passwd", "vol-../../../../etc", "vol-0123456789abcdef0/..",
        "vol-0123456789abcdef0/../../x", "vol-0123456789ABCDEF0", "vol-0123456789abcdef", "vol-0123456789abcdef01",
        "vol-0123456789abcdeg0", " vol-0123456789abcdef0", "vol-0123456789abcdef0\n", "vol-0123456789abcdef\u{0}",
        "vol-０123456789abcdef0", "snap-0123456789abcdef0", "fs-0123456789abcde", "/vol-0123456789abcdef0",
        "vol-.0123456789abcdef", "VOL-0123456789abcdef0",
    ])
    func refusesEverythingElse(_ text: String) {
        #expect(VolumeID(rawValue: text) == nil)
        let error = stateError { () throws(StateError) in try VolumeID(parsing: text) }
        #expect(error == .malformedVolumeID(text))
        #expect(error?.awsErrorName == "InvalidVolumeID.Malformed")
    }

    @Test func otherIDTypesRefuseTraversal() {
        for text in ["snap-../../x", "snap-0123456789abcdef0/..", "vol-0123456789abcdef0"] {
            #expect(SnapshotID(rawValue: text) == nil)
            #expect(stateError { () throws(StateError) in try SnapshotID(parsing: text) }?.awsErrorName == "InvalidSnapshotID.Malformed")
        }
        #expect(AttachmentID(rawValue: "att-../../../x") == nil)
        #expect(stateError { () throws(StateError) in try AttachmentID(parsing: "att-1") }?.awsErrorName == "InvalidParameterValue")
    }

    @Test func decodingRefusesMalformedIDs() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([VolumeID].self, from: Data(#"["vol-../../etc"]"#.utf8)) }
        #expect(throws: Never.self) { try JSONDecoder().decode([VolumeID].self, from: Data(#"["vol-0123456789abcdef0"]"#.utf8)) }
    }

    @Test func volumePathsStayUnderTheStateDirectory() throws {
        let directory = StateDirectory(path: "/srv/state/")
        let id = try VolumeID(parsing: "vol-0123456789abcdef0")
        #expect(directory.path == "/srv/state")
        #expect(directory.dataDirectory(id) == "/srv/state/volumes/vol-0123456789abcdef0/data")
        #expect(directory.sharedDirectory(id) == "/srv/state/volumes/vol-0123456789abcdef0/shared")
        #expect(directory.snapshotDirectory(try SnapshotID(parsing: "snap-0123456789abcdef0")) == "/srv/state/snapshots/snap-0123456789abcdef0")
        #expect(directory.databasePath == "/srv/state/berth.sqlite")
    }
}

@Suite struct StateDirectoryResolutionTests {
    @Test func flagThenEnvironmentThenXDGThenHome() throws {
        let env = ["BERTH_STATE_DIR": "/env/state", "XDG_STATE_HOME": "/xdg", "HOME": "/home/u"]
        #expect(try StateDirectory.resolve(flag: "/flag/state", environment: env).path == "/flag/state")
        #expect(try StateDirectory.resolve(flag: nil, environment: env).path == "/env/state")
        #expect(try StateDirectory.resolve(flag: "", environment: env).path == "/env/state")
        #expect(try StateDirectory.resolve(flag: nil, environment: ["XDG_STATE_HOME": "/xdg", "HOME": "/home/u"]).path == "/xdg/berth")
        #expect(try StateDirectory.resolve(flag: nil, environment: ["BERTH_STATE_DIR": "", "HOME": "/home/u"]).path
            == "/home/u/.local/state/berth")
        // XDG Base Directory specification: relative paths are invalid and ignored.
        #expect(try StateDirectory.resolve(flag: nil, environment: ["XDG_STATE_HOME": "rel", "HOME": "/home/u"]).path
            == "/home/u/.local/state/berth")
        #expect(stateError { () throws(StateError) in try StateDirectory.resolve(flag: nil, environment: [:]) } == .noStateDirectory)
    }

    @Test func relativeFlagIsMadeAbsoluteAndNormalised() throws {
        let cwd = FileManager.default.currentDirectoryPath
        #expect(try StateDirectory.resolve(flag: "a/./b/../c/", environment: [:]).path == (cwd == "/" ? "" : cwd) + "/a/c")
        #expect(StateDirectory(path: "/x//y/../../..").path == "/")
    }
}

@Suite struct StateRegionConfigurationTests {
    @Test func environmentOverrides() throws {
        #expect(try RegionConfiguration.fromEnvironment([:]) == nil)
        #expect(try RegionConfiguration.fromEnvironment(["BERTH_AZS": "a, b"])?.zones == ["us-east-1a", "us-east-1b"])
        let eu = try RegionConfiguration.fromEnvironment(["BERTH_REGION": "eu-west-1"])
        #expect(eu?.name == "eu-west-1" && eu?.zones == ["eu-west-1a", "eu-west-1b", "eu-west-1c"])
        #expect(try RegionConfiguration.fromEnvironment(["BERTH_REGION": "us-west-2", "BERTH_AZS": "us-west-2a,b,us-west-2-lax-1a"])?.zones
            == ["us-west-2a", "us-west-2b", "us-west-2-lax-1a"])
    }

    @Test(arguments: [
        ("us-east-1", ["../x"]), ("us-east-1", ["a", "a"]), ("us-east-1", ["eu-west-1a"]), ("us-east-1", []),
        ("US-EAST-1", ["a"]), ("us-east-1/..", ["a"]), ("us-east-1", ["a/b"]),
    ])
    func refusesMalformedRegions(_ name: String, _ zones: [String]) {
        let error = stateError { () throws(StateError) in try RegionConfiguration(name: name, zones: zones) }
        #expect(error?.awsErrorName == "InvalidParameterValue")
    }
}
