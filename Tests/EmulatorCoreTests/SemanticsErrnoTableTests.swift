import Foundation
import Testing
@testable import EmulatorCore

/// docs/SEMANTICS.md, "errno answered on a mount": each row the server decides, pinned against the
/// semantics core on both backing stores (a real directory and memory), without a mount. Rows the
/// kernel takes part in (locks between mounts, descriptor shares) keep their mount tests; the doc
/// names them beside each row.
@Suite struct SemanticsErrnoTableTests {
    /// EROFS: any change on a read-only attachment; reading goes on.
    @Test(arguments: StoreKind.allCases)
    func erofsForEveryChangeOnAReadOnlyAttachment(kind: StoreKind) throws {
        let volume = try makeReadOnlyVolume(kind) { writable in
            try writable.mkdir("/d")
            try writable.put("/d/f", Array("data".utf8))
            try writable.symlink("f", "/d/l")
        }
        defer { volume.remove() }
        #expect(volume.errno { try volume.mkdir("/new") } == EROFS)
        #expect(volume.errno { try volume.mknod("/fifo") } == EROFS)
        #expect(volume.errno { try volume.symlink("x", "/s") } == EROFS)
        #expect(volume.errno { try volume.link("/d/f", "/d/g") } == EROFS)
        #expect(volume.errno { try volume.create("/d/new") } == EROFS)
        #expect(volume.errno { try volume.create("/d/f", flags: O_RDONLY) } == EROFS)  // O_CREAT on an existing file too
        #expect(volume.errno { try volume.open("/d/f", flags: O_WRONLY) } == EROFS)
        #expect(volume.errno { try volume.open("/d/f", flags: O_RDONLY | O_TRUNC) } == EROFS)
        #expect(volume.errno { try volume.unlink("/d/f") } == EROFS)
        #expect(volume.errno { try volume.rmdir("/d") } == EROFS)
        #expect(volume.errno { try volume.rename("/d/f", "/d/g") } == EROFS)
        #expect(volume.errno { try volume.truncate("/d/f", 0) } == EROFS)
        #expect(volume.errno { try volume.chmod("/d/f", 0o600) } == EROFS)
        #expect(volume.errno { try volume.setxattr("/d/f", "user.k", "v") } == EROFS)
        #expect(volume.errno { try volume.removexattr("/d/f", "user.k") } == EROFS)
        // Reads are not changes.
        #expect(try volume.contents("/d/f") == Array("data".utf8))
        #expect(try volume.readlink("/d/l") == "f")
        #expect(try volume.entries("/d") == ["f", "l"])
        #expect(try volume.statfs().totalBlocks > 0)
    }

    /// EIO: any operation while the mount is cut off (an AZ outage), reads and a handle opened
    /// before included; everything answers again after recovery, unchanged.
    @Test(arguments: StoreKind.allCases)
    func eioForEveryOperationWhileCutOff(kind: StoreKind) throws {
        let volume = try makeVolume(kind, VolumeSetup(capacityBytes: 1 << 20))
        defer { volume.remove() }
        try volume.mkdir("/d")
        try volume.put("/d/f", Array("before".utf8))
        try volume.symlink("f", "/d/l")
        let open = try volume.open("/d/f", flags: O_RDWR)
        volume.reachability.up.store(false, ordering: .relaxed)
        #expect(volume.errno { try volume.lstat("/d/f") } == EIO)
        #expect(volume.errno { try volume.entries("/") } == EIO)
        #expect(volume.errno { try volume.readlink("/d/l") } == EIO)
        #expect(volume.errno { try volume.open("/d/f", flags: O_RDONLY) } == EIO)
        #expect(volume.errno { try volume.read(open, at: 0, count: 6) } == EIO)
        #expect(volume.errno { try volume.write(open, at: 0, Array("after".utf8)) } == EIO)
        #expect(volume.errno { try volume.fsync(open) } == EIO)
        #expect(volume.errno { try volume.fallocate(open, mode: 0, 0, 4096) } == EIO)
        #expect(volume.errno { try volume.create("/d/g") } == EIO)
        #expect(volume.errno { try volume.mkdir("/e") } == EIO)
        #expect(volume.errno { try volume.symlink("x", "/s") } == EIO)
        #expect(volume.errno { try volume.unlink("/d/f") } == EIO)
        #expect(volume.errno { try volume.rmdir("/d") } == EIO)
        #expect(volume.errno { try volume.rename("/d/f", "/g") } == EIO)
        #expect(volume.errno { try volume.truncate("/d/f", 0) } == EIO)
        #expect(volume.errno { try volume.chmod("/d/f", 0o600) } == EIO)
        #expect(volume.errno { try volume.getxattr("/d/f", "user.k") } == EIO)
        #expect(volume.errno { try volume.statfs() } == EIO)
        volume.reachability.up.store(true, ordering: .relaxed)
        #expect(try volume.read(open, at: 0, count: 6) == Array("before".utf8))
        #expect(try volume.entries("/d") == ["f", "l"])
        volume.close(open)
    }

    /// EINVAL: on fsx-windows, a new name Windows refuses, wherever a new name arrives (create, mkdir,
    /// mknod, symlink, link, the target of a rename); nothing is made. Other types take the same names.
    @Test(arguments: StoreKind.allCases)
    func einvalForNewNamesWindowsRefuses(kind: StoreKind) throws {
        let windows = try makeVolume(kind, VolumeSetup(windowsNames: true))
        defer { windows.remove() }
        try windows.put("/ok", [1])
        for name in ["a:b", "CON", "con.txt", "LPT1", "report.", "report ", "q?", "star*", "pipe|", "lt<", "tab\tname"] {
            #expect(windows.errno { try windows.create("/" + name) } == EINVAL, "create \(name)")
            #expect(windows.errno { try windows.mkdir("/" + name) } == EINVAL, "mkdir \(name)")
            #expect(windows.errno { try windows.mknod("/" + name) } == EINVAL, "mknod \(name)")
            #expect(windows.errno { try windows.symlink("ok", "/" + name) } == EINVAL, "symlink \(name)")
            #expect(windows.errno { try windows.link("/ok", "/" + name) } == EINVAL, "link \(name)")
            #expect(windows.errno { try windows.rename("/ok", "/" + name) } == EINVAL, "rename to \(name)")
        }
        #expect(try windows.entries("/") == ["ok"])
        let posix = try makeVolume(kind)
        defer { posix.remove() }
        try posix.put("/a:b", [1])
        try posix.mkdir("/CON")
        try posix.rename("/a:b", "/report.")
        #expect(try posix.entries("/") == ["CON", "report."])
    }

    /// `.` and `..` are never a new name or one to remove here (the kernel never sends them; `..` of
    /// the root would lead out of the volume): EINVAL, on every type.
    @Test(arguments: StoreKind.allCases)
    func dotAndDotDotAreRefused(kind: StoreKind) throws {
        let volume = try makeVolume(kind)
        defer { volume.remove() }
        try volume.mkdir("/d")
        #expect(volume.errno { try volume.mkdir("/d/..") } == EINVAL)
        #expect(volume.errno { try volume.create("/.") } == EINVAL)
        #expect(volume.errno { try volume.unlink("/d/..") } == EINVAL)
        #expect(volume.errno { try volume.rmdir("/d/.") } == EINVAL)
        #expect(volume.errno { try volume.rename("/d", "/..") } == EINVAL)
        #expect(volume.errno { try volume.lstat("/d/..") } == EINVAL)
    }

    /// EOPNOTSUPP: setting or reading a POSIX ACL on every type; any extended attribute on efs.
    @Test(arguments: StoreKind.allCases)
    func eopnotsuppForACLsAndForAnyAttributeOnEFS(kind: StoreKind) throws {
        let volume = try makeVolume(kind)
        defer { volume.remove() }
        try volume.put("/f", [1])
        for acl in ["system.posix_acl_access", "system.posix_acl_default"] {
            #expect(volume.errno { try volume.setxattr("/f", acl, "x") } == EOPNOTSUPP)
            #expect(volume.errno { try volume.getxattr("/f", acl) } == EOPNOTSUPP)
            #expect(volume.errno { try volume.removexattr("/f", acl) } == EOPNOTSUPP)
        }
        // user.* attributes are kept where the service keeps them.
        try volume.setxattr("/f", "user.colour", "blue")
        #expect(try volume.getxattr("/f", "user.colour") == "blue")
        #expect(try volume.listxattr("/f").contains("user.colour"))
        try volume.removexattr("/f", "user.colour")
        #expect(volume.errno { try volume.getxattr("/f", "user.colour") } == ENODATA)

        let efs = try makeVolume(kind, VolumeSetup(extendedAttributes: MountConfiguration.hasExtendedAttributes(serviceType: .efs)))
        defer { efs.remove() }
        try efs.put("/f", [1])
        #expect(efs.errno { try efs.setxattr("/f", "user.colour", "blue") } == EOPNOTSUPP)
        #expect(efs.errno { try efs.getxattr("/f", "user.colour") } == EOPNOTSUPP)
        #expect(efs.errno { try efs.listxattr("/f") } == EOPNOTSUPP)
        #expect(efs.errno { try efs.removexattr("/f", "user.colour") } == EOPNOTSUPP)
    }

    /// ESTALE, the one case the server answers it: a create meeting a symbolic link made at its name
    /// since the kernel's lookup (on another mount), so that the kernel walks again and follows the
    /// link in the caller's view. O_NOFOLLOW meets it as ELOOP and O_EXCL as EEXIST, as locally; the
    /// link's target is never created or opened through it.
    @Test(arguments: StoreKind.allCases)
    func estaleOnlyForACreateMeetingALinkMadeSinceItsLookup(kind: StoreKind) throws {
        let volume = try makeVolume(kind)
        defer { volume.remove() }
        try volume.symlink("target", "/name")
        #expect(volume.errno { try volume.create("/name", flags: O_RDWR) } == ESTALE)
        #expect(volume.errno { try volume.create("/name", flags: O_RDWR | O_NOFOLLOW) } == ELOOP)
        #expect(volume.errno { try volume.create("/name", flags: O_RDWR | O_EXCL) } == EEXIST)
        #expect(volume.errno { try volume.lstat("/target") } == ENOENT)
        #expect(try volume.readlink("/name") == "target")
    }

    /// ENOSPC on a full provisioned volume for a new inode (create, mkdir, mknod, symlink); never for
    /// a rename or a link, which allocate nothing and are what frees a full volume.
    @Test(arguments: StoreKind.allCases)
    func enospcForNewInodesOnAFullVolumeNeverForRenameOrLink(kind: StoreKind) throws {
        let volume = try makeVolume(kind, VolumeSetup(capacityBytes: 64 << 10))
        defer { volume.remove() }
        try volume.put("/log", [UInt8](repeating: 1, count: 64 << 10))
        #expect(volume.usage?.freeBytes == 0)
        #expect(volume.errno { try volume.create("/new") } == ENOSPC)
        #expect(volume.errno { try volume.mkdir("/dir") } == ENOSPC)
        #expect(volume.errno { try volume.mknod("/fifo") } == ENOSPC)
        #expect(volume.errno { try volume.symlink("log", "/link") } == ENOSPC)
        // Log rotation on a full volume: rename, link, unlink.
        try volume.rename("/log", "/log.1")
        try volume.link("/log.1", "/log.keep")
        try volume.unlink("/log.1")
        #expect(volume.usage?.freeBytes == 0)  // still one name: nothing freed
        try volume.unlink("/log.keep")
        #expect(volume.usage?.usedBytes == 0)
        _ = try volume.create("/new")
    }

    /// "other": the backing file system's own answer, the same on both stores.
    @Test(arguments: StoreKind.allCases)
    func otherErrnosAreTheBackingFileSystemsOwn(kind: StoreKind) throws {
        let volume = try makeVolume(kind)
        defer { volume.remove() }
        try volume.mkdir("/d")
        try volume.put("/d/f", [1])
        try volume.mkdir("/e")
        #expect(volume.errno { try volume.lstat("/nothing") } == ENOENT)
        #expect(volume.errno { try volume.mkdir("/d") } == EEXIST)
        #expect(volume.errno { try volume.create("/d/f", flags: O_RDWR | O_EXCL) } == EEXIST)
        #expect(volume.errno { try volume.rmdir("/d") } == ENOTEMPTY)
        #expect(volume.errno { try volume.rmdir("/d/f") } == ENOTDIR)
        #expect(volume.errno { try volume.unlink("/e") } == EISDIR)
        #expect(volume.errno { try volume.rename("/d", "/d/f/x") } == ENOTDIR)
        #expect(volume.errno { try volume.rename("/e", "/d") } == ENOTEMPTY)
        #expect(volume.errno { try volume.rename("/d/f", "/e") } == EISDIR)
        #expect(volume.errno { try volume.rename("/d", "/d/sub") } == EINVAL)
        #expect(volume.errno { try volume.rename("/d/f", "/e", flags: .noReplace) } == EEXIST)
        #expect(volume.errno { try volume.readlink("/d/f") } == EINVAL)
        #expect(volume.errno { try volume.link("/d", "/d2") } == EPERM)
    }
}
