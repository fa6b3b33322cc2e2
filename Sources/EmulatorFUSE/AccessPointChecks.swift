import CFuse3
import EmulatorCore
import Glibc

/// A mount made through an EFS access point with a POSIX user (`MountConfiguration.identity`) is mounted
/// without `default_permissions`, so the kernel leaves permission checks to the server (fs/fuse/dir.c
/// fuse_permission: only an execute bit for programs, and FUSE_ACCESS for access(2) and chdir), and
/// these make them, with the access point's uid, gid and secondary gids (`AccessPointPermissions`, where
/// the rules and their AWS sources are). Each answers the request and returns true when it refuses;
/// on any other mount they return false at once.
extension Operations {
    /// The access point's decisions for this mount, nil when it has no POSIX user.
    @inline(__always)
    static func accessPoint(_ fs: MountFileSystem) -> AccessPointPermissions? {
        fs.configuration.identity.map(AccessPointPermissions.init(user:))
    }

    static func attributes(_ fd: Int32) throws(Errno) -> AccessPointPermissions.Attributes {
        var st = stat()
        let code = statOf(fd, &st)
        if code != 0 { throw Errno(code) }
        return AccessPointPermissions.Attributes(st)
    }

    /// The attributes of `name` in `directory`, nil when there is no such name (the operation then
    /// fails on its own, with ENOENT, as the kernel's lookup would have before any permission check).
    static func attributes(of name: UnsafePointer<CChar>, in directory: Inode) throws(Errno) -> AccessPointPermissions.Attributes? {
        var st = stat()
        if fstatat(directory.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT { return nil }
            throw Errno.last
        }
        return AccessPointPermissions.Attributes(st)
    }

    /// Runs `check` with the mount's access point, if any; answers `req` with its errno when it throws.
    static func refused(_ req: fuse_req_t?, _ fs: MountFileSystem,
                        _ check: (AccessPointPermissions) throws(Errno) -> Void) -> Bool {
        guard let permissions = accessPoint(fs) else { return false }
        do throws(Errno) {
            try check(permissions)
            return false
        } catch {
            fuse_reply_err(req, error.code)
            return true
        }
    }

    /// A lookup in `parent`: search permission.
    static func refusedLookup(_ req: fuse_req_t?, _ fs: MountFileSystem, _ parent: Inode) -> Bool {
        refused(req, fs) { permissions throws(Errno) in try permissions.checkLookup(in: attributes(parent.fd)) }
    }

    /// A new name in `parent` (create, mkdir, mknod, symlink, link, a rename's target directory).
    static func refusedNewEntry(_ req: fuse_req_t?, _ fs: MountFileSystem, _ parent: Inode) -> Bool {
        refused(req, fs) { permissions throws(Errno) in try permissions.checkNewEntry(in: attributes(parent.fd)) }
    }

    /// unlink or rmdir of `name` in `parent`.
    static func refusedRemoval(_ req: fuse_req_t?, _ fs: MountFileSystem, _ parent: Inode, _ name: UnsafePointer<CChar>) -> Bool {
        refused(req, fs) { permissions throws(Errno) in
            guard let victim = try attributes(of: name, in: parent) else { return }
            try permissions.checkRemoval(of: victim, from: attributes(parent.fd))
        }
    }

    /// A rename (`AccessPointPermissions.checkRename`).
    static func refusedRename(_ req: fuse_req_t?, _ fs: MountFileSystem, _ from: Inode, _ name: UnsafePointer<CChar>,
                              _ to: Inode, _ newName: UnsafePointer<CChar>, flags: UInt32) -> Bool {
        refused(req, fs) { permissions throws(Errno) in
            guard let source = try attributes(of: name, in: from) else { return }
            try permissions.checkRename(source: source, from: attributes(from.fd), target: attributes(of: newName, in: to),
                                        in: attributes(to.fd), sameDirectory: from.key == to.key,
                                        exchange: flags & UInt32(BERTH_RENAME_EXCHANGE) != 0)
        }
    }

    /// An open (or opendir) of `inode` with `flags`.
    static func refusedOpen(_ req: fuse_req_t?, _ fs: MountFileSystem, _ inode: Inode, flags: Int32) -> Bool {
        refused(req, fs) { permissions throws(Errno) in try permissions.checkOpen(flags: flags, attributes(inode.fd)) }
    }

    /// A setattr; may clear S_ISGID from `change.mode` as the kernel would.
    static func refusedAttributeChange(_ req: fuse_req_t?, _ fs: MountFileSystem, _ inode: Inode,
                                       _ change: inout VolumeSemantics<DirectoryStore>.AttributeChange, handle: Bool) -> Bool {
        var adjusted = change
        let refusal = refused(req, fs) { permissions throws(Errno) in
            adjusted.mode = try permissions.checkAttributeChange(
                mode: change.mode, uid: change.uid, gid: change.gid, truncates: change.size != nil,
                access: change.access, modification: change.modification, handle: handle, attributes(inode.fd))
        }
        change = adjusted
        return refusal
    }

    /// FUSE_ACCESS (access(2), chdir), which the kernel sends only to a mount without
    /// `default_permissions`; installed for access point mounts only (`MountServer`).
    static let accessPointAccess: @convention(c) (fuse_req_t?, fuse_ino_t, Int32) -> Void = { req, ino, mask in
        guard let (fs, inode) = begin(req, ino) else { return }
        if refused(req, fs, { permissions throws(Errno) in try permissions.checkAccess(mask: mask, attributes(inode.fd)) }) { return }
        fuse_reply_err(req, 0)
    }
}

extension MountFileSystem {
    /// Runs `body` with this thread's supplementary groups set to the access point's gid and secondary
    /// gids, so that what the backing file system checks for a creation made as the POSIX user
    /// (`asCaller`) is what `AccessPointPermissions` decided; the thread's own groups afterwards.
    func withAccessPointGroups<T>(_ body: () -> T) -> T {
        guard let user = configuration.identity else { return body() }
        var previous = [gid_t](repeating: 0, count: 256)
        let count = berth_thread_getgroups(Int32(previous.count), &previous)
        let groups = [user.gid] + user.secondaryGIDs
        guard count >= 0, berth_thread_setgroups(groups.count, groups) == 0 else { return body() }
        defer { _ = berth_thread_setgroups(Int(count), previous) }
        return body()
    }
}
