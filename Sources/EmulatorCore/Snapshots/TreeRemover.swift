#if canImport(Glibc)
import Glibc

/// Removes a volume's or snapshot's tree, as root, whatever processes using the volume made of it: a
/// walk of directory descriptors (`DirectoryChain`) that unlinks each entry relative to its directory,
/// so a symbolic link is removed, never followed (the root's too); names are bytes; any depth the file
/// system allows is removed with a bounded number of descriptors and no recursion. It stays on the
/// root's mount (`MountIdentity`): a directory with something mounted on it is neither entered nor
/// removed (as `rm --one-file-system`).
///
/// What cannot be removed is not ignored: the walk removes everything else, then throws `Failure`
/// naming what is left.
public enum TreeRemover {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// The tree that was to be removed, and is still there in part.
        public var path: String
        /// The first few entries that could not be removed, each with why.
        public var problems: [String]
        /// How many entries could not be removed, in all.
        public var count: Int

        public var description: String {
            let more = count > problems.count ? "; and \(count - problems.count) more" : ""
            return "\(path) could not all be removed and remains: " + problems.joined(separator: "; ") + more
        }
    }

    /// Removes `path` and everything below it. A `path` that does not exist is nothing to do; one that
    /// is a symbolic link or a file is unlinked. Its parent directory is a path of Berth's state
    /// directory, checked by the caller; it must not be a symbolic link itself (`volumes` or `snapshots`
    /// replaced by a link would lead the removal elsewhere), which O_NOFOLLOW refuses with ELOOP.
    public static func removeTree(at path: String) throws(Failure) {
        guard let (parentPath, name) = splitLastName(path) else {
            throw Failure(path: path, problems: ["not a removable path"], count: 1)
        }
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard parent >= 0 else {
            if errno == ENOENT { return }
            throw Failure(path: path, problems: ["open \(parentPath): \(String(cString: strerror(errno)))"], count: 1)
        }
        defer { close(parent) }
        try removeTree(named: Array(name.utf8CString), in: parent, path: path)
    }

    /// Removes the entry `name` (NUL-terminated) of the directory `directory` and, if it is a directory,
    /// everything below it. `path` names it in messages.
    public static func removeTree(named name: [CChar], in directory: Int32, path: String) throws(Failure) {
        var problems = Problems()
        if unlinkat(directory, name, 0) == 0 || errno == ENOENT { return }
        guard isDirectory(directory, name) else {
            problems.add("unlink \(path)", errno)
            throw problems.failure(path)
        }
        let root = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        var rootInfo = stat()
        guard root >= 0, fstat(root, &rootInfo) == 0 else {
            problems.add("open \(path)", errno)
            if root >= 0 { close(root) }
            throw problems.failure(path)
        }
        let emptied = emptyDirectory(root, rootInfo, path: path, &problems)
        if unlinkat(directory, name, AT_REMOVEDIR) != 0 && errno != ENOENT && emptied {
            problems.add("rmdir \(path)", errno)
        }
        if problems.count > 0 { throw problems.failure(path) }
    }

    /// One directory being emptied: its names not yet removed, its name in its parent, and whether
    /// something below it stayed (then its own removal is expected to fail, and is not reported again).
    private struct Frame {
        var entries: DirectoryListing
        let name: [CChar]
        var incomplete = false
    }

    /// Removes everything in `root` (whose descriptor it takes), depth first with an explicit stack.
    /// Returns whether all of it went.
    private static func emptyDirectory(_ root: Int32, _ rootInfo: stat, path: String, _ problems: inout Problems) -> Bool {
        let rootMount = MountIdentity(root, rootInfo)
        var chain = DirectoryChain()
        chain.push(root, rootInfo)
        defer { chain.closeAll() }
        guard let rootEntries = DirectoryListing.read(root) else {
            problems.add("read \(path)", errno)
            return false
        }
        var frames = [Frame(entries: rootEntries, name: [])]
        func shown(_ name: [CChar]?) -> String {
            PathDisplay.join(path, frames.dropFirst().map(\.name) + (name.map { [$0] } ?? []))
        }
        while let depth = frames.indices.last {
            guard let name = frames[depth].entries.next() else {
                let done = frames.removeLast()
                guard let parent = frames.indices.last else { return !done.incomplete }
                let code = chain.pop()
                guard code == 0 else {
                    problems.add("reopen \(shown(nil))", code)
                    return false
                }
                if unlinkat(chain.top, done.name, AT_REMOVEDIR) != 0 && errno != ENOENT {
                    if !done.incomplete { problems.add("rmdir \(shown(done.name))", errno) }
                    frames[parent].incomplete = true
                }
                continue
            }
            let directory = chain.top
            if unlinkat(directory, name, 0) == 0 || errno == ENOENT { continue }
            guard isDirectory(directory, name) else {
                problems.add("unlink \(shown(name))", errno)
                frames[depth].incomplete = true
                continue
            }
            let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            var info = stat()
            guard child >= 0, fstat(child, &info) == 0 else {
                problems.add("open \(shown(name))", errno)
                if child >= 0 { close(child) }
                frames[depth].incomplete = true
                continue
            }
            guard rootMount.contains(child, info) else {
                close(child)
                problems.add("\(shown(name)) is a mount point; not entered", nil)
                frames[depth].incomplete = true
                continue
            }
            chain.push(child, info)
            guard let entries = DirectoryListing.read(child) else {
                problems.add("read \(shown(name))", errno)
                frames[depth].incomplete = true
                let code = chain.pop()
                guard code == 0 else {
                    problems.add("reopen \(shown(nil))", code)
                    return false
                }
                continue
            }
            frames.append(Frame(entries: entries, name: name))
        }
        return true
    }

    /// After `unlinkat` failed: whether `name` is a directory (`EISDIR`; or `EPERM`, which is what an
    /// immutable directory answers first), `errno` left as the unlink set it when not.
    private static func isDirectory(_ directory: Int32, _ name: [CChar]) -> Bool {
        let code = errno
        if code == EISDIR { return true }
        var info = stat()
        let isDirectory = fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFDIR
        errno = code
        return isDirectory
    }

    /// What could not be removed: the first few in words, and how many in all.
    private struct Problems {
        static let kept = 5
        var listed: [String] = []
        var count = 0

        mutating func add(_ what: String, _ code: Int32?) {
            count += 1
            guard listed.count < Self.kept else { return }
            listed.append(code.map { "\(what): \(String(cString: strerror($0)))" } ?? what)
        }

        func failure(_ path: String) -> Failure { Failure(path: path, problems: listed, count: count) }
    }
}

extension StateStore {
    /// Removes the data of a volume or snapshot whose record is gone; throws, naming the path that
    /// remains, if it cannot all be removed (a delete must not look done while its data stays).
    func removeDeletedData(_ path: String, of id: String) throws(StateError) {
        do {
            try TreeRemover.removeTree(at: path)
        } catch {
            throw .storage("\(id) is deleted, but its data is not: \(error.description)")
        }
    }
}
#endif
