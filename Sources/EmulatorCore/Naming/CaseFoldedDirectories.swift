#if canImport(Glibc)
import Glibc
import Synchronization

/// Case-insensitive, case-preserving names over a case-sensitive backing directory (FSx for Windows File
/// Server: NTFS over SMB, seed §Amazon FSx für Windows File Server; emulator.md §Semantics: "case-
/// insensitive, case-preserving").
///
/// The backing directory keeps each entry under the spelling it was created with. This type answers
/// "which entry, if any, is `name` in this directory?" and keeps two entries that differ only in case
/// from ever coming into being, across every mount of the volume:
/// - every change to a directory's names happens while holding `flock` on that backing directory
///   (`withLock`), so two mounts creating `Report.txt` and `REPORT.TXT` at once take turns and the second
///   finds the first;
/// - each mount server keeps an index per directory (match key → spelling), valid while the volume's
///   name generation (`<shared>/names`, bumped by every change on every mount) is the one it was built
///   at; a change by this server updates its index in place, anything else rebuilds it by scanning.
public final class CaseFoldedDirectories: Sendable {
    private let rules: any NameRules
    private let generation: SharedWords
    private let indexes = Mutex<[InodeKey: DirectoryIndex]>([:])
    /// Indexes kept at most; past this the table starts afresh (a rebuild is one directory scan).
    private let indexLimit = 4_096

    struct DirectoryIndex {
        var generation: UInt64
        var spellings: [[UInt8]: [UInt8]]
    }

    public init(sharedStateDirectory: String, rules: any NameRules) throws(SharedStateError) {
        self.rules = rules
        generation = try SharedWords(path: sharedStateDirectory + "/names", count: 1, layout: 5) {
            () throws(SharedStateError) -> [UInt64] in [0]
        }
    }

    public func matchKey(_ name: [UInt8]) -> [UInt8] {
        name.withUnsafeBufferPointer { rules.matchKey(forName: $0) }
    }

    /// The spelling of the entry in `directory` (an O_PATH or readable descriptor of the backing
    /// directory, identified by `key`) that `name` denotes: `name` itself, another spelling of it, or
    /// nil when there is none. Unlocked readers get an answer some order of the concurrent changes
    /// explains; callers about to change names hold `withLock` first.
    public func spelling(of name: [UInt8], in directory: Int32, key: InodeKey) -> [UInt8]? {
        let wanted = matchKey(name)
        let current = generation.load(0)
        // Looked up in place: a copy of the index held outside the lock would make the next change
        // copy the whole dictionary.
        let indexed = indexes.withLock { table -> [UInt8]?? in
            guard let index = table[key], index.generation == current else { return nil }
            return .some(index.spellings[wanted])
        }
        if let indexed { return indexed }
        guard let names = Self.scan(directory) else { return nil }
        var spellings: [[UInt8]: [UInt8]] = [:]
        spellings.reserveCapacity(names.count)
        for entry in names {
            let entryKey = matchKey(entry)
            // Two spellings already present (data put into the backing directory by other means): the
            // exact one wins a lookup; the index keeps the first seen.
            if spellings[entryKey] == nil { spellings[entryKey] = entry }
        }
        indexes.withLock { table in
            if table.count >= indexLimit { table.removeAll(keepingCapacity: true) }
            table[key] = DirectoryIndex(generation: current, spellings: spellings)
        }
        if let exact = names.first(where: { $0 == name }) { return exact }
        return spellings[wanted]
    }

    /// Runs `body` holding the exclusive lock on the backing directory `directory` (any descriptor
    /// of it). Returns nil, with `errno` set, when the directory cannot be opened.
    public func withLock<T>(_ directory: Int32, _ body: () -> T) -> T? {
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { return nil }
        }
        defer { flock(fd, LOCK_UN) }
        return body()
    }

    /// Runs `body` holding the locks of two directories, taken in a fixed order (by backing identity)
    /// so that two renames in opposite directions cannot deadlock.
    public func withLocks<T>(_ first: (fd: Int32, key: InodeKey), _ second: (fd: Int32, key: InodeKey), _ body: () -> T) -> T? {
        if first.key == second.key { return withLock(first.fd, body) }
        let (outer, inner) = Self.precedes(first.key, second.key) ? (first, second) : (second, first)
        let result: T?? = withLock(outer.fd) { withLock(inner.fd, body) }
        return result ?? nil
    }

    /// Records that this server added `name` to the directory `key` and removed `removed` (each
    /// optional), while holding its lock. Every other server's index is invalidated.
    public func recordChange(in key: InodeKey, added: [UInt8]? = nil, removed: [UInt8]? = nil) {
        let after = generation.add(0, 1)
        let removedKey = removed.map(matchKey), addedKey = added.map(matchKey)
        indexes.withLock { table in
            guard table[key]?.generation == after &- 1 else {
                table[key] = nil
                return
            }
            // Changed in place (no copy of the dictionary per change).
            if let removed, let removedKey, table[key]?.spellings[removedKey] == removed {
                table[key]?.spellings[removedKey] = nil
            }
            if let added, let addedKey { table[key]?.spellings[addedKey] = added }
            table[key]?.generation = after
        }
    }

    /// Like `recordChange`, for a rename between two directories.
    public func recordRename(from source: InodeKey, _ oldName: [UInt8], to target: InodeKey, _ newName: [UInt8],
                             replaced: [UInt8]? = nil) {
        if source == target {
            if let replaced, replaced != oldName { recordChange(in: target, removed: replaced) }
            recordChange(in: source, added: newName, removed: oldName)
        } else {
            recordChange(in: source, removed: oldName)
            if let replaced { recordChange(in: target, removed: replaced) }
            recordChange(in: target, added: newName)
        }
    }

    static func precedes(_ a: InodeKey, _ b: InodeKey) -> Bool {
        (a.device, a.inode) < (b.device, b.inode)
    }

    /// Every name in the directory but `.` and `..`, or nil when it cannot be read.
    static func scan(_ directory: Int32) -> [[UInt8]]? {
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return nil
        }
        defer { closedir(stream) }
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19
        var names: [[UInt8]] = []
        while let entry = readdir(stream) {
            let pointer = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: UInt8.self)
            let name = Array(UnsafeBufferPointer(start: pointer, count: strlen(UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))))
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        return names
    }
}
#endif
