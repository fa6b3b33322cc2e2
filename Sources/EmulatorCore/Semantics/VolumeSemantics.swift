#if canImport(Glibc)
public import Glibc
import Synchronization

/// Every decision a mounted volume makes, written once, over a `BackingStore`: read-only (EROFS),
/// outages (EIO), new names (`.`/`..`, Windows refusals), case-insensitive names (FSx for Windows:
/// any spelling is the same entry, no two entries differ only in case), capacity in allocated blocks
/// (CapacityLedger.swift's rules applied under a per-file size lock), and the cache policy's timeouts.
/// The FUSE layer decodes a request, asks this, and replies; what only the kernel needs (inode
/// numbers, invalidations, lock replies) stays there. Snapshot freezes: a caller runs each change
/// inside `change` (once: the operations here do not enter it themselves).
public final class VolumeSemantics<Store: BackingStore>: Sendable {
    public let store: Store
    public let rules: VolumeRules
    public let cache: CacheTimeouts
    /// Whether names match regardless of case.
    public let foldsCase: Bool
    private let checksReachability: Bool
    private let checksNames: Bool

    public init(store: Store, rules: VolumeRules) {
        self.store = store
        self.rules = rules
        cache = CacheTimeouts(rules.cachePolicy)
        foldsCase = rules.nameRules.caseInsensitive
        checksReachability = !(rules.reachability is AlwaysReachable)
        checksNames = rules.nameRules.checksNames
    }

    // MARK: - Gates

    /// Cut off by an outage: every operation answers EIO (SEMANTICS.md §Outages).
    @inline(__always)
    public var isCutOff: Bool { checksReachability && !rules.reachability.isReachable }

    /// EIO while cut off; for a change, EROFS on a read-only attachment.
    @inline(__always)
    public func admit(change: Bool = false) throws(Errno) {
        if isCutOff { throw Errno(EIO) }
        if change && rules.readOnly { throw Errno(EROFS) }
    }

    /// Runs a change counted in the volume's write freeze: it waits while a snapshot is being taken,
    /// and a snapshot waits for it.
    @inline(__always)
    public func change<T>(_ body: () throws(Errno) -> T) throws(Errno) -> T {
        guard let freeze = rules.freeze else { return try body() }
        freeze.enterChange()
        defer { freeze.leaveChange() }
        return try body()
    }

    /// Whether `name` is `.` or `..`: never a name to create, remove or look up here (the kernel never
    /// sends them; `..` of the root would lead out of the volume).
    @inline(__always)
    public static func isDotOrDotDot(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        (name.count == 1 && name[0] == 0x2E) || (name.count == 2 && name[0] == 0x2E && name[1] == 0x2E)
    }

    /// The refusal of a new entry `name` by the service's name rules (EINVAL for a name Windows
    /// refuses), EINVAL for `.` and `..`; with `makesInode` (create, mkdir, mknod, symlink), ENOSPC on
    /// a full provisioned volume. A rename or a link allocates nothing and is never refused for room:
    /// on a full volume they are what frees it (log rotation, clean-up).
    @inline(__always)
    public func admitNewName(_ name: UnsafeBufferPointer<UInt8>, makesInode: Bool) throws(Errno) {
        if Self.isDotOrDotDot(name) { throw Errno(EINVAL) }
        if checksNames, let refusal = rules.nameRules.refusal(forNewName: name) { throw Errno(refusal) }
        if makesInode && !mayCreateInode { throw Errno(ENOSPC) }
    }

    public func admitNewName(_ name: [UInt8], makesInode: Bool) throws(Errno) {
        try name.withUnsafeBufferPointer { (buffer) throws(Errno) in try admitNewName(buffer, makesInode: makesInode) }
    }

    /// Whether a new inode may be created: not when a provisioned volume is full.
    @inline(__always)
    public var mayCreateInode: Bool {
        guard let usage = rules.usage else { return true }
        return usage.freeBytes > 0
    }

    /// POSIX ACLs are refused (EOPNOTSUPP) on every type: the kernel checks a mount's access from the
    /// mode bits alone, so an ACL stored on the backing file would widen access through its mask.
    public static func isACL(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        name.starts(with: Array("system.posix_acl_".utf8))
    }

    /// EOPNOTSUPP for an extended attribute this volume does not keep (any on EFS; POSIX ACLs anywhere).
    public func admitExtendedAttribute(_ name: [UInt8]) throws(Errno) {
        if !rules.extendedAttributes { throw Errno(EOPNOTSUPP) }
        if name.withUnsafeBufferPointer(Self.isACL) { throw Errno(EOPNOTSUPP) }
    }

    // MARK: - Capacity (the rules are VolumeUsage's, CapacityLedger.swift; this is where they apply)

    /// Serialises changes of a file's blocks (write, truncate, fallocate, O_TRUNC, removing a name)
    /// when capacity is enforced, so that each is measured before and after with no other change of
    /// that file by this mount in between (`VolumeUsage.settle`). By backing identity: a file reached
    /// through several spellings, or only by name, is one file.
    private let sizeLocks: [SizeLock] = (0..<64).map { _ in SizeLock() }

    final class SizeLock: Sendable {
        let mutex = Mutex(())
    }

    /// Runs `body` holding the size lock of the file `key`.
    public func withSizeLock<T>(_ key: InodeKey, _ body: () throws(Errno) -> T) throws(Errno) -> T {
        let stripe = Int(truncatingIfNeeded: (key.inode ^ key.device &* 0x9E37_79B9_7F4A_7C15) % UInt64(sizeLocks.count))
        return try withMutex(sizeLocks[stripe].mutex) { (_: inout ()) throws(Errno) -> T in try body() }
    }

    /// Like `withSizeLock`, for a body that cannot fail.
    public func withSizeLock<T: Sendable>(_ key: InodeKey, _ body: () -> T) -> T {
        let stripe = Int(truncatingIfNeeded: (key.inode ^ key.device &* 0x9E37_79B9_7F4A_7C15) % UInt64(sizeLocks.count))
        return sizeLocks[stripe].mutex.withLock { _ in body() }
    }

    /// A change of the blocks of the file `key` under the capacity rule: under its size lock,
    /// `measure`d before, `reserve` takes what it may need (nil: ENOSPC, nothing changed), `change`
    /// runs, measured after, settled, whether the change worked or not. Without capacity, just `change`.
    public func changeBlocks<T>(_ key: InodeKey, measure: () -> Allocation?,
                                reserve: (VolumeUsage, Allocation) -> CapacityReservation?,
                                _ change: (CapacityReservation?) throws(Errno) -> T) throws(Errno) -> T {
        guard let usage = rules.usage else { return try change(nil) }
        return try withSizeLock(key) { () throws(Errno) -> T in
            guard let before = measure() else { throw Errno.last }
            guard let reservation = reserve(usage, before) else { throw Errno(ENOSPC) }
            defer { usage.settle(reservation, after: measure()) }
            return try change(reservation)
        }
    }

    /// Runs `body` on the entry `name` in `directory` (a removal, a replacement, an open with O_TRUNC)
    /// holding the size lock of the regular file it names, with that file as measured under the lock;
    /// nil for anything else (nothing, a directory, a file replaced in between). Without capacity,
    /// just `body(nil)`.
    public func withNamedFile<T>(_ name: [UInt8], in directory: Store.Node,
                                 _ body: (NodeAttributes?) throws(Errno) -> T) throws(Errno) -> T {
        guard rules.usage != nil, let found = try? store.attributes(of: name, in: directory), found.type == .regular else {
            return try body(nil)
        }
        return try withSizeLock(found.key) { () throws(Errno) -> T in
            guard let now = try? store.attributes(of: name, in: directory), now.key == found.key else { return try body(nil) }
            return try body(now)
        }
    }

    /// After the name of `victim` (measured under its size lock) was removed: its last name frees its blocks.
    @inline(__always)
    func removedName(of victim: NodeAttributes?) {
        if let usage = rules.usage, let victim { usage.removedName(of: victim.allocation) }
    }

    /// A write of `length` bytes at `offset` to the open file `handle` under the capacity rule:
    /// `perform` is given how many bytes it may write (shortened to the bytes whose blocks fit: a
    /// short write, as POSIX allows on a full device) and returns how many it wrote; ENOSPC when not
    /// one byte fits. Writes into blocks the file already has cost nothing, on a full volume too.
    /// `appending`: the handle was opened with O_APPEND, so the backing file system writes at the file's
    /// end as measured under the size lock, wherever `offset` (the kernel's idea of the end, stale once
    /// another handle or mount changed the file's length) says; the blocks are reserved there.
    public func write(_ handle: Store.Handle, key known: InodeKey? = nil, offset: UInt64, length: UInt64,
                      appending: Bool = false,
                      perform: (UInt64) throws(Errno) -> Int) throws(Errno) -> Int {
        try admit(change: true)
        rules.preservation?.beforeChange(handle, from: offset, to: offset &+ length)  // copy before write
        guard rules.usage != nil else { return try perform(length) }
        let key: InodeKey
        if let known { key = known } else { key = try store.attributes(ofOpen: handle).key }
        return try changeBlocks(key, measure: { (try? store.attributes(ofOpen: handle))?.allocation }, reserve: { usage, file in
            let at = appending ? file.size : offset
            return usage.reserveWrite(file, offset: at, length: length,
                                      holes: store.holes(handle, file: file, offset: at, length: length))
        }) { (reservation) throws(Errno) -> Int in
            try perform(reservation?.length ?? length)
        }
    }

    /// Runs a backing call on behalf of the caller (a mount server switches to the caller's file system
    /// uid and gid, so that what it creates is the caller's): the call's errno, or 0.
    public typealias Performer = (() -> Int32) -> Int32

    private func perform(_ performer: Performer?, _ body: () throws(Errno) -> Void) throws(Errno) {
        guard let performer else { return try body() }
        let code = performer {
            do throws(Errno) {
                try body()
                return 0
            } catch { return error.code }
        }
        if code != 0 { throw Errno(code) }
    }

    // MARK: - Names

    /// The entry `name` of `directory`: on a case-insensitive volume, any spelling of it. Returns the
    /// node and the entry's real spelling.
    public func lookup(_ name: [UInt8], in directory: Store.Node) throws(Errno) -> (node: Store.Node, spelling: [UInt8]) {
        try admit()
        if name.withUnsafeBufferPointer(Self.isDotOrDotDot) { throw Errno(EINVAL) }
        do {
            return (try store.lookup(name, in: directory), name)
        } catch where error.code == ENOENT && foldsCase {
            guard let actual = spelling(of: name, in: directory), actual != name else { throw error }
            return (try store.lookup(actual, in: directory), actual)
        }
    }

    /// The spelling of the entry `name` denotes in `directory` (case-insensitive volumes), or nil.
    public func spelling(of name: [UInt8], in directory: Store.Node) -> [UInt8]? {
        store.spelling(of: name, in: directory) { key in key.withUnsafeBufferPointer { rules.nameRules.matchKey(forName: $0) } }
    }

    public func attributes(of node: Store.Node) throws(Errno) -> NodeAttributes {
        try admit()
        return try store.attributes(of: node)
    }

    /// Makes a new entry `name` in `directory` with `make`; on a case-insensitive volume, EEXIST when
    /// any spelling of it exists, checked and made under the directory's name lock.
    private func makeEntry(_ name: [UInt8], in directory: Store.Node, makesInode: Bool,
                           _ make: () throws(Errno) -> Void) throws(Errno) {
        try admit(change: true)
        try admitNewName(name, makesInode: makesInode)
        guard foldsCase else { return try make() }
        try store.withNameLock(directory) { () throws(Errno) in
            if spelling(of: name, in: directory) != nil { throw Errno(EEXIST) }
            try make()
            store.namesChanged(in: directory, added: name, removed: nil)
        }
    }

    public func makeDirectory(_ name: [UInt8], in directory: Store.Node, mode: mode_t, as performer: Performer? = nil) throws(Errno) {
        try makeEntry(name, in: directory, makesInode: true) { () throws(Errno) in
            try perform(performer) { () throws(Errno) in try store.makeDirectory(name, in: directory, mode: mode) }
        }
    }

    public func makeNode(_ name: [UInt8], in directory: Store.Node, mode: mode_t, device: dev_t,
                         as performer: Performer? = nil) throws(Errno) {
        try makeEntry(name, in: directory, makesInode: true) { () throws(Errno) in
            try perform(performer) { () throws(Errno) in try store.makeNode(name, in: directory, mode: mode, device: device) }
        }
    }

    public func makeSymbolicLink(_ name: [UInt8], in directory: Store.Node, target: [UInt8], as performer: Performer? = nil) throws(Errno) {
        try makeEntry(name, in: directory, makesInode: true) { () throws(Errno) in
            try perform(performer) { () throws(Errno) in try store.makeSymbolicLink(name, in: directory, target: target) }
        }
    }

    /// A hard link: allocates nothing, so never ENOSPC.
    public func link(_ node: Store.Node, as name: [UInt8], in directory: Store.Node) throws(Errno) {
        try makeEntry(name, in: directory, makesInode: false) { () throws(Errno) in try store.link(node, as: name, in: directory) }
    }

    /// unlink (`directory` false) or rmdir: the entry `name` denotes (any spelling on a case-insensitive
    /// volume) loses its name; a regular file's last name frees its blocks. Returns the spelling removed.
    @discardableResult
    public func remove(_ name: [UInt8], in directory: Store.Node, directory isDirectory: Bool) throws(Errno) -> [UInt8] {
        try admit(change: true)
        if name.withUnsafeBufferPointer(Self.isDotOrDotDot) { throw Errno(EINVAL) }
        let removeActual = { (actual: [UInt8]) throws(Errno) in
            if isDirectory { return try self.store.removeDirectory(actual, in: directory) }
            try self.withNamedFile(actual, in: directory) { (victim) throws(Errno) in
                self.rules.preservation?.beforeRemovingName(actual, in: directory)  // a pending snapshot keeps it
                try self.store.unlink(actual, in: directory)
                self.removedName(of: victim)
            }
        }
        guard foldsCase else {
            try removeActual(name)
            return name
        }
        return try store.withNameLock(directory) { () throws(Errno) -> [UInt8] in
            let actual = spelling(of: name, in: directory) ?? name
            try removeActual(actual)
            store.namesChanged(in: directory, added: nil, removed: actual)
            return actual
        }
    }

    public func unlink(_ name: [UInt8], in directory: Store.Node) throws(Errno) {
        try remove(name, in: directory, directory: false)
    }

    public func removeDirectory(_ name: [UInt8], in directory: Store.Node) throws(Errno) {
        try remove(name, in: directory, directory: true)
    }

    /// What a rename did to names, for the caches of whoever asked (the FUSE layer's aliases).
    public struct RenameOutcome: Sendable, Equatable {
        /// The source entry's real spelling.
        public var source: [UInt8]
        /// The real spelling of the target entry it replaced or swapped with, if any.
        public var replaced: [UInt8]?
        /// The spelling the moved entry has now.
        public var result: [UInt8]
    }

    /// rename(2). Never ENOSPC (it allocates nothing); the file it replaces loses a name (its last
    /// one frees its blocks) unless the two are swapped or are one file. On a case-insensitive volume
    /// the source is found by any spelling; a target existing under another spelling is the entry
    /// replaced (or swapped, or EEXIST with RENAME_NOREPLACE) and the result is spelled `newName`; a
    /// target that is the source itself changes only the case.
    @discardableResult
    public func rename(_ name: [UInt8], in directory: Store.Node, to newName: [UInt8], in newDirectory: Store.Node,
                       flags: RenameFlags = []) throws(Errno) -> RenameOutcome {
        try admit(change: true)
        if name.withUnsafeBufferPointer(Self.isDotOrDotDot) { throw Errno(EINVAL) }
        try admitNewName(newName, makesInode: false)
        guard foldsCase else {
            try plainRename(name, in: directory, to: newName, in: newDirectory, flags: flags)
            return RenameOutcome(source: name, replaced: nil, result: newName)
        }
        return try withNameLocks(directory, newDirectory) { () throws(Errno) -> RenameOutcome in
            try foldedRename(name, in: directory, to: newName, in: newDirectory, flags: flags)
        }
    }

    /// The backing rename under the capacity rule.
    private func plainRename(_ name: [UInt8], in directory: Store.Node, to newName: [UInt8], in newDirectory: Store.Node,
                             flags: RenameFlags) throws(Errno) {
        if flags.contains(.exchange) {
            return try store.rename(name, in: directory, to: newName, in: newDirectory, flags: flags)
        }
        try withNamedFile(newName, in: newDirectory) { (victim) throws(Errno) in
            let sameFile = victim != nil && (try? store.attributes(of: name, in: directory))?.key == victim?.key
            if !sameFile { rules.preservation?.beforeRemovingName(newName, in: newDirectory) }  // a pending snapshot keeps it
            try store.rename(name, in: directory, to: newName, in: newDirectory, flags: flags)
            if !sameFile { removedName(of: victim) }
        }
    }

    private func withNameLocks<T>(_ first: Store.Node, _ second: Store.Node, _ body: () throws(Errno) -> T) throws(Errno) -> T {
        let firstKey = try store.attributes(of: first).key, secondKey = try store.attributes(of: second).key
        if firstKey == secondKey { return try store.withNameLock(first, body) }
        let inOrder = (firstKey.device, firstKey.inode) < (secondKey.device, secondKey.inode)
        let (outer, inner) = inOrder ? (first, second) : (second, first)
        return try store.withNameLock(outer) { () throws(Errno) -> T in try store.withNameLock(inner, body) }
    }

    private func foldedRename(_ name: [UInt8], in directory: Store.Node, to newName: [UInt8], in newDirectory: Store.Node,
                              flags: RenameFlags) throws(Errno) -> RenameOutcome {
        guard let source = spelling(of: name, in: directory) else { throw Errno(ENOENT) }
        let existing = spelling(of: newName, in: newDirectory)
        let sameDirectory = try store.attributes(of: directory).key == store.attributes(of: newDirectory).key
        if let existing, sameDirectory, existing == source {
            // The same entry: a case-only rename, or nothing at all.
            if flags.contains(.exchange) || source == newName {
                return RenameOutcome(source: source, replaced: nil, result: source)
            }
            try store.rename(source, in: directory, to: newName, in: newDirectory, flags: [])
            store.namesChanged(in: directory, added: newName, removed: source)
            return RenameOutcome(source: source, replaced: nil, result: newName)
        }
        guard let existing else {
            if flags.contains(.exchange) { throw Errno(ENOENT) }
            try store.rename(source, in: directory, to: newName, in: newDirectory, flags: flags)
            store.namesChanged(in: directory, added: nil, removed: source)
            store.namesChanged(in: newDirectory, added: newName, removed: nil)
            return RenameOutcome(source: source, replaced: nil, result: newName)
        }
        if flags.contains(.noReplace) { throw Errno(EEXIST) }
        if flags.contains(.exchange) {
            // The names stay as they were; only the entries behind them swap.
            try store.rename(source, in: directory, to: existing, in: newDirectory, flags: flags)
            store.namesChanged(in: directory, added: nil, removed: nil)
            return RenameOutcome(source: source, replaced: existing, result: existing)
        }
        // Two names of one file: rename(2) does nothing and succeeds (POSIX), so no name is gone (found by
        // the reference model: the spelling index lost the source and a later rename of it answered ENOENT).
        if let sourceKey = try? store.attributes(of: source, in: directory).key,
           sourceKey == (try? store.attributes(of: existing, in: newDirectory).key) {
            return RenameOutcome(source: source, replaced: nil, result: source)
        }
        // Replace the entry spelled `existing`, then give the result the spelling asked for: a
        // case-only rename within the target directory, which cannot fail where the first succeeded
        // but for the backing disk's errors (the result then keeps the spelling it replaced).
        try plainRename(source, in: directory, to: existing, in: newDirectory, flags: [])
        var result = existing
        if existing != newName, (try? store.rename(existing, in: newDirectory, to: newName, in: newDirectory, flags: [])) != nil {
            result = newName
        }
        store.namesChanged(in: directory, added: nil, removed: source)
        store.namesChanged(in: newDirectory, added: result, removed: existing)
        return RenameOutcome(source: source, replaced: existing, result: result)
    }

    public func readLink(_ node: Store.Node) throws(Errno) -> [UInt8] {
        try admit()
        return try store.readLink(node)
    }

    public func entries(of directory: Store.Node) throws(Errno) -> [[UInt8]] {
        try admit()
        return try store.entries(of: directory)
    }

    // MARK: - Files

    /// What a create opened: the handle and the spelling of the entry it opened.
    public struct Created: Sendable {
        public var handle: Store.Handle
        public var spelling: [UInt8]
    }

    /// open(2) with O_CREAT of `name` in `directory`, never through a symbolic link: a link there
    /// answers ESTALE unless the caller asked O_NOFOLLOW (ELOOP) — the kernel looked the name up and
    /// found nothing, so the link was made since by another mount, and ESTALE makes the kernel walk
    /// the path again and follow it in the caller's view. On a case-insensitive volume another
    /// spelling of `name` is that file: EEXIST with O_EXCL, else it is opened. O_TRUNC of an existing
    /// file frees its blocks once, whatever its number of links.
    public func create(_ name: [UInt8], in directory: Store.Node, flags: Int32, mode: mode_t,
                       as performer: Performer? = nil) throws(Errno) -> Created {
        try admit(change: true)
        try admitNewName(name, makesInode: true)
        do {
            guard foldsCase else {
                return Created(handle: try openCreating(name, in: directory, flags: flags, mode: mode, performer), spelling: name)
            }
            return try store.withNameLock(directory) { () throws(Errno) -> Created in
                let existing = spelling(of: name, in: directory)
                if let existing, existing != name {
                    if flags & O_EXCL != 0 { throw Errno(EEXIST) }
                    let handle = try openCreating(existing, in: directory, flags: flags & ~(O_CREAT | O_EXCL), mode: mode, performer)
                    return Created(handle: handle, spelling: existing)
                }
                let handle = try openCreating(name, in: directory, flags: flags, mode: mode, performer)
                if existing == nil { store.namesChanged(in: directory, added: name, removed: nil) }
                return Created(handle: handle, spelling: name)
            }
        } catch where error.code == ELOOP && flags & O_NOFOLLOW == 0 {
            throw Errno(ESTALE)
        }
    }

    private func openCreating(_ name: [UInt8], in directory: Store.Node, flags: Int32, mode: mode_t,
                              _ performer: Performer?) throws(Errno) -> Store.Handle {
        func backingCreate() throws(Errno) -> Store.Handle {
            var handle: Store.Handle?
            try perform(performer) { () throws(Errno) in handle = try store.create(name, in: directory, flags: flags, mode: mode) }
            guard let handle else { throw Errno(EIO) }
            return handle
        }
        if flags & O_TRUNC != 0 { rules.preservation?.beforeTruncatingName(name, in: directory) }  // copy before write
        guard rules.usage != nil, flags & O_TRUNC != 0 else { return try backingCreate() }
        return try withNamedFile(name, in: directory) { (file) throws(Errno) -> Store.Handle in
            let handle = try backingCreate()
            if let usage = rules.usage, let file, let after = try? store.attributes(ofOpen: handle), after.key == file.key {
                usage.settle(usage.unreserved(file.allocation), after: after.allocation)
            }
            return handle
        }
    }

    /// open(2) of a file found by lookup. A change (write access or O_TRUNC) answers EROFS on a
    /// read-only attachment; O_TRUNC frees the file's blocks.
    public func open(_ node: Store.Node, flags: Int32) throws(Errno) -> Store.Handle {
        let writes = flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0
        try admit(change: writes)
        if flags & O_TRUNC != 0 { rules.preservation?.beforeChange(node, from: 0, to: UInt64.max) }  // copy before write
        guard flags & O_TRUNC != 0, rules.usage != nil else { return try store.open(node, flags: flags) }
        let key = try store.attributes(of: node).key
        return try changeBlocks(key, measure: { (try? store.attributes(of: node))?.allocation },
                                reserve: { usage, file in usage.unreserved(file) }) { (_) throws(Errno) -> Store.Handle in
            try store.open(node, flags: flags)
        }
    }

    public func read(_ handle: Store.Handle, offset: UInt64, count: Int) throws(Errno) -> [UInt8] {
        try admit()
        return try store.read(handle, offset: offset, count: count)
    }

    /// write(2) of `bytes` (`write(_:offset:length:perform:)` has the rule).
    public func write(_ handle: Store.Handle, offset: UInt64, bytes: [UInt8]) throws(Errno) -> Int {
        let result: Result<Int, Errno> = bytes.withUnsafeBytes { buffer in
            do throws(Errno) {
                return .success(try write(handle, offset: offset, length: UInt64(buffer.count)) { (allowed) throws(Errno) -> Int in
                    try store.write(handle, offset: offset, bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<Int(allowed)]))
                })
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// truncate/ftruncate (`handle` when open): it allocates nothing (growing makes a hole, as on the
    /// services' file systems), so it is never ENOSPC; shrinking frees the blocks it drops.
    public func truncate(_ node: Store.Node, handle: Store.Handle? = nil, to size: UInt64) throws(Errno) {
        try admit(change: true)
        rules.preservation?.beforeChange(node, from: size, to: UInt64.max)  // copy before write
        guard rules.usage != nil else {
            if let handle { return try store.truncate(open: handle, to: size) }
            return try store.truncate(node, to: size)
        }
        let key = try store.attributes(of: node).key
        try changeBlocks(key, measure: { (try? store.attributes(of: node))?.allocation },
                         reserve: { usage, file in usage.unreserved(file) }) { (_) throws(Errno) in
            if let handle { try store.truncate(open: handle, to: size) } else { try store.truncate(node, to: size) }
        }
    }

    /// fallocate(2): PUNCH_HOLE and COLLAPSE_RANGE free blocks; every other mode allocates the range,
    /// all of it or nothing (ENOSPC); INSERT_RANGE allocates `length` bytes more.
    public func allocate(_ handle: Store.Handle, mode: Int32, offset: UInt64, length: UInt64) throws(Errno) {
        try admit(change: true)
        rules.preservation?.beforeChange(handle, from: offset, to: mode & (AllocateMode.collapseRange | AllocateMode.insertRange) != 0 ? UInt64.max : offset &+ length)
        guard rules.usage != nil else { return try store.allocate(handle, mode: mode, offset: offset, length: length) }
        let frees = mode & (AllocateMode.punchHole | AllocateMode.collapseRange) != 0
        let key = try store.attributes(ofOpen: handle).key
        try changeBlocks(key, measure: { (try? store.attributes(ofOpen: handle))?.allocation }, reserve: { usage, file in
            frees ? usage.unreserved(file)
                : usage.reserveAllocation(file, offset: offset, length: length, insert: mode & AllocateMode.insertRange != 0,
                                          holes: store.holes(handle, file: file, offset: offset, length: length))
        }) { (_) throws(Errno) in
            try store.allocate(handle, mode: mode, offset: offset, length: length)
        }
    }

    public func sync(_ handle: Store.Handle, dataOnly: Bool = false) throws(Errno) {
        try admit()
        try store.sync(handle, dataOnly: dataOnly)
    }

    /// What setattr may change.
    public struct AttributeChange: Sendable {
        public var mode: mode_t?
        public var uid: uid_t?
        public var gid: gid_t?
        public var size: UInt64?
        public var access: TimeChange
        public var modification: TimeChange

        public init(mode: mode_t? = nil, uid: uid_t? = nil, gid: gid_t? = nil, size: UInt64? = nil,
                    access: TimeChange = .omit, modification: TimeChange = .omit) {
            self.mode = mode
            self.uid = uid
            self.gid = gid
            self.size = size
            self.access = access
            self.modification = modification
        }
    }

    /// setattr: each change in turn (mode, owner, size under the capacity rule, times).
    public func setAttributes(_ node: Store.Node, _ change: AttributeChange, handle: Store.Handle? = nil) throws(Errno) {
        try admit(change: true)
        if let mode = change.mode { try store.setMode(node, mode) }
        if change.uid != nil || change.gid != nil { try store.setOwner(node, uid: change.uid, gid: change.gid) }
        if let size = change.size { try truncate(node, handle: handle, to: size) }
        if change.access != .omit || change.modification != .omit {
            try store.setTimes(node, access: change.access, modification: change.modification)
        }
    }

    // MARK: - Extended attributes

    public func extendedAttribute(_ name: [UInt8], of node: Store.Node) throws(Errno) -> [UInt8] {
        try admit()
        try admitExtendedAttribute(name)
        return try store.extendedAttribute(name, of: node)
    }

    public func extendedAttributeNames(of node: Store.Node) throws(Errno) -> [[UInt8]] {
        try admit()
        if !rules.extendedAttributes { throw Errno(EOPNOTSUPP) }
        return try store.extendedAttributeNames(of: node)
    }

    public func setExtendedAttribute(_ name: [UInt8], of node: Store.Node, value: [UInt8], flags: Int32 = 0) throws(Errno) {
        try admit(change: true)
        try admitExtendedAttribute(name)
        try store.setExtendedAttribute(name, of: node, value: value, flags: flags)
    }

    public func removeExtendedAttribute(_ name: [UInt8], of node: Store.Node) throws(Errno) {
        try admit(change: true)
        try admitExtendedAttribute(name)
        try store.removeExtendedAttribute(name, of: node)
    }

    // MARK: - Space

    /// The volume's size, not the backing disk's: the provisioned capacity (its free part never more
    /// than the disk under it has room for: writes past that fail with the disk's ENOSPC), or 8 EiB
    /// when elastic, less what the backing disk holds.
    public func space(blockSize: UInt64 = 4096) throws(Errno) -> VolumeSpace {
        try admit()
        let backing = try store.space()
        let total: UInt64, free: UInt64
        if let usage = rules.usage {
            let figures = usage.statfsBlocks(blockSize: blockSize)
            total = figures.total
            free = min(figures.free, backing.availableBytes / blockSize)
        } else {
            (total, free) = CapacityFigures.blocks(capacityBytes: CapacityFigures.elasticBytes, usedBytes: backing.usedBytes,
                                                   blockSize: blockSize)
        }
        return VolumeSpace(blockSize: blockSize, totalBlocks: total, freeBlocks: free, files: backing.files, freeFiles: backing.freeFiles)
    }
}

/// What `statfs` answers for a volume, in blocks of `blockSize`.
public struct VolumeSpace: Sendable, Equatable {
    public var blockSize: UInt64
    public var totalBlocks: UInt64
    public var freeBlocks: UInt64
    public var files: UInt64
    public var freeFiles: UInt64
}
#endif
