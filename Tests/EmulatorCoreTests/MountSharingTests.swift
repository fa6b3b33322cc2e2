import Testing
@testable import EmulatorCore

/// When a mount may carry allow_other: fusermount3 refuses the whole mount for a user who asks for it
/// without `user_allow_other` in /etc/fuse.conf.
@Suite struct MountSharingTests {
    @Test func rootMayAlwaysShare() {
        #expect(MountSharing.otherUsersAllowed(effectiveUID: 0, fuseConf: nil))
        #expect(MountSharing.otherUsersAllowed(effectiveUID: 0, fuseConf: "#user_allow_other\n"))
    }

    @Test func otherUsersNeedAnUncommentedUserAllowOtherLine() {
        let debianDefault = "# The file /etc/fuse.conf allows for the following parameters:\n#\n#user_allow_other\n#mount_max = 1000\n"
        #expect(!MountSharing.otherUsersAllowed(effectiveUID: 1000, fuseConf: debianDefault))
        #expect(!MountSharing.otherUsersAllowed(effectiveUID: 1000, fuseConf: nil))
        #expect(MountSharing.otherUsersAllowed(effectiveUID: 1000, fuseConf: "mount_max = 1000\n  user_allow_other  # shared\n"))
        #expect(!MountSharing.otherUsersAllowed(effectiveUID: 1000, fuseConf: "user_allow_others\n"))
    }
}
