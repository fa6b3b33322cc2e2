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
        let code = attributesOf(fs, fd, &entry.attr)
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
        guard let actual = fs.semantics.spelling(of: asked, in: parent.fd), actual != asked else { return ENOENT }
        return fillEntry(fs, parent, actual: actual, asked: asked, &entry)
    }

    /// Removes the entry `name` (any spelling of it on a case-insensitive volume) from `parent`
    /// (`VolumeSemantics.remove`: the capacity it frees, the name lock), then tells the kernel's caches.
    /// Returns 0 or an errno.
    static func removeEntry(_ fs: MountFileSystem, _ parent: Inode, _ name: UnsafePointer<CChar>, flags: Int32) -> Int32 {
        let asked = nameBytes(name)
        // The file whose name goes, for the other inodes the kernel holds for it (aliases).
        let key = fs.caseFolding != nil && fs.inodes.hasAliases
            ? keyOf(parent, fs.semantics.spelling(of: asked, in: parent.fd) ?? asked) : nil
        let actual: [UInt8]
        let mark = fs.caseFolding == nil ? fs.powerLoss?.beginRemove(asked, in: parent.fd, key: parent.key, isDirectory: flags & AT_REMOVEDIR != 0) : nil
        do throws(Errno) {
            actual = try fs.semantics.remove(asked, in: parent.fd, directory: flags & AT_REMOVEDIR != 0)
        } catch {
            fs.powerLoss?.finish(mark, succeeded: false)
            return error.code
        }
        fs.powerLoss?.finish(mark, succeeded: true)
        nameRemoved(fs)
        if fs.caseFolding != nil {
            changed(fs, parent)
            if let key { changed(fs, key: key) }
            namesChanged(fs, parent, asked: asked, actual: actual)
        }
        return 0
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

    /// rename(2) on a case-insensitive volume (`VolumeSemantics.rename` decides it), then the kernel's
    /// caches: the two entries' files, the aliases a rename made real names, and every cached name when
    /// one cached under another spelling was removed or replaced. Returns 0 or an errno.
    static func renameFolded(_ fs: MountFileSystem, _ from: Inode, _ name: UnsafePointer<CChar>, _ to: Inode,
                             _ newName: UnsafePointer<CChar>, flags: UInt32) -> Int32 {
        let askedSource = nameBytes(name), askedTarget = nameBytes(newName)
        var touched: [InodeKey] = []
        if fs.inodes.hasAliases {
            let source = fs.semantics.spelling(of: askedSource, in: from.fd)
            let existing = fs.semantics.spelling(of: askedTarget, in: to.fd)
            touched = [source.flatMap { keyOf(from, $0) }, existing.flatMap { keyOf(to, $0) }].compactMap { $0 }
        }
        let outcome: VolumeSemantics<DirectoryStore>.RenameOutcome
        do throws(Errno) {
            outcome = try fs.semantics.rename(askedSource, in: from.fd, to: askedTarget, in: to.fd,
                                              flags: RenameFlags(rawValue: flags))
        } catch { return error.code }
        let exchange = flags & UInt32(BERTH_RENAME_EXCHANGE) != 0
        let nothingMoved = outcome.replaced == nil && outcome.result == outcome.source && from.key == to.key
        if exchange {
            if outcome.replaced != nil { nameRemoved(fs) }
        } else if !nothingMoved {
            withCName(outcome.result) { nameMoved(fs, to: to, $0) }
            // The spelling asked for is a real name now: its alias must not be handed out again.
            if outcome.replaced != nil || from.key == to.key { retireAlias(fs, to, askedTarget) }
        }
        changed(fs, from)
        if to !== from { changed(fs, to) }
        for key in touched { changed(fs, key: key) }
        let staleNames = from.spelling != nil || to.spelling != nil || outcome.source != askedSource
            || outcome.replaced.map { $0 != askedTarget } ?? false
        if staleNames, !fs.expireCachedNames() {
            invalidateLater(fs, from, [outcome.source])
            invalidateLater(fs, to, [outcome.replaced ?? []])
        }
        return 0
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
