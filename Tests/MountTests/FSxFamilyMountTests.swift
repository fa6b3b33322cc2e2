import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The FSx types' own behaviour on emulated mounts: Lustre deployments and storage, OpenZFS clones,
/// ONTAP deployments and platforms (seed §Amazon FSx für Lustre, §Andere persistente Speicheroptionen;
/// AWS docs fsx/latest/LustreGuide/using-fsx-lustre.html).
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct FSxFamilyMountTests {
    typealias Berth = CLIMountTests.Berth

    func describe(_ berth: Berth, _ volume: String) throws -> [String: Any] {
        let run = try berth.run("volume", "describe", volume, "--format", "json")
        return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
    }

    @Test func lustreDeploymentsAndStorageTypesAreCheckedAndShown() throws {
        let berth = try Berth()
        let hdd = try berth.createVolume("--type", "fsx-lustre", "--az", "us-east-1a", "--size-gib", "6000",
                                         "--storage-type", "hdd", "--read-cache-gib", "1200")
        let shown = try describe(berth, hdd)
        #expect(shown["lustreDeployment"] as? String == "persistent")
        #expect(shown["storageType"] as? String == "hdd")
        #expect(shown["readCacheGiB"] as? Int == 1200)
        let scratch = try berth.createVolume("--type", "fsx-lustre", "--az", "us-east-1a", "--lustre-deployment", "scratch")
        #expect(try describe(berth, scratch)["lustreDeployment"] as? String == "scratch")
        let before = try berth.run("volume", "list", "--format", "json").stdout
        let refused: [([String], String)] = [
            (["--size-gib", "6000", "--storage-type", "hdd", "--read-cache-gib", "1201"], "at most 20%"),
            (["--lustre-deployment", "scratch", "--storage-type", "hdd"], "scratch"),
            (["--read-cache-gib", "100"], "HDD storage only"),
        ]
        for (options, reason) in refused {
            let run = try berth.run(["volume", "create", "--type", "fsx-lustre", "--az", "us-east-1a"] + options)
            #expect(run.status == 1)
            #expect(run.stderr.hasPrefix("InvalidParameterValue") && run.stderr.contains(reason), "\(run.stderr)")
        }
        let notLustre = try berth.run("volume", "create", "--type", "efs", "--az", "us-east-1a", "--storage-type", "hdd")
        #expect(notLustre.status == 1 && notLustre.stderr.contains("fsx-lustre only"))
        #expect(try berth.run("volume", "list", "--format", "json").stdout == before, "refusals create nothing")
        // Both mount on EC2 Linux with their size; scratch file systems have no backups.
        let mountpoint = try berth.mountpoint("hdd")
        #expect(try berth.run("mount", hdd, mountpoint, "--az", "us-east-1a", "--background").status == 0)
        var fs = statvfs()
        #expect(statvfs(mountpoint, &fs) == 0 && UInt64(fs.f_blocks) * UInt64(fs.f_frsize) == 6000 << 30)
        #expect(try berth.run("unmount", mountpoint).status == 0)
        let backup = try berth.run("snapshot", "create", scratch)
        #expect(backup.status == 1 && backup.stderr.hasPrefix("UnsupportedOperation"), "\(backup.stderr)")
        #expect(try berth.run("snapshot", "create", hdd, "--wait").status == 0, "persistent file systems have backups")
        for platform in [["--launch-type", "fargate"], ["--os", "windows"]] {
            let run = try berth.run(["mount", scratch, try berth.mountpoint("x"), "--az", "us-east-1a", "--background"] + platform)
            #expect(run.status == 1 && run.stderr.hasPrefix("UnsupportedOperation"), "\(platform)")
        }
    }

    @Test func openZFSClonesStartAsTheSnapshotsDataAndHoldItBack() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "fsx-openzfs", "--az", "us-east-1a")
        let source = try berth.mountpoint("source")
        #expect(try berth.run("mount", volume, source, "--az", "us-east-1a", "--background").status == 0)
        #expect(writeFile(source + "/config.json", Array("v1".utf8)) == 0)
        let snapshot = try berth.run("snapshot", "create", volume, "--wait").trimmedStdout
        #expect(writeFile(source + "/config.json", Array("v2".utf8)) == 0)
        let clone = try berth.createVolume("--type", "fsx-openzfs", "--az", "us-east-1a", "--from-snapshot", snapshot)
        #expect(try describe(berth, clone)["cloneOf"] as? String == snapshot)
        let cloned = try berth.mountpoint("clone")
        #expect(try berth.run("mount", clone, cloned, "--az", "us-east-1a", "--background").status == 0)
        #expect(readFile(cloned + "/config.json") == Array("v1".utf8), "the clone starts as the snapshot's data")
        #expect(writeFile(cloned + "/config.json", Array("clone".utf8)) == 0)
        #expect(readFile(source + "/config.json") == Array("v2".utf8), "and is a volume of its own")
        // Files first touched by a write (O_CREAT|O_TRUNC, in a subdirectory) leave the snapshot as it was.
        #expect(mkdir(source + "/app", 0o755) == 0)
        #expect(writeFile(source + "/app/state.db", Array("s1".utf8)) == 0)
        let second = try berth.run("snapshot", "create", volume, "--wait").trimmedStdout
        let clone2 = try berth.createVolume("--type", "fsx-openzfs", "--az", "us-east-1a", "--from-snapshot", second)
        let cloned2 = try berth.mountpoint("clone2")
        #expect(try berth.run("mount", clone2, cloned2, "--az", "us-east-1a", "--background").status == 0)
        #expect(writeFile(cloned2 + "/app/state.db", Array("mine".utf8)) == 0)
        #expect(readFile(cloned2 + "/app/state.db") == Array("mine".utf8))
        let clone3 = try berth.createVolume("--type", "fsx-openzfs", "--az", "us-east-1a", "--from-snapshot", second)
        let cloned3 = try berth.mountpoint("clone3")
        #expect(try berth.run("mount", clone3, cloned3, "--az", "us-east-1a", "--background").status == 0)
        #expect(readFile(cloned3 + "/app/state.db") == Array("s1".utf8), "the snapshot is unchanged by clone2's write")
        #expect(readFile(cloned3 + "/config.json") == Array("v2".utf8))
        for path in [cloned2, cloned3] { #expect(try berth.run("unmount", path).status == 0) }
        let delete = try berth.run("snapshot", "delete", snapshot)
        #expect(delete.status == 1 && delete.stderr.hasPrefix("BadRequest") && delete.stderr.contains(clone), "\(delete.stderr)")
        #expect(try berth.run("unmount", cloned).status == 0)
        #expect(try berth.run("volume", "delete", clone).status == 0)
        #expect(try berth.run("snapshot", "delete", snapshot).status == 0, "deletable once no clone depends on it")
        #expect(try berth.run("unmount", source).status == 0)
    }

    /// A clone's files stay linked to its snapshot until first used: a listing (which now hands the
    /// kernel each name's entry) copies none of them out; a stat does, as a lookup always has.
    @Test func listingACloneLeavesItsFilesSharedWithTheSnapshot() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "fsx-openzfs", "--az", "us-east-1a")
        let source = try berth.mountpoint("source")
        #expect(try berth.run("mount", volume, source, "--az", "us-east-1a", "--background").status == 0)
        for index in 0..<20 { #expect(writeFile(source + "/f\(index)", Array("v\(index)".utf8)) == 0) }
        let snapshot = try berth.run("snapshot", "create", volume, "--wait").trimmedStdout
        let clone = try berth.createVolume("--type", "fsx-openzfs", "--az", "us-east-1a", "--from-snapshot", snapshot)
        let cloned = try berth.mountpoint("clone")
        #expect(try berth.run("mount", clone, cloned, "--az", "us-east-1a", "--background").status == 0)
        let data = berth.state + "/volumes/" + clone + "/data"
        func links(_ name: String) -> Int {
            var info = stat()
            return lstat(data + "/" + name, &info) == 0 ? Int(info.st_nlink) : -1
        }
        var listed = 0
        if let dir = opendir(cloned) {
            while let entry = readdir(dir), listed < 100 {
                if entry.pointee.d_type == UInt8(DT_REG) { listed += 1 }
            }
            closedir(dir)
        }
        #expect(listed == 20)
        #expect((0..<20).allSatisfy { links("f\($0)") > 1 }, "still shared: \((0..<20).map { links("f\($0)") })")
        var info = stat()
        #expect(stat(cloned + "/f3", &info) == 0 && info.st_size == 2)
        #expect(links("f3") == 1, "a lookup copies the file out")
        #expect(readFile(cloned + "/f3") == Array("v3".utf8))
        for path in [cloned, source] { #expect(try berth.run("unmount", path).status == 0) }
    }

    @Test func ontapServesLinuxAndWindowsTasksAndKeepsItsDeploymentRules() throws {
        let berth = try Berth()
        let single = try berth.createVolume("--type", "fsx-ontap", "--az", "us-east-1a")
        let multi = try berth.createVolume("--type", "fsx-ontap", "--az", "us-east-1a", "--deployment", "multi-az")
        #expect(try describe(berth, single)["deployment"] as? String == "single-az")
        #expect(try describe(berth, multi)["deployment"] as? String == "multi-az")
        let linux = try berth.mountpoint("linux"), windows = try berth.mountpoint("windows")
        #expect(try berth.run("mount", single, linux, "--az", "us-east-1a", "--background").status == 0)
        #expect(try berth.run("mount", single, windows, "--az", "us-east-1a", "--os", "windows", "--background").status == 0)
        #expect(writeFile(linux + "/shared.txt", [1]) == 0)
        #expect(readFile(windows + "/shared.txt") == [1])
        let elsewhere = try berth.run("mount", single, try berth.mountpoint("b"), "--az", "us-east-1b", "--background")
        #expect(elsewhere.stderr.hasPrefix("InvalidVolume.ZoneMismatch"), "single-AZ: its AZ only")
        let fargate = try berth.run("mount", single, try berth.mountpoint("f"), "--az", "us-east-1a", "--launch-type", "fargate", "--background")
        #expect(fargate.stderr.hasPrefix("UnsupportedOperation"))
        let fromB = try berth.mountpoint("multi-b")
        #expect(try berth.run("mount", multi, fromB, "--az", "us-east-1b", "--os", "windows", "--background").status == 0,
                "multi-AZ: from the standby AZ too")
        for path in [linux, windows, fromB] {
            let unmount = try berth.run("unmount", path)
            #expect(unmount.status == 0, "\(path): \(unmount.stderr)")
        }
    }
}
