#if canImport(Glibc)
public import Glibc
#endif

/// The permission decisions of a mount made through an EFS access point with a POSIX user: every
/// operation is checked against the access point's uid, gid and secondary gids, never the caller's own.
///
/// Facts (AWS docs, checked 2026-11-26):
/// - https://docs.aws.amazon.com/efs/latest/ug/enforce-identity-access-points.html: "Amazon EFS replaces
///   the NFS client's user and group IDs with the identity configured on the access point for all file
///   system operations"; "EFS considers the user ID, group ID, and secondary group IDs of the access point
///   when evaluating file system permissions. EFS ignores the NFS client's IDs."
/// - https://docs.aws.amazon.com/efs/latest/ug/API_PosixUser.html: uid, gid and secondary gids "used for
///   all file system operations using this access point".
/// - https://docs.aws.amazon.com/efs/latest/ug/accessing-fs-nfs-permissions.html (No root squashing) and
///   https://repost.aws/knowledge-center/efs-access-point-configurations: no root squashing by default;
///   "If a user or group ID is 0, then Amazon EFS treats that user as the root user, and bypasses
///   permissions checks" (squashing needs a file system policy without ClientRootAccess, which Berth does
///   not model: a root identity is root).
///
/// The decisions are those of Linux's `generic_permission` and the VFS around it (mode bits of the
/// owner, group or others class; the sticky bit; who may chmod, chown and set times), as an NFS server
/// makes them for the identity it is given. Plain data and pure functions: no mount needed to test them.
public struct AccessPointPermissions: Sendable, Equatable {
    public let user: PosixUser

    public init(user: PosixUser) { self.user = user }

    /// What decides access to a file: its mode (type and permission bits) and owner.
    public struct Attributes: Sendable, Equatable {
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32

        public init(mode: UInt32, uid: UInt32, gid: UInt32) {
            self.mode = mode
            self.uid = uid
            self.gid = gid
        }

        public init(_ st: stat) { self.init(mode: UInt32(st.st_mode), uid: st.st_uid, gid: st.st_gid) }

        public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    }

    /// Read, write, execute (search, for a directory): the bits of `access(2)`'s R_OK, W_OK, X_OK.
    public struct Access: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let read = Access(rawValue: 4)
        public static let write = Access(rawValue: 2)
        public static let execute = Access(rawValue: 1)
    }

    /// uid 0 or gid 0: EFS's root, for whom permission checks are bypassed (see above). As for root on
    /// Linux, a file is executable only if some execute bit is set.
    public var isRoot: Bool { user.uid == 0 || user.gid == 0 }

    /// The primary gid or one of the secondary gids.
    public func isInGroup(_ gid: UInt32) -> Bool { gid == user.gid || user.secondaryGIDs.contains(gid) }

    /// Whether the identity may `access` `file` (generic_permission: the owner's bits if it owns the
    /// file, else the group's if it is in the file's group, else the others').
    public func permits(_ access: Access, _ file: Attributes) -> Bool {
        if isRoot {
            return !access.contains(.execute) || file.isDirectory || file.mode & 0o111 != 0
        }
        let bits: UInt32
        if file.uid == user.uid {
            bits = (file.mode >> 6) & 7
        } else if isInGroup(file.gid) {
            bits = (file.mode >> 3) & 7
        } else {
            bits = file.mode & 7
        }
        return bits & access.rawValue == access.rawValue
    }

    /// EACCES unless `permits`.
    public func check(_ access: Access, _ file: Attributes) throws(Errno) {
        if !permits(access, file) { throw Errno(EACCES) }
    }

    /// Whether the identity owns `file` or is root (inode_owner_or_capable).
    public func ownsOrIsRoot(_ file: Attributes) -> Bool { isRoot || file.uid == user.uid }

    /// Looking a name up in `directory`: search permission.
    public func checkLookup(in directory: Attributes) throws(Errno) { try check(.execute, directory) }

    /// `access(2)` with R_OK/W_OK/X_OK bits `mask` (F_OK, 0, always passes).
    public func checkAccess(mask: Int32, _ file: Attributes) throws(Errno) {
        try check(Access(rawValue: UInt32(mask & 7)), file)
    }

    /// The kernel's FMODE_EXEC in an open's flags (include/linux/fs.h `__FMODE_EXEC`, 0x20): the open
    /// of a program by execve, which needs execute permission, not read.
    public static let openForExec: Int32 = 0x20

    /// Opening `file` with `flags`: read for O_RDONLY/O_RDWR, write for O_WRONLY/O_RDWR and O_TRUNC,
    /// execute for an execve (`openForExec`).
    public func checkOpen(flags: Int32, _ file: Attributes) throws(Errno) {
        var need: Access = []
        if flags & Self.openForExec != 0 {
            need.insert(.execute)
        } else {
            switch flags & O_ACCMODE {
            case O_WRONLY: need.insert(.write)
            case O_RDWR: need.formUnion([.read, .write])
            default: need.insert(.read)
            }
        }
        if flags & O_TRUNC != 0 { need.insert(.write) }
        try check(need, file)
    }

    /// Making a new name in `directory` (create, mkdir, mknod, symlink, link): write and search
    /// permission on it (may_create).
    public func checkNewEntry(in directory: Attributes) throws(Errno) { try check([.write, .execute], directory) }

    /// Removing `victim`'s name from `directory` (unlink, rmdir, the source or a replaced target of a
    /// rename): write and search permission (EACCES), then, in a sticky directory, only the file's owner,
    /// the directory's owner or root (EPERM) (may_delete, check_sticky).
    public func checkRemoval(of victim: Attributes, from directory: Attributes) throws(Errno) {
        try check([.write, .execute], directory)
        if directory.mode & UInt32(S_ISVTX) != 0, !isRoot, victim.uid != user.uid, directory.uid != user.uid {
            throw Errno(EPERM)
        }
    }

    /// A rename of `source` out of `sourceDirectory` to a name in `targetDirectory` that holds `target`
    /// (nil: no such name), as vfs_rename checks it: the source's removal; the target's removal, or a new
    /// name; and a directory moved to another parent needs write permission on itself (its `..`
    /// changes), for an exchange the target directory too.
    public func checkRename(source: Attributes, from sourceDirectory: Attributes, target: Attributes?,
                            in targetDirectory: Attributes, sameDirectory: Bool, exchange: Bool) throws(Errno) {
        try checkRemoval(of: source, from: sourceDirectory)
        if let target {
            try checkRemoval(of: target, from: targetDirectory)
        } else {
            try checkNewEntry(in: targetDirectory)
        }
        guard !sameDirectory else { return }
        if source.isDirectory { try check(.write, source) }
        if exchange, let target, target.isDirectory { try check(.write, target) }
    }

    /// A change of attributes of `file` (setattr_prepare and may_setattr):
    /// - `mode`: only the owner or root (EPERM). Clearing only the set-user-ID and set-group-ID bits is
    ///   allowed to anyone: the kernel sends that when a writer who does not own the file writes to it
    ///   (file_remove_privs). A caller not in the file's (new) group loses S_ISGID, as on Linux.
    /// - `uid`: only root, or the owner giving it to itself (EPERM); `gid`: root, or the owner giving it
    ///   to one of its groups (EPERM).
    /// - `size` without an open handle (truncate(2) by path): write permission (EACCES); with a handle
    ///   the kernel already checked the handle is open for writing.
    /// - times: setting them to given values, only the owner or root (EPERM); to now, also anyone with
    ///   write permission (EACCES), or any holder of a handle (the kernel's own mtime update of a
    ///   truncate through a descriptor).
    /// Returns the mode to set, when `mode` was given.
    public func checkAttributeChange(mode: UInt32?, uid: UInt32?, gid: UInt32?, truncates: Bool, access: TimeChange,
                                     modification: TimeChange, handle: Bool, _ file: Attributes) throws(Errno) -> UInt32? {
        if truncates, !handle { try check(.write, file) }
        if let uid, !isRoot, !(uid == file.uid && file.uid == user.uid) { throw Errno(EPERM) }
        if let gid, !isRoot, !(file.uid == user.uid && (isInGroup(gid) || gid == file.gid)) { throw Errno(EPERM) }
        var newMode = mode
        if let mode {
            let privileges = UInt32(S_ISUID | S_ISGID)
            let (old, new) = (file.mode & 0o7777, mode & 0o7777)
            let onlyClearsPrivileges = old != new && (old ^ new) & ~privileges == 0 && new & ~old == 0
            if !ownsOrIsRoot(file), !onlyClearsPrivileges { throw Errno(EPERM) }
            if !isRoot, !isInGroup(gid ?? file.gid) { newMode = mode & ~UInt32(S_ISGID) }
        }
        let times = [access, modification]
        if times.contains(where: { if case .set = $0 { true } else { false } }) {
            if !ownsOrIsRoot(file) { throw Errno(EPERM) }
        } else if times.contains(.now), !handle, !ownsOrIsRoot(file) {
            try check(.write, file)
        }
        return newMode
    }
}
