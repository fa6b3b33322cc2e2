import CBerthShims
import CFuse3
import CFuseTransport
import EmulatorCore
import Glibc

/// Clearing set-user-ID and set-group-ID when a file changes, as Linux does (fs/inode.c
/// file_remove_privs, fs/attr.c setattr_should_drop_suidgid), on mounts where the server has taken that
/// job from the kernel with FUSE_HANDLE_KILLPRIV_V2 (`Operations.initialise`; SEMANTICS.md, "Set-ID bits
/// and capabilities"). The kernel then marks which requests need it:
/// - WRITE, and OPEN with O_TRUNC, carry a flag when the caller lacks CAP_FSETID (read off the request
///   by the custom I/O in CBerthShims' fuse_io.c, since libfuse 3.14 drops it);
/// - SETATTR of a size by such a caller carries FATTR_KILL_SUIDGID (libfuse: FUSE_SET_ATTR_KILL_SUID);
///   so does every chown of a non-directory, whose backing chown clears the bits as Linux does already;
/// - before any other change it would clear the bits for (fallocate, `chown f -1 -1`), the kernel sends a
///   SETATTR that sets nothing.
/// Set-user-ID goes; set-group-ID goes from a group-executable file, or when the caller is not in the
/// file's group and lacks CAP_FSETID (Linux 6.x; without group execute the bit marks mandatory locking).
/// Without KILLPRIV_V2 the kernel clears the bits itself, and none of this runs (the flags above are
/// only sent under KILLPRIV_V2).
extension Operations {
    static let setUserID: mode_t = 0o4000, setGroupID: mode_t = 0o2000, groupExecute: mode_t = 0o0010

    /// Clears the set-ID bits of the regular file open as `fd` (any descriptor, O_PATH included) for
    /// the request's caller. `callerLacksFSETID`: the kernel said so; else asked of /proc when it matters.
    /// True when it changed the mode.
    @discardableResult
    static func dropSetIDBits(_ fd: Int32, for req: fuse_req_t?, callerLacksFSETID: Bool) -> Bool {
        var st = stat()
        guard statOf(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG,
              st.st_mode & (setUserID | setGroupID) != 0 else { return false }
        let old = st.st_mode & 0o7777
        var mode = old & ~setUserID
        if mode & setGroupID != 0 {
            let groupExecutable = mode & groupExecute != 0
            if groupExecutable || (!callerIsInGroup(req, st.st_gid) && (callerLacksFSETID || !callerHasFSETID(req))) {
                mode &= ~setGroupID
            }
        }
        guard mode != old else { return false }
        return withProcPath(fd) { chmod($0, mode) } == 0
    }

    /// Before a WRITE the kernel marked (the caller lacks CAP_FSETID): clears the bits of the file open
    /// as the handle, unless the write will be refused anyway (outage), and makes the kernel fetch the
    /// file's attributes again when it did.
    static func dropSetIDBitsBeforeWrite(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
        guard berth_fuse_request_kills_suidgid() != 0, let fs = fs(req), let fi else { return }
        guard (try? fs.semantics.admit(change: true)) != nil else { return }
        if dropSetIDBits(Int32(truncatingIfNeeded: fi.pointee.fh), for: req, callerLacksFSETID: true) {
            dropKernelCache(fs, ino, .attributes)
        }
    }

    /// After a SETATTR: clears the bits when it asks for that (see the type's comment).
    static func dropSetIDBitsAfterSetattr(_ req: fuse_req_t?, _ fs: MountFileSystem, _ fd: Int32, _ toSet: Int32) {
        guard fs.handlesKillPriv.load(ordering: .relaxed),
              toSet & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) == 0 else { return }
        if toSet & FUSE_SET_ATTR_KILL_SUID != 0 {
            dropSetIDBits(fd, for: req, callerLacksFSETID: true)
        } else if toSet == 0 {
            dropSetIDBits(fd, for: req, callerLacksFSETID: false)
        }
    }

    /// Removes `security.capability` from the file open as `fd` (a readable or writable descriptor, or an
    /// O_PATH one through /proc) where `removesCapabilities` is set: Linux removes it at every write,
    /// truncation and fallocate, root's included (security/commoncap.c `cap_inode_killpriv`, through
    /// fs/inode.c `file_remove_privs`), and under KILLPRIV_V2 this mount's kernel skips the question for a
    /// file it checked once (`S_NOSEC`) until it refreshes the file's attributes, so another mount's
    /// `setcap` in between would survive. One fremovexattr (ENODATA when there is none) per change.
    static func dropCapability(_ fs: MountFileSystem, _ fd: Int32, pathOnly: Bool = false) {
        guard fs.removesCapabilities.load(ordering: .relaxed) else { return }
        if pathOnly {
            _ = withProcPath(fd) { CFuse3.removexattr($0, "security.capability") }
        } else {
            _ = fremovexattr(fd, "security.capability")
        }
    }

    /// Whether the request's caller is in group `gid` (its filesystem group or a supplementary one).
    static func callerIsInGroup(_ req: fuse_req_t?, _ gid: gid_t) -> Bool {
        if let context = fuse_req_ctx(req), context.pointee.gid == gid { return true }
        var groups = [gid_t](repeating: 0, count: 256)
        let count = fuse_req_getgroups(req, Int32(groups.count), &groups)
        return count > 0 && groups.prefix(Int(min(count, Int32(groups.count)))).contains(gid)
    }

    /// Whether the process behind the request has CAP_FSETID in the initial user namespace (what the
    /// kernel's capable() asks): its effective set from /proc/PID/status, and its user namespace the
    /// server's own. Anything unreadable (the process gone) counts as not having it.
    static func callerHasFSETID(_ req: fuse_req_t?) -> Bool {
        guard let context = fuse_req_ctx(req), context.pointee.pid > 0 else { return false }
        let pid = context.pointee.pid
        func link(_ path: String) -> [CChar]? {
            var buffer = [CChar](repeating: 0, count: 64)
            let count = Glibc.readlink(path, &buffer, buffer.count - 1)
            return count > 0 ? Array(buffer.prefix(count)) : nil
        }
        guard let theirs = link("/proc/\(pid)/ns/user"), theirs == link("/proc/self/ns/user") else { return false }
        let fd = Glibc.open("/proc/\(pid)/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = Glibc.read(fd, &bytes, bytes.count)
        guard count > 0 else { return false }
        let text = String(decoding: bytes.prefix(count), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let effective = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(), radix: 16) else { return false }
        return effective & (1 << 4) != 0  // CAP_FSETID
    }
}

private extension Substring {
    func trimmingCharacters() -> String {
        String(drop { $0 == " " || $0 == "\t" }.prefix { $0 != " " && $0 != "\t" })
    }
}
