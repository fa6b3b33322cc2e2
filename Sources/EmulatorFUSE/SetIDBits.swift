import CBerthShims
import CFuse3
import EmulatorCore
import Glibc

/// Clearing set-user-ID and set-group-ID when a file changes, as Linux does (fs/inode.c
/// file_remove_privs, fs/attr.c setattr_should_drop_suidgid), on mounts where the server has taken that
/// job from the kernel with FUSE_HANDLE_KILLPRIV_V2 (exclusive volumes with extended attributes; see
/// SEMANTICS.md, "Where the limit lies"). The kernel then marks which requests need it:
/// - WRITE and OPEN with O_TRUNC carry a flag when the caller lacks CAP_FSETID (read off the request
///   by the custom I/O in CBerthShims' fuse_io.c, since libfuse 3.14 drops it);
/// - SETATTR of a size by such a caller, and every chown of a non-directory, carry FATTR_KILL_SUIDGID,
///   which libfuse passes on as FUSE_SET_ATTR_KILL_SUID;
/// - before any other change it would clear the bits for (fallocate, `chown f -1 -1`), the kernel sends a
///   SETATTR that sets nothing: the bits are then cleared unless the caller has CAP_FSETID.
/// Without KILLPRIV_V2 the kernel clears the bits itself with a SETATTR of the mode, and none of this
/// runs (the flags above are only sent under KILLPRIV_V2).
/// Set-group-ID is cleared only from a group-executable file (without group execute it marks mandatory
/// locking, and Linux keeps it).
extension Operations {
    static let setUserID: mode_t = 0o4000, setGroupID: mode_t = 0o2000, groupExecute: mode_t = 0o0010

    /// The mode `mode` becomes when a change drops its set-ID bits (S_ISUID; S_ISGID if group-executable).
    static func modeWithoutSetIDBits(_ mode: mode_t) -> mode_t {
        var kept = mode & 0o7777
        kept &= ~setUserID
        if kept & (setGroupID | groupExecute) == setGroupID | groupExecute { kept &= ~setGroupID }
        return kept
    }

    /// Clears the set-ID bits of the regular file open as `fd` (any descriptor, O_PATH included).
    /// True when it changed the mode.
    @discardableResult
    static func dropSetIDBits(_ fd: Int32) -> Bool {
        var st = stat()
        guard statOf(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG,
              st.st_mode & (setUserID | setGroupID) != 0 else { return false }
        let mode = modeWithoutSetIDBits(st.st_mode)
        guard mode != st.st_mode & 0o7777 else { return false }
        return withProcPath(fd) { chmod($0, mode) } == 0
    }

    /// Before a WRITE the kernel marked (the caller lacks CAP_FSETID): clears the bits of the file open
    /// as the handle, unless the write will be refused anyway (outage), and makes the kernel fetch the
    /// file's attributes again when it did.
    static func dropSetIDBitsBeforeWrite(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
        guard berth_fuse_request_kills_suidgid() != 0, let fs = fs(req), let fi else { return }
        guard (try? fs.semantics.admit(change: true)) != nil else { return }
        if dropSetIDBits(Int32(truncatingIfNeeded: fi.pointee.fh)) { dropKernelCache(fs, ino, .attributes) }
    }

    /// Whether the SETATTR `toSet` asks for the set-ID bits to be cleared (see the type's comment).
    static func setattrDropsSetIDBits(_ req: fuse_req_t?, _ fs: MountFileSystem, _ toSet: Int32) -> Bool {
        if toSet & FUSE_SET_ATTR_KILL_SUID != 0 { return true }
        return toSet == 0 && fs.handlesKillPriv.load(ordering: .relaxed) && !callerHasFSETID(req)
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
