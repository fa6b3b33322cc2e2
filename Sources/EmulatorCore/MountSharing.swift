import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who may use a mount besides the user who made it. FUSE lets only that user in unless the mount has
/// `allow_other`, which root may always ask for and anyone else only when /etc/fuse.conf says
/// `user_allow_other`; without it fusermount3 refuses the whole mount (fuse(8), "CONFIGURATION").
/// Containers and other users (a container runtime bind-mounting the directory, a task running as
/// another uid) need `allow_other`; a test suite run by the mounting user does not.
public enum MountSharing {
    /// Whether a mount made now, by this process, can let other users in.
    public static var otherUsersAllowed: Bool {
        otherUsersAllowed(effectiveUID: geteuid(), fuseConf: try? String(contentsOfFile: "/etc/fuse.conf", encoding: .utf8))
    }

    public static func otherUsersAllowed(effectiveUID: UInt32, fuseConf: String?) -> Bool {
        effectiveUID == 0 || fuseConf.map(fuseConfAllowsOtherUsers) == true
    }

    /// A `user_allow_other` line, comments (`#` to the end of the line) and surrounding blanks aside.
    static func fuseConfAllowsOtherUsers(_ text: String) -> Bool {
        text.split(whereSeparator: \.isNewline).contains { line in
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return content.trimmingCharacters(in: .whitespaces) == "user_allow_other"
        }
    }

    /// Said when a mount is for its user only.
    public static let onlyForThisUserNote =
        "the mount is for your user only: containers and other users cannot open it. To share it, mount as "
        + "root or add a line user_allow_other to /etc/fuse.conf (fusermount3 then accepts allow_other)."
}
