@testable import EmulatorCore
import Foundation
import Testing

/// Where a volume may be mounted, decided without mounting (docs/SECURITY.md).
struct MountpointRulesTests {
    let state = StateDirectory(path: "/var/lib/berth")
    let mounts = [BerthMount(mountpoint: "/mnt/a", volume: "fs-1")]

    @Test func refusesTheRootTheStateDirectoryAndBerthMounts() {
        #expect(MountpointRules.refusal(mounting: "/", stateDirectory: state, berthMounts: []) == "cannot mount on /")
        #expect(MountpointRules.refusal(mounting: "/var/lib/berth", stateDirectory: state, berthMounts: [])?
            .contains("inside the state directory") == true)
        #expect(MountpointRules.refusal(mounting: "/var/lib/berth/volumes/vol-1/data", stateDirectory: state, berthMounts: [])?
            .contains("inside the state directory") == true)
        #expect(MountpointRules.refusal(mounting: "/mnt/a", stateDirectory: state, berthMounts: mounts)?
            .contains("already a Berth mount") == true)
        #expect(MountpointRules.refusal(mounting: "/mnt/a/x", stateDirectory: state, berthMounts: mounts)?
            .contains("inside the Berth mount of fs-1 at /mnt/a") == true)
    }

    @Test func acceptsNeighboursThatOnlyShareAPrefix() {
        #expect(MountpointRules.refusal(mounting: "/var/lib/berth-other", stateDirectory: state, berthMounts: mounts) == nil)
        #expect(MountpointRules.refusal(mounting: "/mnt/ab", stateDirectory: state, berthMounts: mounts) == nil)
    }

    @Test func readsBerthMountsFromMountinfoWithEscapedPaths() {
        let text = """
            22 27 0:21 / /proc rw,relatime - proc proc rw
            90 27 0:55 / /tmp/my\\040mount rw,nosuid,nodev,relatime shared:1 - fuse.berth-efs fs-0123 rw,user_id=0
            91 27 0:56 / /mnt/db rw,nosuid,nodev - fuse.berth-ebs vol-4567 rw
            92 27 0:57 / /mnt/other rw - fuse.sshfs host:/ rw
            """
        #expect(BerthMount.parse(mountinfo: text) == [
            BerthMount(mountpoint: "/tmp/my mount", volume: "fs-0123"), BerthMount(mountpoint: "/mnt/db", volume: "vol-4567"),
        ])
        #expect(MountUsers.entry(at: "/mnt/db", in: text)?.device == "0:56")
    }

    @Test func resolvesEveryLinkOfAnExistingPath() throws {
        let root = "/tmp/berth-resolve-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/real/dir", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/real/dir")
        #expect(MountpointRules.resolve(root + "/link") == root + "/real/dir")
        #expect(MountpointRules.resolve(root + "/link/missing") == root + "/real/dir/missing")
    }
}
