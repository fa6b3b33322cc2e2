#if canImport(Glibc)
import Glibc
#endif

/// The service types the model knows, and `plain`: a local POSIX directory (the harness's own check).
public enum ServiceType: String, CaseIterable, Sendable {
    case plain, ebs, efs
    case fsxLustre = "fsx-lustre", fsxWindows = "fsx-windows", fsxOpenZFS = "fsx-openzfs", fsxONTAP = "fsx-ontap"

    /// Several mounts at once (EFS, every FSx); EBS and a plain directory have one.
    public var isShared: Bool { self != .ebs && self != .plain }
    /// A provisioned size (EBS, FSx); EFS is elastic.
    public var isProvisioned: Bool { self != .efs && self != .plain }
}

/// Open findings of the comparison, which a run may tolerate while they are being fixed.
public enum KnownFinding: String, Hashable, Sendable {
    /// flock on a directory is kept by the kernel of the mount (FUSE has no directory flock): it does
    /// not hold across mounts and an outage does not answer it EIO.
    case directoryFlockIsLocal
    /// fsx-windows, several mounts: an open through one spelling that sees another mount's change does
    /// not refresh the attributes cached for the file's other spellings (up to 1 s old).
    case spellingsRevalidateSeparately
}

/// What one run models: the type, how many mounts the steps go through, capacity, read-only.
public struct ModelConfiguration: Sendable, CustomStringConvertible {
    public var service: ServiceType
    public var mounts: Int
    /// Provisioned bytes; nil for elastic storage (and a plain directory).
    public var capacityBytes: Int?
    public var readOnly: Bool
    /// ebs mounted `--local-locks`: locks are the attachment's kernel's.
    public var localLocks = false
    /// Open findings the random runs accept so that they go on finding others (each has a regression
    /// sequence that still fails).
    public var tolerated: Set<KnownFinding> = []

    public init(service: ServiceType, mounts: Int = 1, capacityBytes: Int? = nil, readOnly: Bool = false) {
        self.service = service
        self.mounts = mounts
        self.capacityBytes = capacityBytes
        self.readOnly = readOnly
    }

    var caseInsensitive: Bool { service == .fsxWindows }
    /// Locks are the one attachment's kernel's (ebs with `--local-locks`, as a plain directory's are the
    /// local kernel's): files and directories alike, and an outage does not reach them (SEMANTICS.md §Locks).
    var locksAreKernelLocal: Bool { service == .plain || (service == .ebs && localLocks) }
    /// Attributes may be up to 1 s old on a mount other than the one that changed them (shared cache
    /// policy with several mounts, SEMANTICS.md §Consistency and caching).
    var staleAttributesAcrossMounts: Bool { service.isShared && mounts > 1 }

    public var description: String {
        var parts = [service.rawValue, "\(mounts) mount\(mounts == 1 ? "" : "s")"]
        if let capacityBytes { parts.append("capacity \(capacityBytes)") }
        if readOnly { parts.append("read-only") }
        if localLocks { parts.append("local locks") }
        return parts.joined(separator: ", ")
    }
}

/// An errno as an error value.
public struct Errno: Error, Hashable, Sendable {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
}

/// The outcomes a step may have according to the model. Exactly one outcome but for the documented
/// nondeterminism (`note` says which); `anything` where the model knows nothing (an elastic volume's
/// `statfs`, which shows the backing disk).
public struct Expectation: Sendable, CustomStringConvertible {
    public var allowed: [Outcome]
    public var anything = false
    public var note: String?

    public init(_ outcome: Outcome) { allowed = [outcome] }
    public init(oneOf outcomes: [Outcome], note: String) {
        allowed = outcomes
        self.note = note
    }
    public static let anything = { var e = Expectation(.ok); e.anything = true; e.allowed = []; return e }()

    public func admits(_ outcome: Outcome) -> Bool { anything || allowed.contains(outcome) }

    public var description: String {
        if anything { return "anything" }
        let text = allowed.count == 1 ? allowed[0].description : "one of " + allowed.map(\.description).joined(separator: " | ")
        return note.map { text + " (\($0))" } ?? text
    }
}

/// A deliberately simple in-memory model of what docs/SEMANTICS.md promises a mount does: a tree of
/// nodes, names (case-insensitive and case-preserving with Windows refusals on fsx-windows), data and
/// allocated 4 KiB blocks, capacity, read-only, outages, links, renames and flock locks. Errors follow
/// the order in which Linux's VFS checks them, since the kernel answers many of them before a server sees
/// the call. Nothing here looks at Berth's code.
public struct ReferenceModel: Sendable {
    public static let blockSize = 4096

    struct Node: Sendable {
        var kind: FileKind
        var data: [UInt8] = []
        var blocks: Set<Int> = []
        var target = ""
        var permissions: Int
        /// Directory entries, by the spelling they were made with.
        var entries: [String: Int] = [:]
        /// Names leading to a regular file or symlink (0: gone, perhaps still held open by a lock).
        var links = 1
        var removed = false
    }

    public internal(set) var configuration: ModelConfiguration
    var nodes: [Int: Node] = [0: Node(kind: .directory, permissions: 0o755)]
    var nextID = 1
    var cutOff = false
    /// holder → the node it holds flock on.
    var locks: [Int: Int] = [:]
    /// Holders of a directory's flock while `directoryFlockIsLocal` is tolerated (not modelled).
    var directoryHolders: Set<Int> = []
    /// Attribute history per node, and per mount the oldest version it may still show.
    var versions: [Int: [Attributes]] = [:]
    var seen: [[Int: Int]]

    public init(_ configuration: ModelConfiguration) {
        self.configuration = configuration
        seen = Array(repeating: [:], count: max(configuration.mounts, 1))
        recordVersions(through: nil)
    }

    /// The same volume seen under another configuration (a prepared tree, then mounted read-only).
    public func reconfigured(_ configuration: ModelConfiguration) -> ReferenceModel {
        var model = self
        model.configuration = configuration
        model.seen = Array(repeating: [:], count: max(configuration.mounts, 1))
        return model
    }

    // MARK: - Names

    /// NTFS matches names by each character's simple uppercase mapping (SEMANTICS.md §FSx for Windows);
    /// a character whose capital is more than one character (ß) stays as it is.
    static func caseKey(_ name: String) -> String {
        String(name.map { c -> Character in
            let upper = String(c).uppercased()
            return upper.count == 1 ? Character(upper) : c
        })
    }

    /// Windows refuses these new names with EINVAL (SEMANTICS.md §FSx for Windows, Names (enforced)).
    static func windowsRefuses(_ name: String) -> Bool {
        let numbered = (1...9).map(String.init) + ["¹", "²", "³"]
        let devices = Set(["CON", "PRN", "AUX", "NUL"] + numbered.flatMap { ["COM" + $0, "LPT" + $0] })
        let base = String(name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if devices.contains(base.uppercased()) { return true }
        if name.unicodeScalars.contains(where: { "<>:\"\\|?*".unicodeScalars.contains($0) || $0.value < 0x20 }) { return true }
        return name.hasSuffix(".") || name.hasSuffix(" ")
    }

    func lookup(_ directory: Int, _ name: String) -> (spelling: String, id: Int)? {
        guard let entries = nodes[directory]?.entries else { return nil }
        if let id = entries[name] { return (name, id) }
        guard configuration.caseInsensitive else { return nil }
        let key = Self.caseKey(name)
        return entries.keys.sorted().first { Self.caseKey($0) == key }.flatMap { spelling in entries[spelling].map { (spelling, $0) } }
    }

    struct Resolved {
        var parent: Int
        var name: String
        var found: (spelling: String, id: Int)?
    }

    /// Walks `path` from `base` as the kernel does: symbolic links followed in the middle, and at the end
    /// only with `followLast`; ENOENT for a missing directory, ENOTDIR for a path through a non-directory.
    func resolve(_ path: String, followLast: Bool, base: Int = 0, depth: Int = 0) -> Result<Resolved, Errno> {
        let components = path.split(separator: "/").map(String.init)
        guard !components.isEmpty else { return .success(Resolved(parent: base, name: "", found: (".", base))) }
        var directory = base
        for (index, component) in components.enumerated() {
            guard nodes[directory]?.kind == .directory else { return .failure(Errno(ENOTDIR)) }
            let found = lookup(directory, component)
            if index == components.count - 1 {
                if followLast, let found, let node = nodes[found.id], node.kind == .symlink {
                    guard depth < 40 else { return .failure(Errno(ELOOP)) }
                    return resolve(node.target, followLast: true, base: directory, depth: depth + 1)
                }
                return .success(Resolved(parent: directory, name: component, found: found))
            }
            guard let found, let node = nodes[found.id] else { return .failure(Errno(ENOENT)) }
            if node.kind == .symlink {
                guard depth < 40 else { return .failure(Errno(ELOOP)) }
                switch resolve(node.target, followLast: true, base: directory, depth: depth + 1) {
                case .failure(let e): return .failure(e)
                case .success(let r):
                    guard let target = r.found else { return .failure(Errno(ENOENT)) }
                    directory = target.id
                }
            } else {
                directory = found.id
            }
        }
        return .failure(Errno(ENOENT))
    }

    // MARK: - Capacity

    var usedBlocks: Int {
        nodes.values.reduce(0) { $0 + ($1.kind == .regular && $1.links > 0 ? $1.blocks.count : 0) }
    }

    var freeBlocks: Int? {
        configuration.capacityBytes.map { max($0 / Self.blockSize - usedBlocks, 0) }
    }

    var isFull: Bool { freeBlocks == 0 }

    static func blockRange(offset: Int, length: Int) -> ClosedRange<Int> {
        (offset / blockSize)...((offset + length - 1) / blockSize)
    }

    func attributes(_ id: Int) -> Attributes? {
        guard let node = nodes[id], !node.removed else { return nil }
        switch node.kind {
        case .regular:
            return Attributes(kind: .regular, size: node.data.count, blocks: node.blocks.count, links: node.links, permissions: node.permissions)
        case .directory:
            let subdirectories = node.entries.values.filter { nodes[$0]?.kind == .directory }.count
            return Attributes(kind: .directory, size: nil, blocks: nil, links: 2 + subdirectories, permissions: node.permissions)
        case .symlink, .other:
            return Attributes(kind: node.kind, size: node.target.utf8.count, blocks: nil, links: node.links, permissions: 0o777)
        }
    }

    // MARK: - Steps

    /// Applies `operation` and returns what the model allows it to answer.
    public mutating func apply(_ operation: FileOperation) -> Expectation {
        let mount = min(operation.mount, seen.count - 1)
        let expectation: Expectation
        if case .cutOff(let on) = operation {
            cutOff = on
            return Expectation(.ok)
        }
        if case .unlock(let holder) = operation {
            if directoryHolders.remove(holder) != nil { return Expectation(.ok) }
            guard locks.removeValue(forKey: holder) != nil else { return Expectation(.ok) }
            return Expectation(cutOff && !configuration.locksAreKernelLocal ? .error(EIO) : .ok)
        }
        if case .lock(_, let holder, _) = operation {
            locks[holder] = nil
            directoryHolders.remove(holder)
        }
        if cutOff {
            return Expectation(.error(EIO))
        }
        switch step(operation, mount: mount) {
        case .failure(let e): expectation = Expectation(.error(e.code))
        case .success(let e): expectation = e
        }
        if operation.changes { recordVersions(through: mount) }
        return expectation
    }

    /// Appends each node's attributes when they changed; the mount that made the change has seen them.
    mutating func recordVersions(through mount: Int?) {
        for id in nodes.keys {
            guard let current = attributes(id) else { continue }
            if versions[id]?.last != current {
                versions[id, default: []].append(current)
                if let mount { seen[mount][id] = versions[id, default: []].count - 1 }
            }
        }
    }

    mutating func revalidate(_ id: Int, mount: Int) {
        if configuration.service == .fsxWindows, configuration.tolerated.contains(.spellingsRevalidateSeparately) { return }
        if let count = versions[id]?.count { seen[mount][id] = count - 1 }
    }

    /// An existing name's node, for calls that open it (following a final link).
    func existing(_ path: String, follow: Bool) -> Result<Int, Errno> {
        resolve(path, followLast: follow).flatMap { r in r.found.map { .success($0.id) } ?? .failure(Errno(ENOENT)) }
    }

    mutating func newNode(_ node: Node, in parent: Int, named name: String) -> Int {
        let id = nextID
        nextID += 1
        nodes[id] = node
        nodes[parent]?.entries[name] = id
        return id
    }

    /// Drops one name of `id`; a directory or a last link goes.
    mutating func dropName(_ spelling: String, in parent: Int) {
        guard let id = nodes[parent]?.entries.removeValue(forKey: spelling) else { return }
        if nodes[id]?.kind == .directory {
            nodes[id]?.removed = true
        } else {
            nodes[id]?.links -= 1
            if nodes[id]?.links == 0 { nodes[id]?.removed = true }
        }
    }

    /// The checks every new name meets after the kernel's: EROFS, Windows refusals, a full volume.
    func newNameRefusal(_ name: String, newInode: Bool) -> Int32? {
        if configuration.readOnly { return EROFS }
        if configuration.service == .fsxWindows, Self.windowsRefuses(name) { return EINVAL }
        if newInode, isFull { return ENOSPC }
        return nil
    }

    func isAncestor(_ ancestor: Int, of id: Int) -> Bool {
        // Parents are not stored; walk down from the ancestor.
        guard let node = nodes[ancestor], node.kind == .directory else { return false }
        for child in node.entries.values {
            if child == id || isAncestor(child, of: id) { return true }
        }
        return false
    }

    mutating func step(_ operation: FileOperation, mount: Int) -> Result<Expectation, Errno> {
        switch operation {
        case .create(let path, let mode, _):
            let r = resolve(path, followLast: mode != .exclusive)
            switch r {
            case .failure(let e): return .failure(e)
            case .success(let r):
                if let found = r.found {
                    if mode == .exclusive { return .failure(Errno(EEXIST)) }
                    guard let node = nodes[found.id] else { return .failure(Errno(ENOENT)) }
                    if node.kind == .directory { return .failure(Errno(EISDIR)) }
                    if configuration.readOnly { return .failure(Errno(EROFS)) }
                    if mode == .truncate {
                        nodes[found.id]?.data = []
                        nodes[found.id]?.blocks = []
                    }
                    revalidate(found.id, mount: mount)
                    return .success(Expectation(.ok))
                }
                if let refusal = newNameRefusal(r.name, newInode: true) { return .failure(Errno(refusal)) }
                let id = newNode(Node(kind: .regular, permissions: 0o644), in: r.parent, named: r.name)
                revalidate(id, mount: mount)
                return .success(Expectation(.ok))
            }

        case .write(let path, let offset, let length, _):
            let id: Int
            switch existing(path, follow: true) {
            case .failure(let e): return .failure(e)
            case .success(let found): id = found
            }
            guard var node = nodes[id] else { return .failure(Errno(ENOENT)) }
            if node.kind == .directory { return .failure(Errno(EISDIR)) }
            if configuration.readOnly { return .failure(Errno(EROFS)) }
            var written = length
            if let free = freeBlocks {
                var needed = 0
                for block in Self.blockRange(offset: offset, length: length) where !node.blocks.contains(block) {
                    if needed == free {
                        written = max(block * Self.blockSize - offset, 0)
                        break
                    }
                    needed += 1
                }
                if written == 0 { return .failure(Errno(ENOSPC)) }
            }
            if node.data.count < offset + written {
                node.data += [UInt8](repeating: 0, count: offset + written - node.data.count)
            }
            for position in offset..<(offset + written) {
                node.data[position] = patternByte(position: position, length: length)
            }
            node.blocks.formUnion(Self.blockRange(offset: offset, length: written))
            nodes[id] = node
            revalidate(id, mount: mount)
            return .success(Expectation(.count(written)))

        case .read(let path, _):
            let id: Int
            switch existing(path, follow: true) {
            case .failure(let e): return .failure(e)
            case .success(let found): id = found
            }
            guard let node = nodes[id] else { return .failure(Errno(ENOENT)) }
            if node.kind == .directory { return .failure(Errno(EISDIR)) }
            revalidate(id, mount: mount)
            return .success(Expectation(.data(length: node.data.count, checksum: fnv1a(node.data))))

        case .truncate(let path, let length, _):
            let id: Int
            switch existing(path, follow: true) {
            case .failure(let e): return .failure(e)
            case .success(let found): id = found
            }
            guard var node = nodes[id] else { return .failure(Errno(ENOENT)) }
            if node.kind == .directory { return .failure(Errno(EISDIR)) }
            if configuration.readOnly { return .failure(Errno(EROFS)) }
            if length < node.data.count {
                node.data.removeLast(node.data.count - length)
                let keep = (length + Self.blockSize - 1) / Self.blockSize
                node.blocks = node.blocks.filter { $0 < keep }
            } else {
                node.data += [UInt8](repeating: 0, count: length - node.data.count)
            }
            nodes[id] = node
            revalidate(id, mount: mount)
            return .success(Expectation(.ok))

        case .fallocate(let path, let offset, let length, _):
            let id: Int
            switch existing(path, follow: true) {
            case .failure(let e): return .failure(e)
            case .success(let found): id = found
            }
            guard var node = nodes[id] else { return .failure(Errno(ENOENT)) }
            if node.kind == .directory { return .failure(Errno(EISDIR)) }
            if configuration.readOnly { return .failure(Errno(EROFS)) }
            let range = Self.blockRange(offset: offset, length: length)
            let needed = range.filter { !node.blocks.contains($0) }.count
            if let free = freeBlocks, needed > free { return .failure(Errno(ENOSPC)) }
            node.blocks.formUnion(range)
            if node.data.count < offset + length {
                node.data += [UInt8](repeating: 0, count: offset + length - node.data.count)
            }
            nodes[id] = node
            revalidate(id, mount: mount)
            return .success(Expectation(.ok))

        case .lstat(let path, _):
            let id: Int
            switch existing(path, follow: false) {
            case .failure(let e): return .failure(e)
            case .success(let found): id = found
            }
            guard let current = attributes(id) else { return .failure(Errno(ENOENT)) }
            if configuration.staleAttributesAcrossMounts, let history = versions[id], case let index = seen[mount][id] ?? 0,
               index < history.count - 1 {
                var outcomes = [Outcome.attributes(current)]
                for old in history[index...].reversed() where old != current { outcomes.append(.attributes(old)) }
                return .success(Expectation(oneOf: outcomes, note: "attributes changed on another mount may be up to 1 s old"))
            }
            return .success(Expectation(.attributes(current)))

        case .unlink(let path, _):
            switch resolve(path, followLast: false) {
            case .failure(let e): return .failure(e)
            case .success(let r):
                if configuration.readOnly { return .failure(Errno(EROFS)) }
                guard let found = r.found, let node = nodes[found.id] else { return .failure(Errno(ENOENT)) }
                if node.kind == .directory { return .failure(Errno(EISDIR)) }
                dropName(found.spelling, in: r.parent)
                return .success(Expectation(.ok))
            }

        case .mkdir(let path, _), .symlink(_, let path, _):
            switch resolve(path, followLast: false) {
            case .failure(let e): return .failure(e)
            case .success(let r):
                if r.found != nil { return .failure(Errno(EEXIST)) }
                if let refusal = newNameRefusal(r.name, newInode: true) { return .failure(Errno(refusal)) }
                if case .symlink(let target, _, _) = operation {
                    var node = Node(kind: .symlink, permissions: 0o777)
                    node.target = target
                    _ = newNode(node, in: r.parent, named: r.name)
                } else {
                    _ = newNode(Node(kind: .directory, permissions: 0o755), in: r.parent, named: r.name)
                }
                return .success(Expectation(.ok))
            }

        case .rmdir(let path, _):
            switch resolve(path, followLast: false) {
            case .failure(let e): return .failure(e)
            case .success(let r):
                if configuration.readOnly { return .failure(Errno(EROFS)) }
                guard let found = r.found, let node = nodes[found.id] else { return .failure(Errno(ENOENT)) }
                if node.kind != .directory { return .failure(Errno(ENOTDIR)) }
                if !node.entries.isEmpty { return .failure(Errno(ENOTEMPTY)) }
                dropName(found.spelling, in: r.parent)
                return .success(Expectation(.ok))
            }

        case .rename(let from, let to, let noReplace, _):
            let source: Resolved, destination: Resolved
            switch resolve(from, followLast: false) {
            case .failure(let e): return .failure(e)
            case .success(let r): source = r
            }
            switch resolve(to, followLast: false) {
            case .failure(let e): return .failure(e)
            case .success(let r): destination = r
            }
            if configuration.readOnly { return .failure(Errno(EROFS)) }
            guard let moving = source.found, let movingNode = nodes[moving.id] else { return .failure(Errno(ENOENT)) }
            let sameEntry = destination.found.map { $0.id == moving.id && destination.parent == source.parent && $0.spelling == moving.spelling } ?? false
            if noReplace, destination.found != nil { return .failure(Errno(EEXIST)) }
            if movingNode.kind == .directory, destination.parent == moving.id || isAncestor(moving.id, of: destination.parent) {
                return .failure(Errno(EINVAL))
            }
            if let replaced = destination.found, isAncestor(replaced.id, of: source.parent) || replaced.id == source.parent {
                return .failure(Errno(ENOTEMPTY))
            }
            if sameEntry {
                // The same entry under another spelling (fsx-windows): only the case changes. Unless the
                // two names are the same string: then the kernel sees one dentry and does nothing.
                let sourceName = from.split(separator: "/").last.map(String.init) ?? from
                if moving.spelling != destination.name, sourceName != destination.name {
                    if let refusal = newNameRefusal(destination.name, newInode: false) { return .failure(Errno(refusal)) }
                    nodes[source.parent]?.entries[moving.spelling] = nil
                    nodes[source.parent]?.entries[destination.name] = moving.id
                }
                return .success(Expectation(.ok))
            }
            if let replaced = destination.found {
                if replaced.id == moving.id { return .success(Expectation(.ok)) }  // two links of one file
                let replacedKind = nodes[replaced.id]?.kind
                if movingNode.kind == .directory, replacedKind != .directory { return .failure(Errno(ENOTDIR)) }
                if movingNode.kind != .directory, replacedKind == .directory { return .failure(Errno(EISDIR)) }
                if let refusal = newNameRefusal(destination.name, newInode: false) { return .failure(Errno(refusal)) }
                if replacedKind == .directory, nodes[replaced.id]?.entries.isEmpty == false { return .failure(Errno(ENOTEMPTY)) }
                dropName(replaced.spelling, in: destination.parent)
            } else if let refusal = newNameRefusal(destination.name, newInode: false) {
                return .failure(Errno(refusal))
            }
            nodes[source.parent]?.entries[moving.spelling] = nil
            nodes[destination.parent]?.entries[destination.name] = moving.id
            return .success(Expectation(.ok))

        case .link(let existingPath, let newPath, _):
            let id: Int
            switch existing(existingPath, follow: false) {
            case .failure(let e): return .failure(e)
            case .success(let found): id = found
            }
            switch resolve(newPath, followLast: false) {
            case .failure(let e): return .failure(e)
            case .success(let r):
                if r.found != nil { return .failure(Errno(EEXIST)) }
                if configuration.readOnly { return .failure(Errno(EROFS)) }
                if nodes[id]?.kind == .directory { return .failure(Errno(EPERM)) }
                if let refusal = newNameRefusal(r.name, newInode: false) { return .failure(Errno(refusal)) }
                nodes[r.parent]?.entries[r.name] = id
                nodes[id]?.links += 1
                return .success(Expectation(.ok))
            }

        case .readlink(let path, _):
            switch existing(path, follow: false) {
            case .failure(let e): return .failure(e)
            case .success(let id):
                guard let node = nodes[id], node.kind == .symlink else { return .failure(Errno(EINVAL)) }
                return .success(Expectation(.target(node.target)))
            }

        case .readdir(let path, _):
            switch existing(path, follow: true) {
            case .failure(let e): return .failure(e)
            case .success(let id):
                guard let node = nodes[id], node.kind == .directory else { return .failure(Errno(ENOTDIR)) }
                return .success(Expectation(.listing(node.entries.keys.sorted())))
            }

        case .chmod(let path, let mode, _):
            switch existing(path, follow: true) {
            case .failure(let e): return .failure(e)
            case .success(let id):
                if configuration.readOnly { return .failure(Errno(EROFS)) }
                nodes[id]?.permissions = mode
                return .success(Expectation(.ok))
            }

        case .lock(let path, let holder, _):
            switch existing(path, follow: true) {
            case .failure(let e): return .failure(e)
            case .success(let id):
                if configuration.tolerated.contains(.directoryFlockIsLocal), !configuration.locksAreKernelLocal,
                   nodes[id]?.kind == .directory {
                    directoryHolders.insert(holder)
                    return .success(Expectation(oneOf: [.ok, .error(EWOULDBLOCK)], note: "tolerated: directory flock is local"))
                }
                if locks.contains(where: { $0.key != holder && $0.value == id }) { return .failure(Errno(EWOULDBLOCK)) }
                locks[holder] = id
                revalidate(id, mount: mount)
                return .success(Expectation(.ok))
            }

        case .fsync(let path, _):
            switch existing(path, follow: true) {
            case .failure(let e): return .failure(e)
            case .success: return .success(Expectation(.ok))
            }

        case .statfs:
            guard configuration.capacityBytes != nil else { return .success(.anything) }
            return .success(Expectation(.used(usedBlocks * Self.blockSize)))

        case .unlock, .cutOff:
            return .success(Expectation(.ok))
        }
    }
}
