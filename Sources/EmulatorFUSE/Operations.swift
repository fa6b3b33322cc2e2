import CFuse3
import CFuseTransport
import CBerthShims
import EmulatorCore
import Glibc
import Synchronization

/// The FUSE low-level callbacks. They run on libfuse worker threads, so they live here, nonisolated,
/// and reach the mount's state only through the session's userdata (see
/// shared notes fuse-from-swift.md, "Main-actor isolation trap").
enum Operations {
    /// The table handed to `fuse_session_new`. Without `extendedAttributes` the xattr handlers are left
    /// out: libfuse answers ENOSYS, which the kernel remembers for the mount and turns into EOPNOTSUPP
    /// for every later call (fs/fuse/xattr.c), sparing it even the capability check before each write.
    /// Without `serverLocks` (`LockScope.attachment`: ebs) the lock handlers and FLUSH are left out: the
    /// INIT reply then takes neither FUSE_POSIX_LOCKS nor FUSE_FLOCK_LOCKS (`initialise`), so the mount's
    /// kernel keeps fcntl and flock locks itself, as for a local file system (fs/fuse/file.c
    /// `fuse_file_lock`, `fuse_file_flock`: `posix_lock_file`, `locks_lock_file_wait` when `no_lock`,
    /// `no_flock`), and drops a process's locks at its close without asking; libfuse answers the first
    /// FLUSH ENOSYS (lib/fuse_lowlevel.c `do_flush`), after which the kernel sends none on the
    /// connection (`fuse_flush`: `no_flush`).
    static func table(extendedAttributes: Bool = true, serverLocks: Bool = true) -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = initialise
        ops.destroy = destroy
        ops.lookup = lookup
        ops.forget = forget
        ops.forget_multi = forgetMulti
        ops.getattr = getattr
        ops.setattr = { req, ino, attr, toSet, fi in Operations.gated(req) { Operations.setattr(req, ino, attr, toSet, fi) } }
        ops.readlink = readlink
        ops.mknod = { req, parent, name, mode, rdev in Operations.gated(req) { Operations.mknod(req, parent, name, mode, rdev) } }
        ops.mkdir = { req, parent, name, mode in Operations.gated(req) { Operations.mkdir(req, parent, name, mode) } }
        ops.unlink = { req, parent, name in Operations.gated(req) { Operations.unlink(req, parent, name) } }
        ops.rmdir = { req, parent, name in Operations.gated(req) { Operations.rmdir(req, parent, name) } }
        ops.symlink = { req, target, parent, name in Operations.gated(req) { Operations.symlink(req, target, parent, name) } }
        ops.rename = { req, parent, name, newParent, newName, flags in
            Operations.gated(req) { Operations.rename(req, parent, name, newParent, newName, flags) }
        }
        ops.link = { req, ino, newParent, newName in Operations.gated(req) { Operations.link(req, ino, newParent, newName) } }
        ops.open = { req, ino, fi in Operations.gated(req) { Operations.open(req, ino, fi) } }
        // Faults first, outside the write freeze: a paused write must not hold a snapshot back.
        ops.read = { req, ino, size, offset, fi in
            if Operations.admitIO(req, .read) { Operations.read(req, ino, size, offset, fi) }
        }
        ops.write_buf = { req, ino, buf, offset, fi in
            if Operations.admitIO(req, .write) {
                Operations.gatedWrite(req, fi, offset) { continuation in
                    Operations.dropSetIDBitsBeforeWrite(req, ino, fi)
                    Operations.writeBuf(req, ino, buf, offset, fi, continuation: continuation)
                }
            }
        }
        ops.flush = flush
        // A sync, and a close that makes data durable (efs, fsx), are counted in flight too, and check
        // for an outage only once counted: a power loss waits for them before it takes back what was
        // not durable, so a sync that returned 0 is never undone. (Ungated, a drill on efs lost 4
        // fsynced records in one CI run: the fsync passed the outage check, the journal was applied,
        // and the fsync then answered 0.)
        ops.release = { req, ino, fi in Operations.gated(req) { Operations.release(req, ino, fi) } }
        ops.fsync = { req, ino, datasync, fi in
            if Operations.admitIO(req, .sync) { Operations.gated(req) { Operations.fsync(req, ino, datasync, fi) } }
        }
        ops.opendir = opendir
        ops.readdir = readdir
        ops.readdirplus = readdirplus
        ops.releasedir = releasedir
        ops.fsyncdir = { req, ino, datasync, fi in
            if Operations.admitIO(req, .sync) { Operations.gated(req) { Operations.fsyncdir(req, ino, datasync, fi) } }
        }
        ops.statfs = statfs
        ops.setxattr = { req, ino, name, value, size, flags in
            Operations.gated(req) { Operations.setxattr(req, ino, name, value, size, flags) }
        }
        ops.getxattr = getxattr
        ops.listxattr = listxattr
        ops.removexattr = { req, ino, name in Operations.gated(req) { Operations.removexattr(req, ino, name) } }
        if !extendedAttributes {
            ops.setxattr = nil
            ops.getxattr = nil
            ops.listxattr = nil
            ops.removexattr = nil
        }
        ops.create = { req, parent, name, mode, fi in Operations.gated(req) { Operations.create(req, parent, name, mode, fi) } }
        if serverLocks {
            ops.getlk = getlk
            ops.setlk = setlk
            ops.flock = flock
        } else {
            ops.flush = nil
        }
        ops.fallocate = { req, ino, mode, offset, length, fi in
            if Operations.admitIO(req, .write) { Operations.gated(req) { Operations.fallocate(req, ino, mode, offset, length, fi) } }
        }
        return ops
    }

    // MARK: - Plumbing

    /// Waits out `berth fault pause-io` and latency (`FaultGate`) before a read, write or sync. False when
    /// the wait outlasted the mount's I/O timeout: the request has then been answered EIO.
    @inline(__always)
    static func admitIO(_ req: fuse_req_t?, _ access: FaultGate.Access) -> Bool {
        guard let gate = fs(req)?.faultGate else { return true }
        let code = gate.admit(access)
        if code == 0 { return true }
        fuse_reply_err(req, code)
        return false
    }

    /// Runs a change (every operation that can alter the volume's data or names) counted in the volume's
    /// write freeze: it waits while a snapshot is being taken, and a snapshot waits for it.
    @inline(__always)
    static func gated(_ req: fuse_req_t?, _ change: () -> Void) {
        guard let freeze = fs(req)?.freeze else { return change() }
        freeze.enterChange()
        defer { freeze.leaveChange() }
        change()
    }

    /// `gated` for a WRITE: the rest of one write() that the kernel sends as several requests is let in
    /// after its first part even while a freeze waits for it (`WriteFreeze.enterWrite`), so no snapshot
    /// holds half of it. `writeBuf` tells the freeze what was written before it answers.
    @inline(__always)
    static func gatedWrite(_ req: fuse_req_t?, _ fi: UnsafeMutablePointer<fuse_file_info>?, _ offset: off_t,
                           _ change: (_ continuation: Bool) -> Void) {
        guard let freeze = fs(req)?.freeze, let fi else { return change(false) }
        let continuation = freeze.enterWrite(handle: fi.pointee.fh, offset: Int64(offset))
        defer { freeze.leaveChange() }
        change(continuation)
    }

    @inline(__always)
    static func fs(_ req: fuse_req_t?) -> MountFileSystem? {
        guard let raw = fuse_req_userdata(req) else { return nil }
        return Unmanaged<MountFileSystem>.fromOpaque(raw).takeUnretainedValue()
    }

    /// The mount and the inode for a request, or nil after answering it with an error: EIO when the
    /// mount is cut off, ESTALE for an inode number the table does not know.
    @inline(__always)
    static func begin(_ req: fuse_req_t?, _ ino: fuse_ino_t) -> (MountFileSystem, Inode)? {
        guard let fs = fs(req) else {
            fuse_reply_err(req, EIO)
            return nil
        }
        if fs.isCutOff {  // VolumeSemantics.admit
            fuse_reply_err(req, EIO)
            return nil
        }
        guard let inode = fs.inodes.inode(ino) else {
            fuse_reply_err(req, ESTALE)
            return nil
        }
        return (fs, inode)
    }

    /// Like `begin`, for a change: EROFS on a read-only mount (emulator.md §Common to all).
    @inline(__always)
    static func beginChange(_ req: fuse_req_t?, _ ino: fuse_ino_t) -> (MountFileSystem, Inode)? {
        guard let (fs, inode) = begin(req, ino) else { return nil }
        let refusal = code { () throws(Errno) in try fs.semantics.admit(change: true) }
        if refusal != 0 {
            fuse_reply_err(req, refusal)
            return nil
        }
        return (fs, inode)
    }

    /// Like `beginChange`, for a change to the names in the directory `parent`. The directory is the one
    /// the kernel walked to (shared volumes never cache directory names: `MountFileSystem.entryTimeout`)
    /// or one a caller holds open; either way the change belongs there, as on a local file system.
    static func beginNameChange(_ req: fuse_req_t?, _ parent: fuse_ino_t) -> (MountFileSystem, Inode)? {
        beginChange(req, parent)
    }

    /// Whether `name` is `.` or `..`, which the kernel never sends as a name to create, remove or look
    /// up, and which on the backing side would lead out of the directory (`..` of the volume's root is
    /// outside the volume): refused wherever a name arrives, as a second line of defence.
    @inline(__always)
    static func isDotOrDotDot(_ name: UnsafePointer<CChar>) -> Bool {
        name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0))
    }

    /// The refusal of an extended attribute by the core (`VolumeSemantics.admitExtendedAttribute`: POSIX
    /// ACLs on every type), or 0.
    static func attributeRefusal(_ fs: MountFileSystem, _ name: UnsafePointer<CChar>) -> Int32 {
        let length = strlen(name)
        return name.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            code { () throws(Errno) in try fs.semantics.admitExtendedAttribute(Array(UnsafeBufferPointer(start: bytes, count: length))) }
        }
    }

    /// Like `beginNameChange`, for a new entry called `name`: the name rules and, when it makes a new
    /// inode (create, mkdir, mknod, symlink) on a full provisioned volume, ENOSPC. A rename or a link
    /// allocates nothing (`makesInode` false) and is never refused for lack of room: on a full volume
    /// they are what frees it (log rotation, clean-up).
    static func beginNewEntry(_ req: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?,
                              makesInode: Bool = true) -> (MountFileSystem, Inode, UnsafePointer<CChar>)?
    {
        guard let (fs, inode) = beginNameChange(req, parent) else { return nil }
        guard let name else {
            fuse_reply_err(req, EINVAL)
            return nil
        }
        if refusedNewEntry(req, fs, inode) { return nil }
        let length = strlen(name)
        let code = name.withMemoryRebound(to: UInt8.self, capacity: length) { bytes -> Int32 in
            do throws(Errno) {
                try fs.semantics.admitNewName(UnsafeBufferPointer(start: bytes, count: length), makesInode: makesInode)
                return 0
            } catch { return error.code }
        }
        if code != 0 {
            fuse_reply_err(req, code)
            return nil
        }
        return (fs, inode, name)
    }

    /// The errno `body` throws, or 0.
    @inline(__always)
    static func code(_ body: () throws(Errno) -> Void) -> Int32 {
        do throws(Errno) {
            try body()
            return 0
        } catch { return error.code }
    }

    /// Looks `name` up under `parent` and fills `entry`; returns 0 or an errno. `expecting`: the file type
    /// (`S_IFMT` bits) the caller just made under that name, and for a hard link the file it linked; when
    /// the name leads to something else now (another mount replaced it in between), ESTALE, which the
    /// kernel answers by walking the path again, rather than an entry of the wrong type, which it would
    /// turn into EIO (fuse_create_new_entry: "(outarg.attr.mode ^ mode) & S_IFMT").
    static func fillEntry(_ fs: MountFileSystem, _ parent: Inode, _ name: UnsafePointer<CChar>,
                          _ entry: inout fuse_entry_param, expecting: (type: mode_t, key: InodeKey?)? = nil,
                          copyingUp: Bool = true, listing: Bool = false) -> Int32 {
        let stamp = removalStamp(fs)
        var fd = openat(parent.fd, name, BERTH_O_PATH | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { return errno }
        var code = attributesOf(fs, fd, &entry.attr)
        if code == 0, let sharing = fs.cloneSharing,
           sharing.isShared(device: UInt64(entry.attr.st_dev), inode: UInt64(entry.attr.st_ino),
                            links: UInt64(entry.attr.st_nlink), isRegular: entry.attr.st_mode & S_IFMT == S_IFREG) {
            // A clone's file still shared with its snapshot: copied out before the kernel gets an inode
            // through which it could be changed (a listing does not copy: `copyingUp` false, EAGAIN).
            close(fd)
            if !copyingUp { return EAGAIN }
            code = copyUp(fs, sharing, parent, name)
            if code != 0 { return code }
            fd = openat(parent.fd, name, BERTH_O_PATH | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 { return errno }
            code = attributesOf(fs, fd, &entry.attr)
        }
        if code == 0, let expecting,
           entry.attr.st_mode & S_IFMT != expecting.type & S_IFMT
            || expecting.key.map({ $0 != InodeKey(entry.attr) }) ?? false {
            code = ESTALE
        }
        if code != 0 {
            close(fd)
            return code
        }
        if parent.spelling != nil {
            // Reached through another spelling of its directory (case-insensitive volumes): a directory
            // gets an inode of its own here (`InodeTable.AliasKey`), and no name under such a spelling
            // is cached, so every name the kernel caches is under the directory's real name, where a
            // change made through another spelling can find it (`namesChanged`).
            if entry.attr.st_mode & S_IFMT == S_IFDIR {
                entry.ino = fs.inodes.rememberAlias(fd: fd, entry.attr, spelling: nameBytes(name), parent: parent)
            } else {
                entry.ino = fs.inodes.remember(fd: fd, entry.attr)
            }
            entry.entry_timeout = 0
        } else {
            entry.ino = fs.inodes.remember(fd: fd, entry.attr)
            entry.entry_timeout = fs.entryTimeout(for: entry.attr.st_mode)
        }
        recordOrigin(fs, entry.ino, parent: parent, name: name, stamp: stamp, unlessRecorded: listing)
        entry.attr_timeout = fs.attrTimeout
        return 0
    }

    /// Fills `entry` for the file the caller has just opened as `fd` under `name` in `parent` (a create):
    /// from the descriptor, not the name, which another mount may already have replaced. `asked` is the
    /// spelling the kernel used, when it differs from `name` (a case-insensitive volume). 0 or an errno.
    static func fillEntry(_ fs: MountFileSystem, _ parent: Inode, opened fd: Int32, name: [UInt8], asked: [UInt8],
                          _ entry: inout fuse_entry_param) -> Int32 {
        let stamp = removalStamp(fs)
        let pathFD = withProcPath(fd) { Glibc.open($0, BERTH_O_PATH | O_CLOEXEC) }
        if pathFD < 0 { return errno }
        let code = attributesOf(fs, pathFD, &entry.attr)
        if code != 0 {
            close(pathFD)
            return code
        }
        if name == asked {
            entry.ino = fs.inodes.remember(fd: pathFD, entry.attr)
            entry.entry_timeout = parent.spelling == nil ? fs.entryTimeout(for: entry.attr.st_mode) : 0
        } else {
            entry.ino = fs.inodes.rememberAlias(fd: pathFD, entry.attr, spelling: asked, parent: parent)
            // Never cached: after a rename the spelling may be the real name, or nothing.
            entry.entry_timeout = 0
        }
        recordOrigin(fs, entry.ino, parent: parent, name: name, stamp: stamp)
        entry.attr_timeout = fs.attrTimeout
        return 0
    }

    /// Answers a request that made `name` in `parent` with its entry (`fillEntry`'s `expecting`).
    static func replyEntry(_ req: fuse_req_t?, _ fs: MountFileSystem, _ parent: Inode, _ name: UnsafePointer<CChar>,
                           made type: mode_t, key: InodeKey? = nil) {
        var entry = fuse_entry_param()
        let code = fillEntry(fs, parent, name, &entry, expecting: (type, key))
        if code != 0 {
            fuse_reply_err(req, code)
        } else {
            fuse_reply_entry(req, &entry)
        }
    }

    // MARK: - Capacity (the rules are VolumeUsage's, CapacityLedger.swift; these apply them)

    /// Copies a clone's file `name` out of its snapshot if it is still shared (`CloneSharing`), under
    /// the capacity rule: the copy takes the shared file's place in the volume, so the counter moves by
    /// the difference of their blocks (a copy may hold a sparse file's holes as blocks). 0 or an errno.
    static func copyUp(_ fs: MountFileSystem, _ sharing: CloneSharing, _ directory: Inode, _ name: UnsafePointer<CChar>) -> Int32 {
        guard let usage = fs.usage else { return sharing.copyUpIfShared(in: directory.fd, name: name) }
        return withNamedFile(fs, directory, name) { shared, _ in
            let code = sharing.copyUpIfShared(in: directory.fd, name: name)
            var st = stat()
            if code == 0, let shared, fstatat(directory.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
                usage.settle(usage.unreserved(shared), after: Allocation(st))
            }
            return code
        }
    }

    /// Runs `body` on the entry `name` in `directory` (a removal, a replacement, an open with O_TRUNC)
    /// holding the size lock of the regular file it names, with that file as measured under the lock
    /// and its identity; nil for anything else (nothing, a directory, a file another mount replaced
    /// in between).
    static func withNamedFile(_ fs: MountFileSystem, _ directory: Inode, _ name: UnsafePointer<CChar>,
                              _ body: (Allocation?, InodeKey?) -> Int32) -> Int32 {
        var result: Int32 = 0
        let code = Operations.code { () throws(Errno) in
            try fs.semantics.withNamedFile(nameBytes(name), in: directory.fd) { file in
                result = body(file?.allocation, file?.key)
            }
        }
        return code != 0 ? code : result
    }

    /// Whether a parked lock wait for `req` must end ungranted, and with which errno: EIO once the
    /// mount is cut off by an outage (every operation on a cut-off mount answers EIO, emulator.md
    /// §Common to all), EINTR once the caller was interrupted (a signal, or a SIGKILL, which the kernel
    /// cannot deliver while the caller waits for this answer), ENOLCK once the session is ending. Not
    /// EINTR then: the kernel turns a lock request's EINTR into ERESTARTSYS, which only a pending
    /// signal turns back into EINTR or a restart; with none, the caller got errno 512.
    static func abandonment(_ req: fuse_req_t?, _ fs: MountFileSystem) -> @Sendable () -> Int32? {
        let request = UInt(bitPattern: req)
        let session = fs.sessionAddress.load(ordering: .relaxed)
        return {
            if fs.isCutOff { return EIO }
            if fuse_req_interrupted(OpaquePointer(bitPattern: request)) != 0 { return EINTR }
            if let se = OpaquePointer(bitPattern: session), fuse_session_exited(se) != 0 { return ENOLCK }
            return nil
        }
    }

    // MARK: - Session

    static let initialise: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<fuse_conn_info>?) -> Void = { userdata, conn in
        guard let userdata, let conn else { return }
        let fs = Unmanaged<MountFileSystem>.fromOpaque(userdata).takeUnretainedValue()
        let capable = conn.pointee.capable
        var want = conn.pointee.want
        // Locks are answered here so that they hold across mounts (fuse_lowlevel.h: the kernel
        // otherwise keeps them per mount); libfuse sets these when the handlers exist, said explicitly.
        // Where the attachment's kernel holds them (ebs, `LockScope`), they are left to the mount's kernel.
        let lockFlags = [FUSE_CAP_POSIX_LOCKS, FUSE_CAP_FLOCK_LOCKS]
        let serverLocks = fs.configuration.lockScope.serverHoldsLocks
        for flag in (serverLocks ? lockFlags : []) + [FUSE_CAP_SPLICE_WRITE, FUSE_CAP_SPLICE_READ]
        where capable & UInt32(flag) != 0 {
            want |= UInt32(flag)
        }
        // Not SPLICE_MOVE (as passthrough_hp): it makes libfuse splice every reply with SPLICE_F_MOVE,
        // asking the kernel to move the pages of a READ reply into the mount's page cache, and pages of
        // the backing file's own cache cannot be moved. Measured both ways: no difference beyond which
        // mount of a run is which (SEMANTICS.md, *Performance*).
        want &= ~UInt32(FUSE_CAP_SPLICE_MOVE)
        if !serverLocks {
            for flag in lockFlags { want &= ~UInt32(flag) }
        }
        // The kernel would otherwise refetch attributes on every read to spot changes; the open-time
        // stamp does that job once per open instead.
        want &= ~UInt32(FUSE_CAP_AUTO_INVAL_DATA)
        // Write-back caching would merge writes before the capacity and outage checks see them.
        want &= ~UInt32(FUSE_CAP_WRITEBACK_CACHE)
        conn.pointee.want = want
        // The kernel asks for security.capability before every write (file_remove_privs) unless the
        // server clears set-ID bits and capabilities itself (FUSE_HANDLE_KILLPRIV_V2: SB_NOSEC, so it asks
        // once per file until a capability is set through it). Taken on every type. Where nothing but this
        // mount changes the volume (ebs) the kernel's view of capabilities is the truth; where there are
        // no extended attributes (efs) only the set-ID rules matter, and the kernel's own clearing misses
        // O_TRUNC and Linux 6's rule for set-group-ID (SetIDBits.swift); on shared volumes with extended
        // attributes (FSx) another mount's setcap could go unseen by this kernel, so the server also
        // removes `security.capability` before each write, truncation and fallocate itself
        // (`dropCapability`: one fremovexattr instead of a GETXATTR round trip before every write).
        // libfuse 3.14 has no bit for it: fuse_io.c adds it.
        if berth_fuse_init_offers_killpriv_v2() != 0 {
            berth_fuse_grant_killpriv_v2()
            fs.handlesKillPriv.store(true, ordering: .relaxed)
            let unseenCapabilities = fs.configuration.cachePolicy == .shared && fs.configuration.extendedAttributes
            fs.removesCapabilities.store(unseenCapabilities, ordering: .relaxed)
        }
        conn.pointee.max_write = 1 << 20
        // Only an upper bound: the kernel keeps the mount's read-ahead at its 128 KiB default unless
        // /sys/class/bdi/<dev>/read_ahead_kb is raised, and raising it made reads slower (SEMANTICS.md).
        conn.pointee.max_readahead = 1 << 20
        // Must equal the max_read mount option, or libfuse refuses the session.
        conn.pointee.max_read = 1 << 20
        // FUSE over io_uring, where the kernel offers it: the rings are made now, before the mount says
        // it is ready (CFuseTransport fuse_ring.c).
        _ = berth_fuse_ring_setup_at_init(userdata, conn.pointee.max_write)
        fs.signalReady()
    }

    static let destroy: @convention(c) (UnsafeMutableRawPointer?) -> Void = { userdata in
        guard let userdata else { return }
        let fs = Unmanaged<MountFileSystem>.fromOpaque(userdata).takeUnretainedValue()
        fs.locks.releaseAll()
    }

    // MARK: - Names and attributes

    static let lookup: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?) -> Void = { req, parent, name in
        guard let (fs, inode) = begin(req, parent) else { return }
        guard let name else { return fuse_reply_err(req, EINVAL).discard() }
        var entry = fuse_entry_param()
        if isDotOrDotDot(name) { return fuse_reply_err(req, EINVAL).discard() }
        if refusedLookup(req, fs, inode) { return }
        var code = fillEntry(fs, inode, name, &entry)
        if code == ENOENT, let folding = fs.caseFolding {
            code = lookupOtherSpelling(fs, folding, inode, name, &entry)
        }
        if code == ENOENT && fs.negativeTimeout > 0 {
            // ino 0: a negative entry the kernel may cache (exclusive volumes only).
            var negative = fuse_entry_param()
            negative.entry_timeout = fs.negativeTimeout
            fuse_reply_entry(req, &negative)
        } else if code != 0 {
            fuse_reply_err(req, code)
        } else {
            fuse_reply_entry(req, &entry)
        }
    }

    static let forget: @convention(c) (fuse_req_t?, fuse_ino_t, UInt64) -> Void = { req, ino, count in
        if let fs = fs(req) { forgotten(fs, ino, count) }
        fuse_reply_none(req)
    }

    /// A file the kernel forgot may be gone for good (removed, never durable): the power-loss journal
    /// then lets go of it (`PowerLossJournal.forgotten`).
    @inline(__always)
    static func forgotten(_ fs: MountFileSystem, _ ino: fuse_ino_t, _ count: UInt64) {
        if let key = fs.inodes.forget(ino, count: count), let journal = fs.powerLoss { journal.forgotten(key) }
    }

    static let forgetMulti: @convention(c) (fuse_req_t?, Int, UnsafeMutablePointer<fuse_forget_data>?) -> Void = { req, count, forgets in
        if let fs = fs(req), let forgets {
            for index in 0..<count {
                forgotten(fs, forgets[index].ino, forgets[index].nlookup)
            }
        }
        fuse_reply_none(req)
    }

    static let getattr: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, _ in
        guard let (fs, inode) = begin(req, ino) else { return }
        var st = stat()
        let code = attributesOf(fs, inode.fd, &st)
        if code != 0 { return fuse_reply_err(req, code).discard() }
        fuse_reply_attr(req, &st, fs.attrTimeout)
    }

    static let setattr: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<stat>?, Int32, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, attr, toSet, fi in
        guard let attr else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = beginChange(req, ino) else { return }
        let handle: Int32? = fi.map { Int32(truncatingIfNeeded: $0.pointee.fh) }
        var change = VolumeSemantics<DirectoryStore>.AttributeChange()
        if toSet & FUSE_SET_ATTR_MODE != 0 { change.mode = attr.pointee.st_mode }
        if toSet & FUSE_SET_ATTR_UID != 0 { change.uid = attr.pointee.st_uid }
        if toSet & FUSE_SET_ATTR_GID != 0 { change.gid = attr.pointee.st_gid }
        if toSet & FUSE_SET_ATTR_SIZE != 0 {
            guard attr.pointee.st_size >= 0 else { return fuse_reply_err(req, EINVAL).discard() }
            change.size = UInt64(attr.pointee.st_size)
        }
        func time(_ now: Int32, _ given: Int32, _ value: timespec) -> TimeChange {
            if toSet & now != 0 { return .now }
            if toSet & given != 0 { return .set(seconds: value.tv_sec, nanoseconds: value.tv_nsec) }
            return .omit
        }
        change.access = time(FUSE_SET_ATTR_ATIME_NOW, FUSE_SET_ATTR_ATIME, attr.pointee.st_atim)
        change.modification = time(FUSE_SET_ATTR_MTIME_NOW, FUSE_SET_ATTR_MTIME, attr.pointee.st_mtim)
        if refusedAttributeChange(req, fs, inode, &change, handle: handle != nil) { return }
        if let size = change.size { fs.powerLoss?.willTruncate(handle ?? inode.fd, key: inode.key, to: size) }
        // Each change in turn, the size under the capacity rule (`VolumeSemantics.setAttributes`).
        let refusal = code { () throws(Errno) in try fs.semantics.setAttributes(inode.fd, change, handle: handle) }
        if refusal != 0 { return fuse_reply_err(req, refusal).discard() }
        dropSetIDBitsAfterSetattr(req, fs, inode.fd, toSet)
        if change.size != nil { dropCapability(fs, inode.fd, pathOnly: true) }
        changed(fs, inode, pages: toSet & FUSE_SET_ATTR_SIZE != 0)
        var st = stat()
        let code = attributesOf(fs, inode.fd, &st)
        if code != 0 { return fuse_reply_err(req, code).discard() }
        fuse_reply_attr(req, &st, fs.attrTimeout)
    }

    static let readlink: @convention(c) (fuse_req_t?, fuse_ino_t) -> Void = { req, ino in
        guard let (_, inode) = begin(req, ino) else { return }
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(PATH_MAX) + 1) { buffer in
            guard let base = buffer.baseAddress else { return fuse_reply_err(req, ENOMEM).discard() }
            let count = readlinkat(inode.fd, "", base, Int(PATH_MAX))
            if count < 0 { return fuse_reply_err(req, errno).discard() }
            base[count] = 0
            fuse_reply_readlink(req, base)
        }
    }

    // MARK: - Directory entries

    static let mknod: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, mode_t, dev_t) -> Void = { req, parent, name, mode, rdev in
        guard let (fs, inode, name) = beginNewEntry(req, parent, name) else { return }
        let mark = fs.powerLoss?.beginNewName(nameBytes(name), in: inode.fd, key: inode.key, isDirectory: false)
        let code = code { () throws(Errno) in
            try fs.semantics.makeNode(nameBytes(name), in: inode.fd, mode: mode, device: rdev, as: fs.performer(req))
        }
        fs.powerLoss?.finish(mark, succeeded: code == 0)
        if code != 0 { return fuse_reply_err(req, code).discard() }
        changed(fs, inode)
        replyEntry(req, fs, inode, name, made: mode)
    }

    static let mkdir: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, mode_t) -> Void = { req, parent, name, mode in
        guard let (fs, inode, name) = beginNewEntry(req, parent, name) else { return }
        let mark = fs.powerLoss?.beginNewName(nameBytes(name), in: inode.fd, key: inode.key, isDirectory: true)
        let code = code { () throws(Errno) in
            try fs.semantics.makeDirectory(nameBytes(name), in: inode.fd, mode: mode, as: fs.performer(req))
        }
        fs.powerLoss?.finish(mark, succeeded: code == 0)
        if code != 0 { return fuse_reply_err(req, code).discard() }
        changed(fs, inode)
        replyEntry(req, fs, inode, name, made: S_IFDIR)
    }

    static let symlink: @convention(c) (fuse_req_t?, UnsafePointer<CChar>?, fuse_ino_t, UnsafePointer<CChar>?) -> Void = { req, target, parent, name in
        guard let (fs, inode, name) = beginNewEntry(req, parent, name) else { return }
        guard let target else { return fuse_reply_err(req, EINVAL).discard() }
        let mark = fs.powerLoss?.beginNewName(nameBytes(name), in: inode.fd, key: inode.key, isDirectory: false)
        let code = code { () throws(Errno) in
            try fs.semantics.makeSymbolicLink(nameBytes(name), in: inode.fd, target: nameBytes(target), as: fs.performer(req))
        }
        fs.powerLoss?.finish(mark, succeeded: code == 0)
        if code != 0 { return fuse_reply_err(req, code).discard() }
        changed(fs, inode)
        replyEntry(req, fs, inode, name, made: S_IFLNK)
    }

    static let link: @convention(c) (fuse_req_t?, fuse_ino_t, fuse_ino_t, UnsafePointer<CChar>?) -> Void = { req, ino, newParent, newName in
        guard let (fs, target) = beginChange(req, ino) else { return }
        guard let (_, parent, name) = beginNewEntry(req, newParent, newName, makesInode: false) else { return }
        var st = stat()
        let typeCode = statOf(target.fd, &st)
        if typeCode != 0 { return fuse_reply_err(req, typeCode).discard() }
        let mark = fs.powerLoss?.beginNewName(nameBytes(name), in: parent.fd, key: parent.key, isDirectory: false)
        let code = code { () throws(Errno) in try fs.semantics.link(target.fd, as: nameBytes(name), in: parent.fd) }
        fs.powerLoss?.finish(mark, succeeded: code == 0)
        if code != 0 { return fuse_reply_err(req, code).discard() }
        changed(fs, parent)
        changed(fs, target)
        replyEntry(req, fs, parent, name, made: st.st_mode, key: target.key)
    }

    static let unlink: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?) -> Void = { req, parent, name in
        guard let (fs, inode) = beginNameChange(req, parent) else { return }
        guard let name, !isDotOrDotDot(name) else { return fuse_reply_err(req, EINVAL).discard() }
        if refusedRemoval(req, fs, inode, name) { return }
        fuse_reply_err(req, removeEntry(fs, inode, name, flags: 0)).discard()
    }

    static let rmdir: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?) -> Void = { req, parent, name in
        guard let (fs, inode) = beginNameChange(req, parent) else { return }
        guard let name, !isDotOrDotDot(name) else { return fuse_reply_err(req, EINVAL).discard() }
        if refusedRemoval(req, fs, inode, name) { return }
        fuse_reply_err(req, removeEntry(fs, inode, name, flags: AT_REMOVEDIR)).discard()
    }

    static let rename: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, fuse_ino_t, UnsafePointer<CChar>?, UInt32) -> Void = { req, parent, name, newParent, newName, flags in
        guard let name, !isDotOrDotDot(name) else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, from) = beginNameChange(req, parent) else { return }
        guard let (_, to, newName) = beginNewEntry(req, newParent, newName, makesInode: false) else { return }
        if refusedRename(req, fs, from, name, to, newName, flags: flags) { return }
        if fs.caseFolding != nil {
            return fuse_reply_err(req, renameFolded(fs, from, name, to, newName, flags: flags)).discard()
        }
        let mark = fs.powerLoss?.beginRename(nameBytes(name), in: from.fd, key: from.key, to: nameBytes(newName), in: to.fd,
                                             newKey: to.key, flags: RenameFlags(rawValue: flags))
        let code = code { () throws(Errno) in
            try fs.semantics.rename(nameBytes(name), in: from.fd, to: nameBytes(newName), in: to.fd,
                                    flags: RenameFlags(rawValue: flags))
        }
        fs.powerLoss?.finish(mark, succeeded: code == 0)
        if code == 0 {
            if flags & UInt32(BERTH_RENAME_EXCHANGE) != 0 { nameRemoved(fs) } else { nameMoved(fs, to: to, newName) }
        }
        fuse_reply_err(req, code)
    }

    // MARK: - Files

    static let create: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, mode_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, parent, name, mode, fi in
        guard let fi else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode, name) = beginNewEntry(req, parent, name) else { return }
        // Never through a symbolic link on the backing side: the kernel looked the name up and found
        // nothing, so a link there now was put there since, by another mount. ESTALE makes the kernel
        // walk the path again and follow the link itself, in the caller's view of the file system,
        // as it would have had the link been there first; O_EXCL meets it as EEXIST, as locally.
        // (`VolumeSemantics.create` opens with O_NOFOLLOW and answers ELOOP as ESTALE unless the caller
        // asked O_NOFOLLOW.)
        let flags = backingFlags(fi.pointee.flags) | O_CREAT | O_CLOEXEC
        guard let owner = fs.handles.claim(req) else { return fuse_reply_err(req, EMFILE).discard() }
        var entry = fuse_entry_param()
        let (fd, code) = createEntry(req, fs, inode, name, flags: flags, mode: mode, &entry)
        if code != 0 {
            fs.handles.unclaim(owner)
            return fuse_reply_err(req, code).discard()
        }
        fi.pointee.fh = UInt64(fd)
        fs.handles.record(fi.pointee.fh, for: owner)
        fs.descriptorAlarm.noteKept(fd)
        if let created = fs.inodes.inode(entry.ino) {
            recordOpen(fs, created, fd: fd, fi: fi)
            changed(fs, created, pages: flags & O_TRUNC != 0)
        }
        changed(fs, inode)
        if fuse_reply_create(req, &entry, fi) != 0 {
            // The caller is gone (interrupted): undo the open and the lookup reference.
            fs.handles.release(fi.pointee.fh)
            close(fd)
            fs.inodes.forget(entry.ino, count: 1)
        }
    }

    /// Opens (creating) `name` in `parent` and fills its entry: the descriptor and 0, or -1 and an errno.
    /// On a case-insensitive volume another spelling of `name` is that file: EEXIST with O_EXCL, else
    /// it is opened (emulator.md: case-insensitive, case-preserving).
    static func createEntry(_ req: fuse_req_t?, _ fs: MountFileSystem, _ parent: Inode, _ name: UnsafePointer<CChar>,
                            flags: Int32, mode: mode_t, _ entry: inout fuse_entry_param) -> (Int32, Int32) {
        if let sharing = fs.cloneSharing {
            // O_CREAT on an existing name opens it without a lookup: copy it out of the snapshot first.
            let code = copyUp(fs, sharing, parent, name)
            if code != 0 { return (-1, code) }
        }
        let asked = nameBytes(name)
        if flags & O_TRUNC != 0 { fs.powerLoss?.willTruncate(named: asked, in: parent.fd) }
        let mark = fs.powerLoss?.beginCreate(asked, in: parent.fd, key: parent.key, flags: flags)
        let created: VolumeSemantics<DirectoryStore>.Created
        do throws(Errno) {
            created = try fs.semantics.create(asked, in: parent.fd, flags: flags, mode: mode, as: fs.performer(req))
        } catch {
            fs.powerLoss?.finish(mark, succeeded: false)
            return (-1, error.code)
        }
        fs.powerLoss?.finish(mark, succeeded: true)
        let code = fillEntry(fs, parent, opened: created.handle, name: created.spelling, asked: asked, &entry)
        if code != 0 {
            close(created.handle)
            return (-1, code)
        }
        return (created.handle, 0)
    }

    /// The flags a caller's open becomes on the backing file. Without O_DIRECT: the kernel already
    /// keeps an O_DIRECT caller's data out of the mount's page cache (it sends each read and write to the
    /// server as it comes), while the server's own reads and writes arrive in buffers that O_DIRECT on
    /// the backing file would refuse as misaligned (EINVAL, as every O_DIRECT write did before).
    static func backingFlags(_ flags: Int32) -> Int32 { flags & ~BERTH_O_DIRECT }

    static let open: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, fi in
        guard let fi else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = begin(req, ino) else { return }
        let flags = fi.pointee.flags
        let writes = flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0
        let refusal = code { () throws(Errno) in try fs.semantics.admit(change: writes) }
        if refusal != 0 { return fuse_reply_err(req, refusal).discard() }
        if refusedOpen(req, fs, inode, flags: flags) { return }
        if let stale = staleOrigin(fs, inode) { return replyStale(req, fs, stale) }
        let openFlags = backingFlags(flags) & ~(O_NOFOLLOW | O_CREAT | O_EXCL)
        guard let owner = fs.handles.claim(req) else { return fuse_reply_err(req, EMFILE).discard() }
        if flags & O_TRUNC != 0 { fs.powerLoss?.willTruncate(inode.fd, key: inode.key, to: 0) }
        // O_TRUNC frees the file's blocks under the capacity rule (`VolumeSemantics.open`).
        let fd: Int32
        do throws(Errno) { fd = try fs.semantics.open(inode.fd, flags: openFlags) } catch { fd = -error.code }
        if fd < 0 {
            fs.handles.unclaim(owner)
            return fuse_reply_err(req, -fd).discard()
        }
        fi.pointee.fh = UInt64(fd)
        fs.handles.record(fi.pointee.fh, for: owner)
        fs.descriptorAlarm.noteKept(fd)
        if !recordOpen(fs, inode, fd: fd, fi: fi) { dropKernelCache(fs, ino, .attributes) }
        if flags & O_TRUNC != 0 {
            dropCapability(fs, fd)
            if berth_fuse_request_kills_suidgid() != 0, dropSetIDBits(fd, for: req, callerLacksFSETID: true) { dropKernelCache(fs, ino, .attributes) }
            changed(fs, inode, pages: true)
        }
        if fuse_reply_open(req, fi) != 0 {
            fs.handles.release(fi.pointee.fh)
            close(fd)
        }
    }

    /// Decides whether the kernel may keep this file's cached pages. Exclusive volumes: always.
    /// Shared volumes: only when the file is unchanged since this mount's previous open and no
    /// writable handle was closed on any mount since (close-to-open, AWS docs:
    /// efs/latest/ug/consistency.html).
    /// Returns whether the cached pages were kept.
    @discardableResult
    static func recordOpen(_ fs: MountFileSystem, _ inode: Inode, fd: Int32, fi: UnsafeMutablePointer<fuse_file_info>) -> Bool {
        guard let generation = fs.generation else {
            berth_fi_set_keep_cache(fi, 1)
            return true
        }
        guard inode.isRegular else { return false }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        let stamp = CacheStamp(size: st.st_size, mtime: st.st_mtim, ctime: st.st_ctim, generation: generation.current)
        let unchanged = inode.lastOpen.withLock { last -> Bool in
            defer { last = stamp }
            return last == stamp
        }
        berth_fi_set_keep_cache(fi, unchanged ? 1 : 0)
        return unchanged
    }

    static let read: @convention(c) (fuse_req_t?, fuse_ino_t, Int, off_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, size, offset, fi in
        guard let fs = fs(req), let fi else { return fuse_reply_err(req, EIO).discard() }
        if fs.isCutOff { return fuse_reply_err(req, EIO).discard() }
        let fd = Int32(truncatingIfNeeded: fi.pointee.fh)
        // Through io_uring: read straight into the ring's buffer, which the kernel copies to the caller.
        var capacity = 0
        if let ringBuffer = berth_fuse_ring_reply_buffer(&capacity), size <= capacity {
            var got: Int
            repeat { got = pread(fd, ringBuffer, size, offset) } while got < 0 && errno == EINTR
            if got < 0 { return fuse_reply_err(req, errno).discard() }
            return fuse_reply_buf(req, ringBuffer, got).discard()
        }
        // Spliced straight from the backing file when the kernel allows (passthrough_hp's do_read).
        // Without SPLICE_MOVE: the backing pages belong to its page cache and cannot be moved, and
        // trying first cost about 10% of sequential read throughput (scripts/bench-mount.sh, tmpfs).
        var buffer = berth_fd_bufvec(size, fd, offset)
        fuse_reply_data(req, &buffer, fuse_buf_copy_flags(rawValue: 0))
    }

    static func writeBuf(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ input: UnsafeMutablePointer<fuse_bufvec>?, _ offset: off_t,
                         _ fi: UnsafeMutablePointer<fuse_file_info>?, continuation: Bool) {
        guard let fs = fs(req), let fi, let input else { return fuse_reply_err(req, EIO).discard() }
        let refusal = code { () throws(Errno) in try fs.semantics.admit(change: true) }
        if refusal != 0 { return fuse_reply_err(req, refusal).discard() }
        let fd = Int32(truncatingIfNeeded: fi.pointee.fh)
        dropCapability(fs, fd)
        let size = fuse_buf_size(input)
        if let journal = fs.powerLoss, let inode = fs.inodes.inode(ino) {
            journal.willWrite(fd, key: inode.key, offset: UInt64(max(0, offset)), length: UInt64(size), direct: fi.pointee.flags & BERTH_O_DIRECT != 0)
        }
        var written: Int
        if fs.usage != nil {
            guard let inode = fs.inodes.inode(ino) else { return fuse_reply_err(req, ESTALE).discard() }
            guard offset >= 0 else { return fuse_reply_err(req, EINVAL).discard() }
            // The capacity rule is the core's (`VolumeSemantics.write`): the write is shortened to what
            // fits (POSIX allows a short write on a full device), ENOSPC when nothing does.
            do throws(Errno) {
                written = try fs.semantics.write(fd, key: inode.key, offset: UInt64(offset), length: UInt64(size),
                                                  appending: fi.pointee.flags & O_APPEND != 0) { allowed in
                    var output = berth_fd_bufvec(Int(allowed), fd, offset)
                    return fuse_buf_copy(&output, input, fuse_buf_copy_flags(rawValue: 0))
                }
            } catch { written = -Int(error.code) }
        } else {
            fs.semantics.rules.preservation?.beforeChange(fd, from: UInt64(max(offset, 0)), to: UInt64(max(offset, 0)) &+ UInt64(size))  // copy before write
            var output = berth_fd_bufvec(size, fd, offset)
            written = fuse_buf_copy(&output, input, fuse_buf_copy_flags(rawValue: 0))
        }
        if written < 0 {
            fuse_reply_err(req, Int32(truncatingIfNeeded: -written))
        } else {
            if fs.caseFolding != nil, let inode = fs.inodes.inode(ino) { changed(fs, inode, pages: true) }
            fs.freeze.wrote(handle: fi.pointee.fh, offset: Int64(offset), written: written, continuation: continuation)
            fuse_reply_write(req, written)
        }
    }

    static let flush: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, fi in
        guard let fs = fs(req), let fi else { return fuse_reply_err(req, EIO).discard() }
        // POSIX: closing any descriptor of a file releases all of the process's locks on it.
        if let inode = fs.inodes.inode(ino), inode.hadRecordLocks.load(ordering: .relaxed) {
            fs.locks.releaseOwner(file: inode.key, owner: fi.pointee.lock_owner)
        }
        fuse_reply_err(req, fs.isCutOff ? EIO : 0)
    }

    static let release: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, fi in
        guard let fs = fs(req), let fi else { return fuse_reply_err(req, EIO).discard() }
        if let inode = fs.inodes.inode(ino), inode.hadRecordLocks.load(ordering: .relaxed) {
            fs.locks.releaseTag(fi.pointee.fh, file: inode.key)
        }
        if let generation = fs.generation, fi.pointee.flags & O_ACCMODE != O_RDONLY {
            generation.advance()
        }
        // A close sends the data (efs, fsx) unless the mount is cut off: a client without power sends nothing.
        if fi.pointee.flags & O_ACCMODE != O_RDONLY, !fs.isCutOff, let inode = fs.inodes.inode(ino) { fs.powerLoss?.closed(inode.key, wrote: true) }
        fs.handles.release(fi.pointee.fh)
        // Closing the descriptor also drops the handle's flock lock (flock_release).
        close(Int32(truncatingIfNeeded: fi.pointee.fh))
        fuse_reply_err(req, 0)
    }

    static let fsync: @convention(c) (fuse_req_t?, fuse_ino_t, Int32, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, datasync, fi in
        guard let fi else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = begin(req, ino) else { return }
        let fd = Int32(truncatingIfNeeded: fi.pointee.fh)
        let result = datasync != 0 ? fdatasync(fd) : Glibc.fsync(fd)
        let code = result == 0 ? 0 : errno
        if result == 0 { fs.powerLoss?.synced(inode.key) }
        fuse_reply_err(req, code)
    }

    static let fallocate: @convention(c) (fuse_req_t?, fuse_ino_t, Int32, off_t, off_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, mode, offset, length, fi in
        guard let fi else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = beginChange(req, ino) else { return }
        let fd = Int32(truncatingIfNeeded: fi.pointee.fh)
        guard offset >= 0, length > 0 else { return fuse_reply_err(req, EINVAL).discard() }
        fs.powerLoss?.willAllocate(fd, key: inode.key, mode: mode, offset: UInt64(offset), length: UInt64(length))
        dropCapability(fs, fd)
        // The capacity rule for each mode is the core's (`VolumeSemantics.allocate`).
        let code = code { () throws(Errno) in
            try fs.semantics.allocate(fd, mode: mode, offset: UInt64(offset), length: UInt64(length))
        }
        if code == 0 { changed(fs, inode, pages: true) }
        fuse_reply_err(req, code)
    }

    // MARK: - Directories

    static let opendir: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, fi in
        guard let fi else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = begin(req, ino) else { return }
        if refusedOpen(req, fs, inode, flags: fi.pointee.flags) { return }
        guard let owner = fs.handles.claim(req) else { return fuse_reply_err(req, EMFILE).discard() }
        let fd = openat(inode.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let dir = fdopendir(fd) else {
            let code = errno
            if fd >= 0 { close(fd) }
            fs.handles.unclaim(owner)
            return fuse_reply_err(req, code).discard()
        }
        let handle = Unmanaged.passRetained(DirectoryHandle(dir: dir))
        fi.pointee.fh = UInt64(UInt(bitPattern: handle.toOpaque()))
        fs.handles.record(fi.pointee.fh, for: owner)
        fs.descriptorAlarm.noteKept(fd)
        if fuse_reply_open(req, fi) != 0 {
            fs.handles.release(fi.pointee.fh)
            handle.release()
        }
    }

    static func directory(_ fi: UnsafeMutablePointer<fuse_file_info>) -> DirectoryHandle? {
        guard let raw = UnsafeRawPointer(bitPattern: UInt(fi.pointee.fh)) else { return nil }
        return Unmanaged<DirectoryHandle>.fromOpaque(raw).takeUnretainedValue()
    }

    static let direntNameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19

    static let readdir: @convention(c) (fuse_req_t?, fuse_ino_t, Int, off_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, size, offset, fi in
        list(req, ino, size, offset, fi, plus: false)
    }

    /// READDIRPLUS: each name with its entry, as a LOOKUP would answer it (`fillEntry`: the same
    /// timeouts, and the name recorded for the open-time check on shared volumes), so that `ls -l`,
    /// `find` or a program walking a tree gets a directory's names and attributes in one request
    /// instead of a LOOKUP per name. The kernel asks for it at the start of a listing and when names
    /// of the directory were looked up since (readdirplus_auto). An entry is sent without attributes
    /// (ino 0: the kernel then takes no reference and looks the name up when it is used) for `.` and
    /// `..`, under a directory reached through another spelling (case-insensitive volumes, whose names
    /// are never cached), for a clone's file still shared with its snapshot (a listing must not copy
    /// it out), for a name that is gone by the time it is opened, and on a shared volume while it has
    /// other mounts (`MountFileSystem.listsEntries`). Not installed on access point
    /// mounts: a listing needs read permission, a lookup search permission, which the server checks
    /// per LOOKUP there (AccessPointChecks.swift).
    static let readdirplus: @convention(c) (fuse_req_t?, fuse_ino_t, Int, off_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, size, offset, fi in
        list(req, ino, size, offset, fi, plus: true)
    }

    /// A listing's entry with the name's inode number and type only (no reference for the kernel).
    private static func nameOnly(_ dirent: UnsafeMutablePointer<dirent>) -> fuse_entry_param {
        var entry = fuse_entry_param()
        entry.attr.st_ino = dirent.pointee.d_ino
        entry.attr.st_mode = mode_t(dirent.pointee.d_type) << 12
        return entry
    }

    /// How many entries one listing may hand out: each holds a descriptor until the kernel forgets
    /// it, and one request may list thousands of names (a getdents buffer of up to 1 MiB), faster than
    /// `DescriptorReclaimer` (every 20 ms) gives descriptors back. So a quarter of what is left below
    /// half the limit, where the reclaimer starts: none once it has, and several listings at once still
    /// stop short of it. The lowest free descriptor number is how many are taken (numbers are handed
    /// out lowest first).
    private static func listingEntryBudget(_ fs: MountFileSystem) -> Int {
        let probe = fcntl(fs.inodes.root.fd, F_DUPFD_CLOEXEC, 0)
        guard probe >= 0 else { return 0 }
        close(probe)
        return max(0, (fs.handles.openFileLimit / 2 - Int(probe)) / 4)
    }

    private static func list(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ size: Int, _ offset: off_t,
                             _ fi: UnsafeMutablePointer<fuse_file_info>?, plus: Bool) {
        guard let fi, let handle = directory(fi) else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, parent) = begin(req, ino) else { return }
        let withEntries = plus && parent.spelling == nil && fs.listsEntries
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: max(size, 1)) { buffer in
            guard let base = buffer.baseAddress else { return fuse_reply_err(req, ENOMEM).discard() }
            // The inodes the reply hands the kernel a reference to: given back if it never arrives.
            var referenced: [fuse_ino_t] = []
            let entryBudget = withEntries ? listingEntryBudget(fs) : 0
            let code = handle.withStream { dir, position -> Int32 in
                if offset != position {
                    seekdir(dir, offset)
                    position = Int(offset)
                }
                var used = 0
                while true {
                    errno = 0
                    guard let dirent = Glibc.readdir(dir) else {
                        if errno != 0 { return errno }
                        break
                    }
                    let next = dirent.pointee.d_off
                    let name = UnsafeRawPointer(dirent).advanced(by: direntNameOffset).assumingMemoryBound(to: CChar.self)
                    var entry = nameOnly(dirent)
                    let needed = plus
                        ? fuse_add_direntry_plus(req, nil, 0, name, &entry, next)
                        : fuse_add_direntry(req, nil, 0, name, &entry.attr, next)
                    if needed > size - used {
                        // Does not fit: the next call starts again at this entry.
                        seekdir(dir, off_t(position))
                        break
                    }
                    if plus {
                        if referenced.count < entryBudget && !isDotOrDotDot(name)
                            && fillEntry(fs, parent, name, &entry, copyingUp: false, listing: true) == 0 {
                            referenced.append(entry.ino)
                        } else {
                            entry = nameOnly(dirent)
                        }
                        used += fuse_add_direntry_plus(req, base + used, size - used, name, &entry, next)
                    } else {
                        used += fuse_add_direntry(req, base + used, size - used, name, &entry.attr, next)
                    }
                    position = Int(next)
                }
                if fuse_reply_buf(req, base, used) != 0 {
                    for ino in referenced { forgotten(fs, ino, 1) }
                }
                return 0
            }
            if code != 0 {
                for ino in referenced { forgotten(fs, ino, 1) }
                fuse_reply_err(req, code)
            }
        }
    }

    static let releasedir: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, _, fi in
        if let fi, let raw = UnsafeRawPointer(bitPattern: UInt(fi.pointee.fh)) {
            fs(req)?.handles.release(fi.pointee.fh)
            Unmanaged<DirectoryHandle>.fromOpaque(raw).release()
        }
        fuse_reply_err(req, 0)
    }

    static let fsyncdir: @convention(c) (fuse_req_t?, fuse_ino_t, Int32, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, ino, datasync, _ in
        guard let (fs, inode) = begin(req, ino) else { return }
        let fd = openat(inode.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { return fuse_reply_err(req, errno).discard() }
        defer { close(fd) }
        let result = datasync != 0 ? fdatasync(fd) : Glibc.fsync(fd)
        let code = result == 0 ? 0 : errno
        if result == 0 { fs.powerLoss?.directorySynced(inode.key) }
        fuse_reply_err(req, code)
    }

    /// The volume's size, not the backing disk's: the provisioned capacity, or 8 EiB when elastic.
    static let statfs: @convention(c) (fuse_req_t?, fuse_ino_t) -> Void = { req, ino in
        guard let (fs, _) = begin(req, ino) else { return }
        let space: VolumeSpace
        do throws(Errno) { space = try fs.semantics.space() } catch { return fuse_reply_err(req, error.code).discard() }
        var out = statvfs()
        out.f_bsize = UInt(space.blockSize)
        out.f_frsize = UInt(space.blockSize)
        out.f_namemax = 255
        out.f_files = UInt(space.files)
        out.f_ffree = UInt(space.freeFiles)
        out.f_favail = UInt(space.freeFiles)
        out.f_blocks = UInt(space.totalBlocks)
        out.f_bfree = UInt(space.freeBlocks)
        out.f_bavail = UInt(space.freeBlocks)
        fuse_reply_statfs(req, &out)
    }

    // MARK: - Extended attributes (regular files and directories; passthrough_hp refuses them on symlinks too)

    static let setxattr: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int, Int32) -> Void = { req, ino, name, value, size, flags in
        guard let name else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = beginChange(req, ino) else { return }
        let refusal = attributeRefusal(fs, name)
        if refusal != 0 { return fuse_reply_err(req, refusal).discard() }
        let result = withProcPath(inode.fd) { CFuse3.setxattr($0, name, value, size, flags) }
        fuse_reply_err(req, result == 0 ? 0 : errno)
    }

    static let getxattr: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, Int) -> Void = { req, ino, name, size in
        guard let name else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = begin(req, ino) else { return }
        let refusal = attributeRefusal(fs, name)
        if refusal != 0 { return fuse_reply_err(req, refusal).discard() }
        if size == 0 {
            let count = withProcPath(inode.fd) { CFuse3.getxattr($0, name, nil, 0) }
            if count < 0 { return fuse_reply_err(req, errno).discard() }
            fuse_reply_xattr(req, count)
            return
        }
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: size) { buffer in
            let count = withProcPath(inode.fd) { CFuse3.getxattr($0, name, buffer.baseAddress, size) }
            if count < 0 { return fuse_reply_err(req, errno).discard() }
            fuse_reply_buf(req, buffer.baseAddress, count)
        }
    }

    static let listxattr: @convention(c) (fuse_req_t?, fuse_ino_t, Int) -> Void = { req, ino, size in
        guard let (_, inode) = begin(req, ino) else { return }
        if size == 0 {
            let count = withProcPath(inode.fd) { CFuse3.listxattr($0, nil, 0) }
            if count < 0 { return fuse_reply_err(req, errno).discard() }
            fuse_reply_xattr(req, count)
            return
        }
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: size) { buffer in
            let count = withProcPath(inode.fd) { CFuse3.listxattr($0, buffer.baseAddress, size) }
            if count < 0 { return fuse_reply_err(req, errno).discard() }
            fuse_reply_buf(req, buffer.baseAddress, count)
        }
    }

    static let removexattr: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?) -> Void = { req, ino, name in
        guard let name else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = beginChange(req, ino) else { return }
        let refusal = attributeRefusal(fs, name)
        if refusal != 0 { return fuse_reply_err(req, refusal).discard() }
        let result = withProcPath(inode.fd) { CFuse3.removexattr($0, name) }
        fuse_reply_err(req, result == 0 ? 0 : errno)
    }

    // MARK: - Locks across mounts

    static let getlk: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?, UnsafeMutablePointer<Glibc.flock>?) -> Void = { req, ino, fi, lock in
        guard let fi, let lock else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = begin(req, ino) else { return }
        let request = RecordLock(type: Int32(lock.pointee.l_type), start: Int64(lock.pointee.l_start),
                                 length: Int64(lock.pointee.l_len))
        do throws(LockError) {
            var answer = lock.pointee
            if let holder = try fs.locks.conflict(with: request, file: inode.key, owner: fi.pointee.lock_owner,
                                                  open: { fs.reopenForLocks(inode) }) {
                answer.l_type = Int16(holder.type)
                answer.l_whence = Int16(SEEK_SET)
                answer.l_start = off_t(holder.start)
                answer.l_len = off_t(holder.length)
                answer.l_pid = holder.pid
            } else {
                answer.l_type = Int16(F_UNLCK)
            }
            fuse_reply_lock(req, &answer)
        } catch {
            fuse_reply_err(req, error.errno)
        }
    }

    static let setlk: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?, UnsafeMutablePointer<Glibc.flock>?, Int32) -> Void = { req, ino, fi, lock, sleep in
        guard let fi, let lock else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, inode) = begin(req, ino) else { return }
        let request = RecordLock(type: Int32(lock.pointee.l_type), start: Int64(lock.pointee.l_start),
                                 length: Int64(lock.pointee.l_len))
        if request.kind != .unlock { inode.hadRecordLocks.store(true, ordering: .relaxed) }
        let owner = fi.pointee.lock_owner, tag = fi.pointee.fh
        answerLock(req, fs, ino, wait: sleep != 0, taking: request.kind != .unlock) {
            do throws(LockError) {
                try fs.locks.set(request, file: inode.key, owner: owner, tag: tag, open: { fs.reopenForLocks(inode) })
                return .granted
            } catch .wouldBlock {
                return .blocked
            } catch {
                return .failed(error.errno)
            }
        }
    }

    static let flock: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?, Int32) -> Void = { req, ino, fi, op in
        guard let fi else { return fuse_reply_err(req, EINVAL).discard() }
        guard let (fs, _) = begin(req, ino) else { return }
        guard let (operation, wait) = BSDLock.decode(op) else { return fuse_reply_err(req, EINVAL).discard() }
        // The handle's own backing descriptor carries its flock lock; the kernel keeps the handle open
        // until this request is answered, however long it waits.
        let fd = Int32(truncatingIfNeeded: fi.pointee.fh)
        answerLock(req, fs, ino, wait: wait, taking: operation != .unlock) {
            do throws(LockError) {
                try BSDLock.apply(operation, fd: fd)
                if operation == .unlock { fs.locks.waits.wake() }
                return .granted
            } catch .wouldBlock {
                return .blocked
            } catch {
                return .failed(error.errno)
            }
        }
    }
}

extension Int32 {
    /// Lets a reply's status be dropped in `return reply(...).discard()` one-liners: a failed reply
    /// means the caller has gone, and there is nobody left to tell.
    @inline(__always)
    func discard() {}
}
