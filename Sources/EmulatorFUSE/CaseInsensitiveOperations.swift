import CFuse3
import Dispatch
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
        entry.ino = fs.inodes.rememberAlias(fd: fd, entry.attr, spelling: asked, parent: parent)
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
        var removed: (key: InodeKey?, spelling: [UInt8]) = (nil, asked)
        let code = folding.withLock(parent.fd) { () -> Int32 in
            let actual = folding.spelling(of: asked, in: parent.fd, key: parent.key) ?? asked
            removed = (fs.inodes.hasAliases ? keyOf(parent, actual) : nil, actual)
            let code = withCName(actual) { remove($0) }
            if code == 0 { folding.recordChange(in: parent.key, removed: actual) }
            return code
        }
        guard let code else { return errno }
        if code == 0 {
            changed(fs, parent)
            if let key = removed.key { changed(fs, key: key) }
            namesChanged(fs, parent, asked: asked, actual: removed.spelling)
        }
        return code
    }

    /// The backing identity of `name` in `directory`, if it exists.
    static func keyOf(_ directory: Inode, _ name: [UInt8]) -> InodeKey? {
        var st = stat()
        return withCName(name) { fstatat(directory.fd, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0 ? InodeKey(st) : nil
    }

    // MARK: - One file, one view (case-insensitive volumes)
    //
    // The kernel holds one inode per spelling a file was reached by (`Inode.spelling`), each with its own
    // cached attributes and pages, and caches names only under their real spelling. After a change made
    // through one of them, the others are dropped from its caches before the change is answered, so that
    // every spelling shows the change at once on this mount, as an SMB client's one inode per file does.

    /// After a change made through `inode`: drops the kernel's cached attributes (with `pages`, its
    /// cached pages too) of every other inode it holds for the same file. Nothing to do, and no lock
    /// taken, unless the file has another (`Inode.sharesKey`). FUSE_NOTIFY_INVAL_INODE takes no inode
    /// lock, so a request may send it before replying.
    @inline(__always)
    static func changed(_ fs: MountFileSystem, _ inode: Inode, pages: Bool = false) {
        guard inode.sharesKey.load(ordering: .relaxed) else { return }
        invalidate(fs, fs.inodes.numbers(of: inode.key, except: inode), pages: pages)
    }

    /// Like `changed`, for every inode of the file `key` (one whose name was removed or replaced: its
    /// link count changed).
    static func changed(_ fs: MountFileSystem, key: InodeKey) {
        invalidate(fs, fs.inodes.numbers(of: key), pages: false)
    }

    static func invalidate(_ fs: MountFileSystem, _ numbers: [fuse_ino_t], pages: Bool) {
        guard !numbers.isEmpty, let session = fs.session else { return }
        // A negative offset drops the attributes only; offset 0, length 0 the whole file's pages too.
        for ino in numbers { _ = fuse_lowlevel_notify_inval_inode(session, ino, pages ? 0 : -1, 0) }
    }

    /// After the name asked for as `asked` in `parent`, whose backing entry was spelled `actual`, was
    /// removed or replaced: when the kernel may have cached that entry under another name than the one
    /// it just changed (the real spelling, or the same name under the directory's real spelling), every
    /// cached name is made to be looked up again (FUSE_NOTIFY_INC_EPOCH), so that no stale name answers
    /// (a symbolic link's target, a removed file's attributes, a create following a removed link).
    static func namesChanged(_ fs: MountFileSystem, _ parent: Inode, asked: [UInt8], actual: [UInt8]) {
        guard parent.spelling != nil || asked != actual else { return }
        if !fs.expireCachedNames() { invalidateLater(fs, parent, [actual]) }
    }

    /// Before Linux 6.16 (no FUSE_NOTIFY_INC_EPOCH): `names` under each inode of `directory` that is not
    /// an alias (names under aliases are never cached). FUSE_NOTIFY_INVAL_ENTRY waits for the directory's
    /// lock, which the kernel holds until this request is answered: sent from another thread, so the
    /// stale name may still answer for the moment that takes.
    static func invalidateLater(_ fs: MountFileSystem, _ directory: Inode, _ names: [[UInt8]]) {
        guard let session = fs.session else { return }
        let directories = fs.inodes.numbers(of: directory.key).filter { fs.inodes.inode($0)?.spelling == nil }
        let address = UInt(bitPattern: session)
        DispatchQueue.global().async {
            guard let se = OpaquePointer(bitPattern: address) else { return }
            for name in Set(names) where !name.isEmpty {
                name.withUnsafeBufferPointer { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { chars in
                        for parent in directories {
                            _ = fuse_lowlevel_notify_inval_entry(se, parent, chars.baseAddress, name.count)
                        }
                    }
                }
            }
        }
    }

    /// rename(2) on a case-insensitive volume: the source is found by any spelling; a target that
    /// exists under another spelling is the one replaced (or swapped, or EEXIST with
    /// RENAME_NOREPLACE), and the entry ends up spelled `newName`; a target that is the source itself
    /// changes only the case. Returns 0 or an errno.
    static func renameFolded(_ fs: MountFileSystem, _ folding: CaseFoldedDirectories, _ from: Inode,
                             _ name: UnsafePointer<CChar>, _ to: Inode, _ newName: UnsafePointer<CChar>, flags: UInt32,
                             rename: (Inode, UnsafePointer<CChar>, Inode, UnsafePointer<CChar>, UInt32) -> Int32) -> Int32 {
        let askedSource = nameBytes(name), askedTarget = nameBytes(newName)
        // What changed, for the kernel's caches: the two entries' files, and whether a name it may have
        // cached under another spelling was removed or replaced.
        var touched: [InodeKey] = []
        var staleNames = false
        var spellings: (source: [UInt8], existing: [UInt8]) = ([], [])
        let code = folding.withLocks((from.fd, from.key), (to.fd, to.key)) { () -> Int32 in
            guard let source = folding.spelling(of: askedSource, in: from.fd, key: from.key) else { return ENOENT }
            let existing = folding.spelling(of: askedTarget, in: to.fd, key: to.key)
            let exchange = flags & UInt32(BERTH_RENAME_EXCHANGE) != 0
            let noReplace = flags & UInt32(BERTH_RENAME_NOREPLACE) != 0
            if fs.inodes.hasAliases {
                touched = [keyOf(from, source), existing.flatMap { keyOf(to, $0) }].compactMap { $0 }
            }
            spellings = (source, existing ?? [])
            staleNames = from.spelling != nil || to.spelling != nil || source != askedSource
                || existing.map { $0 != askedTarget } ?? false
            if let existing, from.key == to.key, existing == source {
                // The same entry: a case-only rename, or nothing at all.
                if exchange || source == askedTarget { return 0 }
                let code = withCName(source) { s in withCName(askedTarget) { t in rename(from, s, to, t, 0) } }
                guard code == 0 else { return code }
                folding.recordRename(from: from.key, source, to: to.key, askedTarget)
                retireAlias(fs, from, askedTarget)
                return 0
            }
            guard let existing else {
                if exchange { return ENOENT }
                let code = withCName(source) { s in withCName(askedTarget) { t in rename(from, s, to, t, flags) } }
                if code == 0 { folding.recordRename(from: from.key, source, to: to.key, askedTarget) }
                return code
            }
            if noReplace { return EEXIST }
            if exchange {
                let code = withCName(source) { s in withCName(existing) { t in rename(from, s, to, t, flags) } }
                if code == 0 {
                    // The names stay as they were; only the entries behind them swapped.
                    folding.recordChange(in: from.key)
                }
                return code
            }
            // Replace the entry spelled `existing`, then give the result the spelling asked for: a
            // case-only rename within the target directory, which cannot fail where the first succeeded
            // but for the backing disk's errors (the result then keeps the spelling it replaced).
            let code = withCName(source) { s in withCName(existing) { t in rename(from, s, to, t, 0) } }
            guard code == 0 else { return code }
            var respelled = existing
            if existing != askedTarget,
               withCName(existing, { s in withCName(askedTarget) { t in rename(to, s, to, t, 0) } }) == 0 {
                respelled = askedTarget
            }
            folding.recordRename(from: from.key, source, to: to.key, respelled, replaced: existing)
            retireAlias(fs, to, askedTarget)
            return 0
        }
        guard let code else { return errno }
        if code == 0 {
            changed(fs, from)
            if to !== from { changed(fs, to) }
            for key in touched { changed(fs, key: key) }
            if staleNames, !fs.expireCachedNames() {
                invalidateLater(fs, from, [spellings.source])
                invalidateLater(fs, to, [spellings.existing])
            }
        }
        return code
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
