import BerthTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A mount through an EFS access point with a POSIX user: that uid, gid and secondary gids are the
/// identity of every operation, whoever the caller is (efs/latest/ug/enforce-identity-access-points.html:
/// "EFS ignores the NFS client's IDs"). The callers are shells run as other users with setpriv.
@Suite(.serialized, .enabled(if: canMount && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                            "needs root, /dev/fuse and setpriv"))
struct AccessPointMountTests {
    /// Runs `script` with sh as `uid`:`gid` with no supplementary groups (nil: as root, this process's
    /// user); the exit status and stdout+stderr.
    func shell(_ script: String, as user: (uid: UInt32, gid: UInt32)? = nil) throws -> (status: Int32, output: String) {
        let arguments = user.map { ["--reuid=\($0.uid)", "--regid=\($0.gid)", "--clear-groups", "/bin/sh", "-c", script] }
            ?? ["-c", script]
        let run = try CommandRun.run(URL(fileURLWithPath: user == nil ? "/bin/sh" : "/usr/bin/setpriv"), arguments)
        return (run.status, run.stdout + run.stderr)
    }

    /// Makes `name` in the backing directory (before mounting) with `text`, owner and mode.
    func plant(_ scratch: Scratch, _ name: String, _ text: String?, uid: uid_t, gid: gid_t, mode: mode_t) throws {
        let path = scratch.backing + "/" + name
        if let text {
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        } else {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }
        #expect(chown(path, uid, gid) == 0 && chmod(path, mode) == 0)
    }

    @Test func theAccessPointsUserNotTheCallersDecidesWhoReadsAnExistingFile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try plant(scratch, "for-1000", "only 1000 reads this\n", uid: 1000, gid: 1000, mode: 0o600)
        try plant(scratch, "for-2000", "only 2000 reads this\n", uid: 2000, gid: 2000, mode: 0o600)
        let mount = try ServedMount(scratch, at: "a", type: "efs", extra: ["--posix-user", "1000:1000"])
        defer { mount.stop() }
        let file1000 = mount.mountpoint + "/for-1000", file2000 = mount.mountpoint + "/for-2000"
        // The caller is 2000: its own file is refused, 1000's is read, because the mount is 1000's.
        let byOwner = try shell("cat \(file2000)", as: (2000, 2000))
        #expect(byOwner.status != 0 && byOwner.output.contains("Permission denied"), "\(byOwner)")
        let bySomeoneElse = try shell("cat \(file1000)", as: (2000, 2000))
        #expect(bySomeoneElse.status == 0 && bySomeoneElse.output == "only 1000 reads this\n", "\(bySomeoneElse)")
        // Root in the container is not root through the access point.
        let byRoot = try shell("cat \(file2000)")
        #expect(byRoot.status != 0 && byRoot.output.contains("Permission denied"), "\(byRoot)")
        // access(2) (test -r/-w), which the kernel asks the server about on such a mount.
        let probe = try shell("test -r \(file1000) && echo r1000; test -r \(file2000) || echo no-r2000; test -w \(file1000) && echo w1000",
                              as: (2000, 2000))
        #expect(probe.output == "r1000\nno-r2000\nw1000\n", "\(probe)")
        // Writing, truncating, chmod: as 1000.
        let write = try shell("echo more >> \(file1000) && chmod 640 \(file1000) && echo ok; chmod 644 \(file2000) || echo refused",
                              as: (2000, 2000))
        #expect(write.output.hasPrefix("ok\n") && write.output.contains("refused") && write.output.contains("Operation not permitted"),
                "\(write)")
        var info = stat()
        #expect(stat(scratch.backing + "/for-1000", &info) == 0 && info.st_mode & 0o777 == 0o640)
        #expect(stat(scratch.backing + "/for-2000", &info) == 0 && info.st_mode & 0o777 == 0o600)
    }

    @Test func withoutAnAccessPointTheCallersOwnUserDecides() throws {
        // The contrast: the same files on a plain mount, where the kernel checks the caller itself.
        let scratch = try Scratch()
        defer { scratch.remove() }
        try plant(scratch, "for-1000", "only 1000 reads this\n", uid: 1000, gid: 1000, mode: 0o600)
        try plant(scratch, "for-2000", "only 2000 reads this\n", uid: 2000, gid: 2000, mode: 0o600)
        let mount = try ServedMount(scratch, at: "a", type: "efs")
        defer { mount.stop() }
        #expect(try shell("cat \(mount.mountpoint)/for-2000", as: (2000, 2000)).status == 0)
        #expect(try shell("cat \(mount.mountpoint)/for-1000", as: (2000, 2000)).status != 0)
    }

    /// A directory the access point's user may read but not search: its names are listed, but nothing
    /// in it is reached. The listing must not hand the kernel its entries (READDIRPLUS is not served
    /// on such mounts), or the open below would walk through them without the server's search check.
    @Test func aListingGivesNamesButNoWayIntoADirectoryThatMayNotBeSearched() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try plant(scratch, "listable", nil, uid: 2000, gid: 2000, mode: 0o755)
        try plant(scratch, "listable/inside", "behind a directory 1000 may not search\n", uid: 2000, gid: 2000, mode: 0o644)
        #expect(chmod(scratch.backing + "/listable", 0o744) == 0)
        let mount = try ServedMount(scratch, at: "a", type: "efs", extra: ["--posix-user", "1000:1000"])
        defer { mount.stop() }
        let dir = mount.mountpoint + "/listable"
        let run = try shell("ls \(dir); cat \(dir)/inside", as: (1000, 1000))
        #expect(run.output.hasPrefix("inside\n") && run.output.contains("Permission denied")
                && !run.output.contains("behind"), "\(run)")
    }

    @Test func secondaryGidsOpenGroupFilesAndDirectories() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try plant(scratch, "team-notes", "the team's\n", uid: 3000, gid: 5000, mode: 0o640)
        try plant(scratch, "team", nil, uid: 3000, gid: 5000, mode: 0o770)
        for (user, allowed) in [("1000:1000:5000", true), ("1000:1000", false)] {
            let mount = try ServedMount(scratch, at: "a", type: "efs", extra: ["--posix-user", user])
            defer { mount.stop() }
            let read = try shell("cat \(mount.mountpoint)/team-notes", as: (2000, 2000))
            #expect((read.status == 0) == allowed, "\(user): \(read)")
            let name = "made-by-" + user.replacingOccurrences(of: ":", with: "-")
            let create = try shell("touch \(mount.mountpoint)/team/\(name) && ls \(mount.mountpoint)/team", as: (2000, 2000))
            #expect((create.status == 0 && create.output.contains(name)) == allowed, "\(user): \(create)")
            if allowed {
                var info = stat()
                #expect(stat(scratch.backing + "/team/" + name, &info) == 0 && info.st_uid == 1000 && info.st_gid == 1000,
                        "made as the access point's user")
            }
        }
    }

    @Test func searchStickyRemovalAndExecutionAreTheAccessPointsToo() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try plant(scratch, "private-2000", nil, uid: 2000, gid: 2000, mode: 0o700)
        try plant(scratch, "private-2000/inside", "x\n", uid: 2000, gid: 2000, mode: 0o644)
        try plant(scratch, "tmp", nil, uid: 0, gid: 0, mode: 0o1777)
        try plant(scratch, "tmp/of-2000", "x\n", uid: 2000, gid: 2000, mode: 0o666)
        try plant(scratch, "tmp/of-1000", "x\n", uid: 1000, gid: 1000, mode: 0o644)
        let program = scratch.backing + "/run-only"
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: program)
        #expect(chown(program, 2000, 2000) == 0 && chmod(program, 0o711) == 0)
        let mount = try ServedMount(scratch, at: "a", type: "efs", extra: ["--posix-user", "1000:1000"])
        defer { mount.stop() }
        let m = mount.mountpoint
        // The caller owns private-2000; the access point's user may not search it.
        let search = try shell("cat \(m)/private-2000/inside || echo no-search; cd \(m)/private-2000 || echo no-cd", as: (2000, 2000))
        #expect(search.output.contains("no-search") && search.output.contains("no-cd"), "\(search)")
        // Sticky /tmp: 1000's file goes, 2000's stays, even for caller 2000.
        let sticky = try shell("rm -f \(m)/tmp/of-1000 && echo removed; rm -f \(m)/tmp/of-2000 || echo kept", as: (2000, 2000))
        #expect(sticky.output.hasPrefix("removed\n") && sticky.output.contains("kept"), "\(sticky)")
        #expect(!FileManager.default.fileExists(atPath: scratch.backing + "/tmp/of-1000"))
        #expect(FileManager.default.fileExists(atPath: scratch.backing + "/tmp/of-2000"))
        // 0711 of 2000: 1000 may run it (others' x), not read it.
        let run = try shell("\(m)/run-only && echo ran; cat \(m)/run-only > /dev/null || echo unreadable")
        #expect(run.output.hasPrefix("ran\n") && run.output.contains("unreadable"), "\(run)")
    }
}
