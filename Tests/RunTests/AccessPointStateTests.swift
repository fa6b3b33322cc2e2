import EmulatorCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Access point records and the served root, without mounting.
@Suite struct AccessPointStateTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-ap-\(UUID().uuidString)").path

    func store() throws -> StateStore {
        try StateStore(directory: StateDirectory(path: root + "/state"))
    }

    func refusal<T>(_ body: () throws(AccessPointError) -> T) -> AccessPointError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func createListDescribeDelete() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try store()
        let fs = try store.createVolume(type: .efs, az: "us-east-1a")
        let created = try store.createAccessPoint(
            fileSystemID: fs.id, rootDirectory: "/app/data", posixUser: PosixUser(parsing: "1000:1000:4:27"),
            creationInfo: CreationInfo(parsing: "1000:1000:0750"))
        #expect(created.id.rawValue.hasPrefix("fsap-") && created.id.rawValue.count == 22)
        #expect(created.posixUser == PosixUser(uid: 1000, gid: 1000, secondaryGIDs: [4, 27]))
        #expect(created.creationInfo == CreationInfo(ownerUID: 1000, ownerGID: 1000, permissions: 0o750))
        #expect(try store.listAccessPoints() == [created])
        #expect(try store.describeAccessPoint(created.id.rawValue) == created)
        try store.deleteAccessPoint(created.id.rawValue)
        #expect(try store.listAccessPoints().isEmpty)
        #expect(refusal { () throws(AccessPointError) in try store.describeAccessPoint(created.id.rawValue) } == .notFound(created.id.rawValue))
    }

    @Test func refusalsChangeNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try store()
        let ebs = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 1)
        let efs = try store.createVolume(type: .efs, az: "us-east-1a")
        let notEFS = refusal { () throws(AccessPointError) in
            try store.createAccessPoint(fileSystemID: ebs.id, rootDirectory: "/x", posixUser: nil, creationInfo: nil)
        }
        #expect(notEFS?.description.hasPrefix("BadRequest: \(ebs.id) is an ebs volume") == true)
        for path in ["relative", "/a/b/c/d/e", "/a//b", "/.hidden", "/a;b", "/" + String(repeating: "x", count: 100)] {
            let bad = refusal { () throws(AccessPointError) in
                try store.createAccessPoint(fileSystemID: efs.id, rootDirectory: path, posixUser: nil, creationInfo: nil)
            }
            #expect(bad?.description.hasPrefix("BadRequest: root directory") == true, "\(path)")
        }
        #expect(try store.listAccessPoints().isEmpty)
        #expect(refusal { () throws(AccessPointError) in try store.deleteAccessPoint("fsap-nope") } == .notFound("fsap-nope"))
        #expect(PosixUser(parsing: "1000") == nil && PosixUser(parsing: "a:b") == nil)
        #expect(PosixUser(parsing: (["1", "1"] + Array(repeating: "2", count: 17)).joined(separator: ":")) == nil)
        #expect(CreationInfo(parsing: "1:1:999") == nil && CreationInfo(parsing: "1:1") == nil)
    }

    @Test func servedRootIsMadeWithItsCreationInfoAndNeverLeavesTheVolume() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let backing = root + "/backing"
        try FileManager.default.createDirectory(atPath: backing + "/outside-link-target", withIntermediateDirectories: true)
        func configuration(_ served: ServedRoot?) -> MountConfiguration {
            var configuration = MountConfiguration(volumeID: "fs-x", serviceType: .efs, backingDirectory: backing,
                                                   mountpoint: root + "/mnt", sharedStateDirectory: root + "/shared")
            configuration.servedRoot = served
            return configuration
        }
        // Missing without creation info: the mount fails (ENOENT), as EFS fails a mount through such an access point.
        #expect(configuration(ServedRoot(path: "/app/data")).openServedRoot() == -ENOENT)
        #expect(!FileManager.default.fileExists(atPath: backing + "/app"))
        let fd = configuration(ServedRoot(path: "/app/data", creation: CreationInfo(ownerUID: 1000, ownerGID: 1001, permissions: 0o2750)))
            .openServedRoot()
        #expect(fd >= 0)
        close(fd)
        var info = stat()
        #expect(stat(backing + "/app/data", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o750)
        if geteuid() == 0 { #expect(info.st_uid == 1000 && info.st_gid == 1001 && info.st_mode & 0o7777 == 0o2750) }
        // A link planted in the volume is not followed, and `..` is refused.
        try FileManager.default.createSymbolicLink(atPath: backing + "/link", withDestinationPath: "/etc")
        #expect(configuration(ServedRoot(path: "/link")).openServedRoot() == -ELOOP || configuration(ServedRoot(path: "/link")).openServedRoot() == -ENOTDIR)
        #expect(configuration(ServedRoot(path: "/app/../..")).openServedRoot() == -EINVAL)
        #expect(configuration(ServedRoot(path: "/app/data")).servedDirectoryPath == backing + "/app/data")
    }
}
