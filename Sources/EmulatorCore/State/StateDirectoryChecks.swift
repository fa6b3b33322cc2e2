import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A state directory only its owner controls (as ssh refuses a `~/.ssh` others can write): Berth runs as
/// root and deletes, truncates and serves what the state directory names, so whoever can change it could
/// make root do so elsewhere. Every directory Berth uses in it must be a real directory (not a symbolic
/// link), owned by the invoking effective user and writable by no one else; every file a regular file
/// (not a symbolic link) owned by that user. Nothing else can then change an entry between a check and
/// its use.
extension StateDirectory {
    /// Makes the state directory (and its missing parents, `mkdir -p`, each 0700) or checks the existing
    /// one: a directory, owned by the effective user, not writable by group or others. The root itself may
    /// be reached through a symbolic link the user chose (`--state-dir`); what it leads to is checked.
    public func prepareRoot() throws(StateError) {
        var info = stat()
        if stat(path, &info) != 0 {
            let code = errno
            guard code == ENOENT || code == ENOTDIR else { throw Self.unreachable(path, errno: code) }
            try Self.makeParents(of: path)
            try makeStateDirectory(path, mode: 0o700)
            return
        }
        try Self.checkOwned(path, info, what: "the state directory")
    }

    /// `mkdir -p` of every missing ancestor of `path`, each 0700 (the XDG base directory specification's
    /// mode for `~/.local/state`); an ancestor that is a file is reported as not a directory.
    static func makeParents(of path: String) throws(StateError) {
        var prefix = ""
        let parts = path.split(separator: "/")
        for part in parts.dropLast() {
            prefix += "/" + part
            var info = stat()
            if stat(prefix, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    throw .unsafeStateDirectory("\(prefix) is not a directory, so the state directory \(path) cannot be made under it")
                }
                continue
            }
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { throw cannotCreate(prefix, errno: errno) }
        }
    }

    /// Refuses `info` (of `path`) unless it is a directory owned by the effective user and writable by no
    /// one else.
    static func checkOwned(_ path: String, _ info: stat, what: String) throws(StateError) {
        let type = info.st_mode & S_IFMT
        if type == S_IFLNK { throw .unsafeStateDirectory("\(what) \(path) is a symbolic link; Berth does not follow links inside its state directory") }
        guard type == S_IFDIR else {
            throw .unsafeStateDirectory("\(what) \(path) is not a directory (it is \(fileKind(type)))")
        }
        let me = geteuid()
        guard info.st_uid == me else {
            throw .unsafeStateDirectory(
                "\(what) \(path) is owned by \(userName(info.st_uid)), but you are \(userName(me)): Berth uses only a "
                    + "state directory its user controls; use another --state-dir, or `chown` it if it is yours")
        }
        guard info.st_mode & 0o022 == 0 else {
            let who = info.st_mode & 0o020 != 0 ? (info.st_mode & 0o002 != 0 ? "its group and others" : "its group") : "others"
            throw .unsafeStateDirectory(
                "\(what) \(path) is writable by \(who) (mode \(String(info.st_mode & 0o7777, radix: 8))), who could make "
                    + "Berth change files elsewhere: `chmod go-w \(path)`")
        }
    }

    /// Checks, without changing anything, that `path` is absent or a directory only the user controls.
    /// True when it exists.
    @discardableResult
    static func checkExistingDirectory(_ path: String, what: String) throws(StateError) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return false }
            throw unreachable(path, errno: errno)
        }
        try checkOwned(path, info, what: what)
        return true
    }

    /// Checks that `path` is absent or a regular file (not a symbolic link) owned by the user.
    static func checkExistingFile(_ path: String) throws(StateError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw unreachable(path, errno: errno)
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            throw .unsafeStateDirectory("\(path) is \(fileKind(type)), not a regular file; Berth does not follow links inside its state directory")
        }
        guard info.st_uid == geteuid() else {
            throw .unsafeStateDirectory("\(path) is owned by \(userName(info.st_uid)), but you are \(userName(geteuid()))")
        }
    }

    /// The checks every opening of the state makes on what already exists: the directories Berth keeps
    /// and the database's files.
    func checkLayout() throws(StateError) {
        try Self.checkExistingDirectory(volumesDirectory, what: "the volumes directory")
        try Self.checkExistingDirectory(snapshotsDirectory, what: "the snapshots directory")
        try Self.checkExistingDirectory(zonesDirectory, what: "the zones directory")
        for file in [databasePath, databasePath + "-wal", databasePath + "-shm", lockPath, mountLogPath] {
            try Self.checkExistingFile(file)
        }
    }

    /// A volume's directories, before they are served or deleted: `volumes/<id>` and `shared` only the
    /// user controls, `data` a real directory (not a symbolic link; its owner and mode are the volume's
    /// root's, which tasks may change through a mount, so they are not checked).
    /// `forDeletion`: a `data` that is anything else is removed as what it is (a link is unlinked, never
    /// followed: TreeRemover), so only the directories around it are checked.
    public func checkVolumeDirectories(_ id: VolumeID, forDeletion: Bool = false) throws(StateError) {
        // The directories above it too: a `volumes` that is a link would lead every step below elsewhere.
        try Self.checkExistingDirectory(path, what: "the state directory")
        try Self.checkExistingDirectory(volumesDirectory, what: "the volumes directory")
        guard try Self.checkExistingDirectory(volumeDirectory(id), what: "the directory of \(id)") else { return }
        try Self.checkExistingDirectory(sharedDirectory(id), what: "the shared directory of \(id)")
        if forDeletion { return }
        var info = stat()
        if lstat(dataDirectory(id), &info) == 0 {
            let type = info.st_mode & S_IFMT
            guard type == S_IFDIR else {
                throw .unsafeStateDirectory("the data directory \(dataDirectory(id)) of \(id) is \(fileKind(type)), not a directory; it is not used")
            }
        }
    }

    /// A snapshot's directory only the user controls and its `data` a real directory, before it is
    /// restored from or deleted.
    public func checkSnapshotDirectories(_ id: SnapshotID) throws(StateError) {
        guard try Self.checkExistingDirectory(snapshotDirectory(id), what: "the directory of \(id)") else { return }
        var info = stat()
        if lstat(snapshotDirectory(id) + "/data", &info) == 0 {
            let type = info.st_mode & S_IFMT
            guard type == S_IFDIR else {
                throw .unsafeStateDirectory("the data directory \(snapshotDirectory(id))/data of \(id) is \(fileKind(type)), not a directory")
            }
        }
    }

    static func unreachable(_ path: String, errno code: Int32) -> StateError {
        switch code {
        case ENOTDIR: .unsafeStateDirectory("\(path): a component of the path is not a directory")
        case EACCES: .unsafeStateDirectory("\(path): permission denied (\(ownerOfNearestAncestor(path)))")
        default: .storage("\(path): \(String(cString: strerror(code)))")
        }
    }

    static func cannotCreate(_ path: String, errno code: Int32) -> StateError {
        switch code {
        case EACCES, EPERM:
            .unsafeStateDirectory("cannot create \(path): permission denied (\(ownerOfNearestAncestor(path)))")
        case ENOTDIR:
            .unsafeStateDirectory("cannot create \(path): a component of the path is not a directory")
        default:
            .storage("cannot create \(path): \(String(cString: strerror(code)))")
        }
    }
}

/// `mkdir` that accepts an existing directory only the user controls (see `StateDirectory.checkOwned`).
func makeStateDirectory(_ path: String, mode: mode_t) throws(StateError) {
    if mkdir(path, mode) == 0 { return }
    let code = errno
    guard code == EEXIST else { throw StateDirectory.cannotCreate(path, errno: code) }
    var info = stat()
    guard lstat(path, &info) == 0 else { throw StateDirectory.unreachable(path, errno: errno) }
    try StateDirectory.checkOwned(path, info, what: "the directory")
}

/// "a regular file", "a symbolic link", …
func fileKind(_ type: mode_t) -> String {
    switch type {
    case S_IFREG: "a regular file"
    case S_IFLNK: "a symbolic link"
    case S_IFDIR: "a directory"
    case S_IFIFO: "a FIFO"
    case S_IFSOCK: "a socket"
    case S_IFCHR, S_IFBLK: "a device"
    default: "not a directory"
    }
}

/// "uid 65534 (nobody)".
func userName(_ uid: uid_t) -> String {
    guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
    return "\(String(cString: name)) (uid \(uid))"
}

/// Who owns the nearest existing ancestor of `path` and its mode: what a permission error is about.
func ownerOfNearestAncestor(_ path: String) -> String {
    var current = path
    while current != "/" && !current.isEmpty {
        current = (current as NSString).deletingLastPathComponent
        var info = stat()
        if stat(current, &info) == 0 {
            return "\(current) is owned by \(userName(info.st_uid)), mode \(String(info.st_mode & 0o7777, radix: 8)); you are \(userName(geteuid()))"
        }
    }
    return "you are \(userName(geteuid()))"
}
