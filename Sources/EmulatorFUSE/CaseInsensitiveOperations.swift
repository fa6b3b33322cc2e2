import CFuse3
import EmulatorCore
import Glibc

/// The parts of the operations that differ on a case-insensitive volume (FSx for Windows): finding an
/// entry by another spelling, and making and removing names under the directory lock of
/// `CaseFoldedDirectories`, so that no two entries of one directory ever differ only in case.
/// On other volumes each helper is the plain call.
extension Operations {
    static func nameBytes(_ name: UnsafePointer<CChar>) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
    }

    /// Runs `body` with `name` as a NUL-terminated C string.
    static func withCName<T>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (name + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress else { return body("") }
                return body(base)
            }
        }
    }

    /// Fills `entry` for the entry spelled `actual` in `parent`, reached as `asked`: its own inode when
    /// the two are the same, else an alias (`Inode.spelling`). Returns 0 or an errno.
    static func fillEntry(_ fs: MountFileSystem, _ parent: Inode, actual: [UInt8], asked: [UInt8],
                          _ entry: inout fuse_entry_param) -> Int32 {
        if actual == asked { return withCName(actual) { fillEntry(fs, parent, $0, &entry) } }
        let stamp = removalStamp(fs)
        let fd = withCName(actual) { openat(parent.fd, $0, BERTH_O_PATH | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 { return errno }
        let code = statOf(fd, &entry.attr)
        if code != 0 {
            close(fd)
            return code
        }
        entry.ino = fs.inodes.rememberAlias(fd: fd, entry.attr, spelling: asked)
        recordOrigin(fs, entry.ino, parent: parent, name: actual, stamp: stamp)
        entry.attr_timeout = fs.attrTimeout
        // Never cached: after a rename the spelling may be the real name, or nothing.
        entry.entry_timeout = 0
        return 0
    }

    /// A lookup that found nothing under `name` exactly: the entry with another spelling of it, if any.
    static func lookupOtherSpelling(_ fs: MountFileSystem, _ folding: CaseFoldedDirectories, _ parent: Inode,
                                    _ name: UnsafePointer<CChar>, _ entry: inout fuse_entry_param) -> Int32 {
        let asked = nameBytes(name)
        guard let actual = folding.spelling(of: asked, in: parent.fd, key: parent.key), actual != asked else { return ENOENT }
        return fillEntry(fs, parent, actual: actual, asked: asked, &entry)
    }

    /// Makes the new entry `name` in `parent` with `make` (0 or -1 with errno, like the system calls);
    /// on a case-insensitive volume EEXIST when any spelling of it exists. Returns 0 or an errno.
    static func makeEntry(_ fs: MountFileSystem, _ parent: Inode, _ name: UnsafePointer<CChar>,
                          _ make: () -> Int32) -> Int32 {
        guard let folding = fs.caseFolding else { return make() == 0 ? 0 : errno }
        let asked = nameBytes(name)
        let code = folding.withLock(parent.fd) { () -> Int32 in
            if folding.spelling(of: asked, in: parent.fd, key: parent.key) != nil { return EEXIST }
            guard make() == 0 else { return errno }
            folding.recordChange(in: parent.key, added: asked)
            return 0
        }
        return code ?? errno
    }

    /// Removes the entry `name` (any spelling of it on a case-insensitive volume) from `parent` with
    /// `unlinkat` `flags`, releasing what capacity it frees. Returns 0 or an errno.
    static func removeEntry(_ fs: MountFileSystem, _ parent: Inode, _ name: UnsafePointer<CChar>, flags: Int32) -> Int32 {
        let remove = { (actual: UnsafePointer<CChar>) -> Int32 in
            guard let usage = fs.usage, flags == 0 else {
                if unlinkat(parent.fd, actual, flags) != 0 { return errno }
                nameRemoved(fs)
                return 0
            }
            // The file loses a name under its size lock: its last one frees its blocks.
            return withNamedFile(fs, parent, actual) { victim, _ in
                if unlinkat(parent.fd, actual, flags) != 0 { return errno }
                nameRemoved(fs)
                if let victim { usage.removedName(of: victim) }
                return 0
            }
        }
        guard let folding = fs.caseFolding else { return remove(name) }
        let asked = nameBytes(name)
        let code = folding.withLock(parent.fd) { () -> Int32 in
            let actual = folding.spelling(of: asked, in: parent.fd, key: parent.key) ?? asked
            let code = withCName(actual) { remove($0) }
            if code == 0 { folding.recordChange(in: parent.key, removed: actual) }
            return code
        }
        return code ?? errno
    }

    /// rename(2) on a case-insensitive volume: the source is found by any spelling; a target that
    /// exists under another spelling is the one replaced (or swapped, or EEXIST with
    /// RENAME_NOREPLACE), and the entry ends up spelled `newName`; a target that is the source itself
    /// changes only the case. Returns 0 or an errno.
    static func renameFolded(_ fs: MountFileSystem, _ folding: CaseFoldedDirectories, _ from: Inode,
                             _ name: UnsafePointer<CChar>, _ to: Inode, _ newName: UnsafePointer<CChar>,
                             flags: UInt32, rename: (UnsafePointer<CChar>, UnsafePointer<CChar>, UInt32) -> Int32) -> Int32 {
        let askedSource = nameBytes(name), askedTarget = nameBytes(newName)
        let code = folding.withLocks((from.fd, from.key), (to.fd, to.key)) { () -> Int32 in
            guard let source = folding.spelling(of: askedSource, in: from.fd, key: from.key) else { return ENOENT }
            let existing = folding.spelling(of: askedTarget, in: to.fd, key: to.key)
            let exchange = flags & UInt32(BERTH_RENAME_EXCHANGE) != 0
            let noReplace = flags & UInt32(BERTH_RENAME_NOREPLACE) != 0
            if let existing, from.key == to.key, existing == source {
                // The same entry: a case-only rename, or nothing at all.
                if exchange || source == askedTarget { return 0 }
                let code = withCName(source) { s in withCName(askedTarget) { t in rename(s, t, 0) } }
                guard code == 0 else { return code }
                folding.recordRename(from: from.key, source, to: to.key, askedTarget)
                retireAlias(fs, from, askedTarget)
                return 0
            }
            guard let existing else {
                if exchange { return ENOENT }
                let code = withCName(source) { s in withCName(askedTarget) { t in rename(s, t, flags) } }
                if code == 0 { folding.recordRename(from: from.key, source, to: to.key, askedTarget) }
                return code
            }
            if noReplace { return EEXIST }
            if exchange {
                let code = withCName(source) { s in withCName(existing) { t in rename(s, t, flags) } }
                if code == 0 {
                    // The names stay as they were; only the entries behind them swapped.
                    folding.recordChange(in: from.key)
                }
                return code
            }
            // Replace the entry spelled `existing`, then give the result the spelling asked for.
            var code = withCName(source) { s in withCName(existing) { t in rename(s, t, 0) } }
            guard code == 0 else { return code }
            if existing != askedTarget {
                code = withCName(existing) { s in withCName(askedTarget) { t in rename(s, t, 0) } }
            }
            folding.recordRename(from: from.key, source, to: to.key, code == 0 ? askedTarget : existing, replaced: existing)
            retireAlias(fs, to, askedTarget)
            return code
        }
        return code ?? errno
    }

    /// After a rename made `spelling` a real name in `directory`, the alias of that spelling must not
    /// be handed out again (the kernel counted it as replaced).
    static func retireAlias(_ fs: MountFileSystem, _ directory: Inode, _ spelling: [UInt8]) {
        var st = stat()
        let found = withCName(spelling) { fstatat(directory.fd, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
        guard found else { return }
        fs.inodes.retireAlias(InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)), spelling: spelling)
    }
}
