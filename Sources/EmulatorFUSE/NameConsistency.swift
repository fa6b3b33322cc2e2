import CFuse3
import EmulatorCore
import Glibc

/// Close-to-open for names on shared volumes, whose file names the kernel caches for 1 s: an open
/// through a file name that another mount has since removed, replaced or moved answers ESTALE, and the
/// kernel then walks the path again asking this server for every component (fs/namei.c: an ESTALE
/// from the open is retried once with LOOKUP_REVAL, which fuse_dentry_revalidate honours), and the
/// fresh lookup is trusted. While no mount of the volume removed any name since the lookup, the check
/// is one shared-memory load.
extension Operations {
    /// Records where a lookup found `ino`: `name` in `parent`, the removal count `stamp` read before it.
    /// `unlessRecorded`: a listing's entry (READDIRPLUS) records a file only the first time; it never
    /// replaces what a lookup recorded, which may be the kernel's retry (`isRetry`) or the name of
    /// another link that the open in progress walked through.
    static func recordOrigin(_ fs: MountFileSystem, _ ino: fuse_ino_t, parent: Inode, name: [UInt8], stamp: UInt64,
                             unlessRecorded: Bool = false) {
        guard fs.nameRemovals != nil, ino != fuse_ino_t(FUSE_ROOT_ID), let inode = fs.inodes.inode(ino) else { return }
        let retry = isRetryLookup(fs, parent, name)
        inode.origin.withLock { origin in
            if unlessRecorded && origin != nil { return }
            origin = NameOrigin(parent: parent, name: name, checkedAt: stamp, isRetry: retry)
        }
    }

    static func recordOrigin(_ fs: MountFileSystem, _ ino: fuse_ino_t, parent: Inode, name: UnsafePointer<CChar>,
                             stamp: UInt64, unlessRecorded: Bool = false) {
        guard fs.nameRemovals != nil else { return }
        recordOrigin(fs, ino, parent: parent, name: nameBytes(name), stamp: stamp, unlessRecorded: unlessRecorded)
    }

    /// The removal count to stamp a lookup with (read before it), or 0 when names are not checked.
    @inline(__always)
    static func removalStamp(_ fs: MountFileSystem) -> UInt64 { fs.nameRemovals?.current ?? 0 }

    /// Called after this mount removed or replaced a name, before answering.
    @inline(__always)
    static func nameRemoved(_ fs: MountFileSystem) {
        guard let removals = fs.nameRemovals else { return }
        fs.ownNameRemovals.add(1, ordering: .relaxed)
        removals.advance()
    }

    /// Called after this mount renamed `newName` in `parent` into place: the file the kernel now holds
    /// under that name is recorded there, so that its next open needs no check (the kernel moved its
    /// cached name along). Counts the removal the rename is.
    static func nameMoved(_ fs: MountFileSystem, to parent: Inode, _ newName: UnsafePointer<CChar>) {
        guard let removals = fs.nameRemovals else { return }
        fs.ownNameRemovals.add(1, ordering: .relaxed)
        let stamp = removals.advance()
        var st = stat()
        guard fstatat(parent.fd, newName, &st, AT_SYMLINK_NOFOLLOW) == 0,
              let moved = fs.inodes.known(InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))) else { return }
        moved.origin.withLock { $0 = NameOrigin(parent: parent, name: nameBytes(newName), checkedAt: stamp) }
    }

    /// How recent a lookup made after an ESTALE answer must be for an open to trust it unchecked. After
    /// an ESTALE the kernel walks again with every name looked up anew, and that lookup and the open are
    /// one system call to the caller: checking again could only fail on a name that changed within that
    /// call, a race a local file system resolves either way, and failing it would hand ESTALE to the
    /// program.
    /// Generous, since a loaded machine may deschedule the kernel's thread between the two: only the
    /// lookup of the very name answered ESTALE is trusted, and only by the open that follows it. (At
    /// 100 ms, 2 of 8 runs of ContainmentMountTests' two-mount random test handed a program ESTALE with
    /// 12 busy loops and a disk writer beside it, and one fresh-clone CI run did; at 1 s, 0 of 16.)
    static let retryWindowNanoseconds: UInt64 = 1_000_000_000

    /// Answers ESTALE for a name found stale, noting when (`staleOrigin` trusts the lookups of the
    /// kernel's retry).
    static func replyStale(_ req: fuse_req_t?, _ fs: MountFileSystem, _ origin: NameOrigin) {
        let now = monotonicNanoseconds()
        fs.staleNames.withLock { names in
            names.removeAll { now &- $0.at > retryWindowNanoseconds }
            if names.count < 256 { names.append(StaleName(parent: origin.parent.key, name: origin.name, at: now)) }
        }
        fs.lastStaleAnswer.store(now, ordering: .relaxed)
        fuse_reply_err(req, ESTALE)
    }

    /// Whether a lookup of `name` in `parent` is the kernel's retry of an open this mount just answered
    /// ESTALE for: its answer is then trusted by that open (`retryWindowNanoseconds`).
    static func isRetryLookup(_ fs: MountFileSystem, _ parent: Inode, _ name: [UInt8]) -> Bool {
        let now = monotonicNanoseconds()
        guard now &- fs.lastStaleAnswer.load(ordering: .relaxed) < retryWindowNanoseconds else { return false }
        return fs.staleNames.withLock { names in
            names.contains { $0.parent == parent.key && $0.name == name && now &- $0.at < retryWindowNanoseconds }
        }
    }

    /// The name the kernel reached `inode` by, when it no longer leads to it (nil: current). Only the
    /// inode's own name: a directory's name is never cached on shared volumes
    /// (`MountFileSystem.entryTimeout(for:)`), and a directory a caller holds open is a valid place to
    /// work in wherever it has moved. (So a reopen through `/proc/PID/fd` of a file whose name was
    /// removed answers ESTALE once any name of the volume was removed since: the server cannot tell it
    /// from a stale path; SEMANTICS.md says so.)
    static func staleOrigin(_ fs: MountFileSystem, _ inode: Inode) -> NameOrigin? {
        guard let removals = fs.nameRemovals, inode !== fs.inodes.root else { return nil }
        let now = removals.current
        // An inode without an origin came from no lookup this mount can check: taken as current.
        guard let origin = inode.origin.withLock({ $0 }), origin.checkedAt != now else { return nil }
        if origin.isRetry, monotonicNanoseconds() &- origin.lookedUpAt < retryWindowNanoseconds {
            inode.origin.withLock { $0?.isRetry = false }
            return nil
        }
        var st = stat()
        let found = withCName(origin.name) { fstatat(origin.parent.fd, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
        guard found, InodeKey(st) == inode.key else { return origin }
        inode.origin.withLock { $0?.checkedAt = now }
        return nil
    }

    /// What `dropKernelCache` drops of one file.
    enum KernelCache {
        /// After an open that found the file changed since this mount's last open: the attributes (the
        /// size above all), so that the next stat, or a read past the cached size, asks this server.
        /// Needed even within one mount: on a case-insensitive volume each spelling is an inode of its
        /// own to the kernel, so a write through `rEpOrT.txt` leaves the size cached for `Report.TXT`
        /// stale (WindowsNamingMountTests fails without this). Attributes only: nothing the kernel holds
        /// a lock for while it waits for the open's answer.
        case attributes
        /// When a lock on the file is taken, as an NFS client does (RFC 7530 §10.3.2, "Data Caching and
        /// File Locking"; nfs(5), "Data and metadata coherence": the client purges a file's cached data
        /// when it is locked): whoever held the lock before may have written through another mount with
        /// the file still open, which close-to-open does not cover. SQLite's rollback journal depends on
        /// it; without it, four processes on two mounts kept 600 of 1,200 inserts. Dropped before the
        /// lock's reply, so the caller's first read after `fcntl`/`flock` returns goes to the volume.
        case pagesAndAttributes
    }

    /// Drops the kernel's cache of `ino` on a shared volume (FUSE_NOTIFY_INVAL_INODE); exclusive volumes,
    /// with one mount and no aliases, keep theirs.
    static func dropKernelCache(_ fs: MountFileSystem, _ ino: fuse_ino_t, _ what: KernelCache) {
        guard fs.generation != nil,
              let session = OpaquePointer(bitPattern: fs.sessionAddress.load(ordering: .relaxed)) else { return }
        // A negative offset drops the attributes only; offset 0, length 0 the whole file's pages too.
        _ = fuse_lowlevel_notify_inval_inode(session, ino, what == .attributes ? -1 : 0, 0)
    }
}
