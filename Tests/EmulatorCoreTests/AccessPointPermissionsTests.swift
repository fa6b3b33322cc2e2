import EmulatorCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The permission decisions of an access point mount, without a mount: the access point's uid, gid and
/// secondary gids against a file's mode and owner, as generic_permission and the VFS decide.
struct AccessPointPermissionsTests {
    let app = AccessPointPermissions(user: PosixUser(uid: 1000, gid: 1000, secondaryGIDs: [5000, 6000]))
    let root = AccessPointPermissions(user: PosixUser(uid: 0, gid: 0))

    func file(_ mode: UInt32, _ uid: UInt32, _ gid: UInt32) -> AccessPointPermissions.Attributes {
        .init(mode: UInt32(S_IFREG) | mode, uid: uid, gid: gid)
    }

    func directory(_ mode: UInt32, _ uid: UInt32, _ gid: UInt32) -> AccessPointPermissions.Attributes {
        .init(mode: UInt32(S_IFDIR) | mode, uid: uid, gid: gid)
    }

    func errno(_ body: () throws(Errno) -> Void) -> Int32 {
        do throws(Errno) {
            try body()
            return 0
        } catch { return error.code }
    }

    @Test func theOwnerClassDecidesForTheOwnerEvenWhenTheGroupOrOthersWouldAllowMore() {
        #expect(app.permits(.read, file(0o600, 1000, 1)))
        #expect(!app.permits(.read, file(0o066, 1000, 1000)), "the owner's bits, not the group's or others'")
        #expect(!app.permits(.write, file(0o444, 1000, 1)))
    }

    @Test func theGroupClassAppliesToThePrimaryAndEverySecondaryGid() {
        #expect(app.permits(.read, file(0o040, 2000, 1000)))
        #expect(app.permits([.read, .write], file(0o060, 2000, 5000)), "secondary gid 5000")
        #expect(app.permits(.read, file(0o040, 2000, 6000)), "secondary gid 6000")
        #expect(!app.permits(.read, file(0o040, 2000, 7000)))
        #expect(!app.permits(.read, file(0o404, 2000, 5000)), "in the group: the group's bits, not others'")
    }

    @Test func othersGetTheLastThreeBits() {
        #expect(app.permits(.read, file(0o004, 2000, 2000)))
        #expect(!app.permits(.write, file(0o004, 2000, 2000)))
        #expect(app.permits(.execute, directory(0o001, 2000, 2000)))
    }

    @Test func rootBypassesEverythingButExecutingAFileWithNoExecuteBit() {
        #expect(root.permits([.read, .write], file(0o000, 2000, 2000)))
        #expect(root.permits(.execute, directory(0o000, 2000, 2000)))
        #expect(!root.permits(.execute, file(0o600, 2000, 2000)))
        #expect(root.permits(.execute, file(0o001, 2000, 2000)))
        let rootGroup = AccessPointPermissions(user: PosixUser(uid: 1000, gid: 0))
        #expect(rootGroup.isRoot, "EFS: a user or group ID of 0 is root")
        #expect(rootGroup.permits(.write, file(0o400, 2000, 2000)))
    }

    @Test func opensNeedReadWriteOrExecuteByTheirFlags() {
        let readOnly = file(0o644, 2000, 2000)
        #expect(errno { () throws(Errno) in try app.checkOpen(flags: O_RDONLY, readOnly) } == 0)
        #expect(errno { () throws(Errno) in try app.checkOpen(flags: O_WRONLY, readOnly) } == EACCES)
        #expect(errno { () throws(Errno) in try app.checkOpen(flags: O_RDWR, readOnly) } == EACCES)
        #expect(errno { () throws(Errno) in try app.checkOpen(flags: O_RDONLY | O_TRUNC, readOnly) } == EACCES)
        let program = file(0o711, 2000, 2000)
        #expect(errno { () throws(Errno) in try app.checkOpen(flags: O_RDONLY, program) } == EACCES)
        #expect(errno { () throws(Errno) in try app.checkOpen(flags: O_RDONLY | AccessPointPermissions.openForExec, program) } == 0,
                "execve needs execute, not read")
    }

    @Test func lookupsNeedSearchAndNewNamesNeedWriteAndSearch() {
        #expect(errno { () throws(Errno) in try app.checkLookup(in: directory(0o644, 1000, 1000)) } == EACCES)
        #expect(errno { () throws(Errno) in try app.checkLookup(in: directory(0o100, 1000, 1000)) } == 0)
        #expect(errno { () throws(Errno) in try app.checkNewEntry(in: directory(0o500, 1000, 1000)) } == EACCES)
        #expect(errno { () throws(Errno) in try app.checkNewEntry(in: directory(0o200, 1000, 1000)) } == EACCES)
        #expect(errno { () throws(Errno) in try app.checkNewEntry(in: directory(0o070, 0, 5000)) } == 0, "through secondary gid 5000")
        #expect(errno { () throws(Errno) in try app.checkAccess(mask: 0, file(0o000, 2000, 2000)) } == 0, "F_OK")
        #expect(errno { () throws(Errno) in try app.checkAccess(mask: W_OK, file(0o644, 1000, 1000)) } == 0)
        #expect(errno { () throws(Errno) in try app.checkAccess(mask: W_OK, file(0o644, 2000, 1000)) } == EACCES)
    }

    @Test func theStickyBitLetsOnlyTheFilesOwnerTheDirectorysOwnerOrRootRemove() {
        let sticky = directory(0o1777, 0, 0)
        #expect(errno { () throws(Errno) in try app.checkRemoval(of: file(0o644, 2000, 2000), from: sticky) } == EPERM)
        #expect(errno { () throws(Errno) in try app.checkRemoval(of: file(0o644, 1000, 2000), from: sticky) } == 0)
        #expect(errno { () throws(Errno) in try app.checkRemoval(of: file(0o644, 2000, 2000), from: directory(0o1777, 1000, 0)) } == 0)
        #expect(errno { () throws(Errno) in try root.checkRemoval(of: file(0o644, 2000, 2000), from: sticky) } == 0)
        #expect(errno { () throws(Errno) in try app.checkRemoval(of: file(0o644, 2000, 2000), from: directory(0o777, 0, 0)) } == 0)
        #expect(errno { () throws(Errno) in try app.checkRemoval(of: file(0o644, 1000, 1000), from: directory(0o1755, 0, 0)) } == EACCES,
                "write permission first: EACCES before the sticky rule")
    }

    @Test func renamesCheckBothSidesAndAMovedDirectoryItself() {
        let open = directory(0o777, 0, 0)
        let closed = directory(0o755, 0, 0)
        let mine = file(0o644, 1000, 1000)
        func rename(_ source: AccessPointPermissions.Attributes, _ from: AccessPointPermissions.Attributes,
                    _ target: AccessPointPermissions.Attributes?, _ to: AccessPointPermissions.Attributes,
                    same: Bool = false, exchange: Bool = false) -> Int32 {
            errno { () throws(Errno) in
                try app.checkRename(source: source, from: from, target: target, in: to, sameDirectory: same, exchange: exchange)
            }
        }
        #expect(rename(mine, open, nil, open) == 0)
        #expect(rename(mine, closed, nil, open) == EACCES, "the source's directory is not writable")
        #expect(rename(mine, open, nil, closed) == EACCES, "the target's directory is not writable")
        #expect(rename(mine, open, file(0o644, 2000, 2000), directory(0o1777, 0, 0)) == EPERM, "a sticky target owned by another")
        #expect(rename(directory(0o555, 1000, 1000), open, nil, open) == EACCES, "a directory moved to another parent needs write on itself")
        #expect(rename(directory(0o555, 1000, 1000), open, nil, open, same: true) == 0, "not within its parent")
        #expect(rename(mine, open, directory(0o555, 2000, 2000), open, exchange: true) == EACCES, "an exchanged directory too")
    }

    @Test func attributeChangesFollowTheOwnershipRules() {
        func change(_ who: AccessPointPermissions, mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, truncates: Bool = false,
                    access: TimeChange = .omit, modification: TimeChange = .omit, handle: Bool = false,
                    _ target: AccessPointPermissions.Attributes) -> Int32 {
            errno { () throws(Errno) in
                _ = try who.checkAttributeChange(mode: mode, uid: uid, gid: gid, truncates: truncates, access: access,
                                                 modification: modification, handle: handle, target)
            }
        }
        let theirs = file(0o666, 2000, 2000)
        let mine = file(0o644, 1000, 1000)
        #expect(change(app, mode: 0o600, theirs) == EPERM)
        #expect(change(app, mode: 0o600, mine) == 0)
        #expect(change(app, uid: 2000, mine) == EPERM, "giving a file away takes root")
        #expect(change(root, uid: 2000, mine) == 0)
        #expect(change(app, gid: 5000, mine) == 0, "to a secondary group")
        #expect(change(app, gid: 7000, mine) == EPERM, "to a group it is not in")
        #expect(change(app, gid: 5000, theirs) == EPERM, "only the owner changes the group")
        #expect(change(app, truncates: true, file(0o644, 2000, 2000)) == EACCES)
        #expect(change(app, truncates: true, handle: true, file(0o644, 2000, 2000)) == 0, "through a handle opened for writing")
        #expect(change(app, truncates: true, theirs) == 0)
        #expect(change(app, modification: .now, theirs) == 0, "touch: write permission is enough")
        #expect(change(app, modification: .now, file(0o644, 2000, 2000)) == EACCES)
        #expect(change(app, modification: .set(seconds: 1, nanoseconds: 0), theirs) == EPERM, "given times: only the owner")
        #expect(change(app, modification: .set(seconds: 1, nanoseconds: 0), mine) == 0)
        #expect(change(app, mode: 0o755, file(0o4755, 2000, 2000)) == 0, "a writer clearing set-user-ID (file_remove_privs)")
        #expect(change(app, mode: 0o4755, file(0o4755, 2000, 2000)) == EPERM, "the same mode is not a clearing")
        #expect(change(app, mode: 0o4777, file(0o4755, 2000, 2000)) == EPERM)
        let adjusted = try? app.checkAttributeChange(mode: 0o2755, uid: nil, gid: nil, truncates: false, access: .omit,
                                                     modification: .omit, handle: false, file(0o755, 1000, 7000))
        #expect(adjusted == 0o755, "not in the file's group: S_ISGID is dropped, as Linux drops it")
        let kept = try? app.checkAttributeChange(mode: 0o2755, uid: nil, gid: nil, truncates: false, access: .omit,
                                                 modification: .omit, handle: false, file(0o755, 1000, 6000))
        #expect(kept == 0o2755)
    }
}
