import Foundation
import Synchronization
import Testing
@testable import EmulatorCore

/// The two backing stores every semantics test runs on.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case directory, memory
    var testDescription: String { rawValue }
}

/// An outage switch the tests flip (`berth az fail` / `recover` in small).
final class TestReachability: Reachability {
    let up = Atomic<Bool>(true)
    var isReachable: Bool { up.load(ordering: .relaxed) }
}

/// What a test sets up: which rules, which capacity.
struct VolumeSetup {
    var readOnly = false
    var windowsNames = false
    var capacityBytes: UInt64?
    var extendedAttributes = true
    var cachePolicy: CachePolicy = .exclusive
}

/// A `VolumeSemantics` over either store, driven by paths (each component looked up in turn, never
/// following a link) and integer handles, so that one test body checks both stores.
protocol TestVolume: AnyObject {
    var kind: StoreKind { get }
    var reachability: TestReachability { get }
    var usage: VolumeUsage? { get }
    func mkdir(_ path: String, mode: mode_t) throws(Errno)
    func mknod(_ path: String) throws(Errno)
    func symlink(_ target: String, _ path: String) throws(Errno)
    func link(_ existing: String, _ path: String) throws(Errno)
    func unlink(_ path: String) throws(Errno)
    func rmdir(_ path: String) throws(Errno)
    func rename(_ from: String, _ to: String, flags: RenameFlags) throws(Errno)
    func readlink(_ path: String) throws(Errno) -> String
    func lstat(_ path: String) throws(Errno) -> NodeAttributes
    /// The real spelling of the last component the path reaches.
    func spelling(_ path: String) throws(Errno) -> String
    func entries(_ path: String) throws(Errno) -> [String]
    func create(_ path: String, flags: Int32, mode: mode_t) throws(Errno) -> Int
    func open(_ path: String, flags: Int32) throws(Errno) -> Int
    func write(_ handle: Int, at offset: UInt64, _ bytes: [UInt8]) throws(Errno) -> Int
    func read(_ handle: Int, at offset: UInt64, count: Int) throws(Errno) -> [UInt8]
    /// Opens `path` keeping its node, for `ftruncate`.
    func openNode(_ path: String, flags: Int32) throws(Errno) -> Int
    func ftruncate(_ handle: Int, _ size: UInt64) throws(Errno)
    func truncate(_ path: String, _ size: UInt64) throws(Errno)
    func fallocate(_ handle: Int, mode: Int32, _ offset: UInt64, _ length: UInt64) throws(Errno)
    func fsync(_ handle: Int) throws(Errno)
    func close(_ handle: Int)
    func chmod(_ path: String, _ mode: mode_t) throws(Errno)
    /// setattr with a size (truncate(2) as the FUSE layer sends it).
    func setSize(_ path: String, _ size: UInt64) throws(Errno)
    func setxattr(_ path: String, _ name: String, _ value: String) throws(Errno)
    func getxattr(_ path: String, _ name: String) throws(Errno) -> String
    func listxattr(_ path: String) throws(Errno) -> [String]
    func removexattr(_ path: String, _ name: String) throws(Errno)
    func statfs() throws(Errno) -> VolumeSpace
    func remove()
}

extension TestVolume {
    func mkdir(_ path: String) throws(Errno) { try mkdir(path, mode: 0o755) }
    func rename(_ from: String, _ to: String) throws(Errno) { try rename(from, to, flags: []) }
    func create(_ path: String, flags: Int32 = O_RDWR) throws(Errno) -> Int { try create(path, flags: flags, mode: 0o644) }

    /// Creates `path` holding `bytes`.
    @discardableResult
    func put(_ path: String, _ bytes: [UInt8]) throws(Errno) -> Int {
        let handle = try create(path, flags: O_RDWR | O_TRUNC)
        defer { close(handle) }
        return bytes.isEmpty ? 0 : try write(handle, at: 0, bytes)
    }

    /// The whole content of `path`.
    func contents(_ path: String) throws(Errno) -> [UInt8] {
        let handle = try open(path, flags: O_RDONLY)
        defer { close(handle) }
        let size = try lstat(path).size
        return try read(handle, at: 0, count: Int(size))
    }

    /// The errno `body` answers, or nil when it succeeds.
    func errno<T>(_ body: () throws -> T) -> Int32? {
        do { _ = try body(); return nil } catch let error as Errno { return error.code } catch { return -1 }
    }

    /// Allocated bytes summed over every regular file, each inode once (what `du` counts).
    func du(_ path: String = "/") throws(Errno) -> UInt64 {
        var seen = Set<InodeKey>()
        func walk(_ directory: String) throws(Errno) -> UInt64 {
            var total: UInt64 = 0
            for name in try entries(directory) {
                let child = directory == "/" ? "/" + name : directory + "/" + name
                let attributes = try lstat(child)
                switch attributes.type {
                case .directory: total += try walk(child)
                case .regular: if seen.insert(attributes.key).inserted { total += attributes.allocated }
                default: break
                }
            }
            return total
        }
        return try walk(path)
    }
}

final class PathVolume<Store: BackingStore>: TestVolume {
    let kind: StoreKind
    let semantics: VolumeSemantics<Store>
    let reachability: TestReachability
    let usage: VolumeUsage?
    let scratch: String
    private var handles: [Int: Store.Handle] = [:]
    private var nextHandle = 1

    init(kind: StoreKind, semantics: VolumeSemantics<Store>, reachability: TestReachability, usage: VolumeUsage?, scratch: String) {
        self.kind = kind
        self.semantics = semantics
        self.reachability = reachability
        self.usage = usage
        self.scratch = scratch
    }

    var store: Store { semantics.store }

    static func components(_ path: String) -> [[UInt8]] {
        path.split(separator: "/").map { Array($0.utf8) }
    }

    /// The directory holding the last component, and that component. Intermediate names are looked up
    /// through the semantics (any spelling), never following a link (ENOTDIR at one, as O_NOFOLLOW walks).
    func parent(_ path: String) throws(Errno) -> (Store.Node, [UInt8]) {
        var parts = Self.components(path)
        guard let last = parts.popLast() else { throw Errno(EINVAL) }
        // Each directory's node is let go once the next is reached (the store holds a descriptor per
        // node); the caller lets go of the one returned.
        var node = store.root
        for part in parts {
            let next: Store.Node
            do {
                next = try semantics.lookup(part, in: node).node
            } catch {
                store.release(node)
                throw error
            }
            store.release(node)
            if (try? store.attributes(of: next))?.type != .directory {
                store.release(next)
                throw Errno(ENOTDIR)
            }
            node = next
        }
        return (node, last)
    }

    func node(_ path: String) throws(Errno) -> Store.Node {
        if Self.components(path).isEmpty { return store.root }
        let (directory, name) = try parent(path)
        defer { store.release(directory) }
        return try semantics.lookup(name, in: directory).node
    }

    func handle(_ id: Int) throws(Errno) -> Store.Handle {
        guard let handle = handles[id] else { throw Errno(EBADF) }
        return handle
    }

    func remember(_ handle: Store.Handle) -> Int {
        defer { nextHandle += 1 }
        handles[nextHandle] = handle
        return nextHandle
    }

    func mkdir(_ path: String, mode: mode_t) throws(Errno) {
        let (directory, name) = try parent(path)
        defer { store.release(directory) }
        try semantics.change { () throws(Errno) in try semantics.makeDirectory(name, in: directory, mode: mode) }
    }

    func mknod(_ path: String) throws(Errno) {
        let (directory, name) = try parent(path)
        defer { store.release(directory) }
        try semantics.makeNode(name, in: directory, mode: S_IFIFO | 0o644, device: 0)
    }

    func symlink(_ target: String, _ path: String) throws(Errno) {
        let (directory, name) = try parent(path)
        defer { store.release(directory) }
        try semantics.makeSymbolicLink(name, in: directory, target: Array(target.utf8))
    }

    func link(_ existing: String, _ path: String) throws(Errno) {
        let source = try node(existing)
        defer { store.release(source) }
        let (directory, name) = try parent(path)
        defer { store.release(directory) }
        try semantics.link(source, as: name, in: directory)
    }

    func unlink(_ path: String) throws(Errno) {
        let (directory, name) = try parent(path)
        defer { store.release(directory) }
        try semantics.unlink(name, in: directory)
    }

    func rmdir(_ path: String) throws(Errno) {
        let (directory, name) = try parent(path)
        defer { store.release(directory) }
        try semantics.removeDirectory(name, in: directory)
    }

    func rename(_ from: String, _ to: String, flags: RenameFlags) throws(Errno) {
        let (source, name) = try parent(from)
        defer { store.release(source) }
        let (target, newName) = try parent(to)
        defer { store.release(target) }
        try semantics.rename(name, in: source, to: newName, in: target, flags: flags)
    }

    func readlink(_ path: String) throws(Errno) -> String {
        let node = try node(path)
        defer { store.release(node) }
        return String(decoding: try semantics.readLink(node), as: UTF8.self)
    }

    func lstat(_ path: String) throws(Errno) -> NodeAttributes {
        let node = try node(path)
        defer { store.release(node) }
        return try semantics.attributes(of: node)
    }

    func spelling(_ path: String) throws(Errno) -> String {
        let (directory, name) = try parent(path)
        defer { store.release(directory) }
        return String(decoding: try semantics.lookup(name, in: directory).spelling, as: UTF8.self)
    }

    func entries(_ path: String) throws(Errno) -> [String] {
        let node = try node(path)
        defer { store.release(node) }
        return try semantics.entries(of: node).map { String(decoding: $0, as: UTF8.self) }.sorted()
    }

    func create(_ path: String, flags: Int32, mode: mode_t) throws(Errno) -> Int {
        let (directory, name) = try parent(path)
        defer { store.release(directory) }
        return remember(try semantics.create(name, in: directory, flags: flags, mode: mode).handle)
    }

    func open(_ path: String, flags: Int32) throws(Errno) -> Int {
        let node = try node(path)
        defer { store.release(node) }
        return remember(try semantics.open(node, flags: flags))
    }

    func write(_ handle: Int, at offset: UInt64, _ bytes: [UInt8]) throws(Errno) -> Int {
        try semantics.write(try self.handle(handle), offset: offset, bytes: bytes)
    }

    func read(_ handle: Int, at offset: UInt64, count: Int) throws(Errno) -> [UInt8] {
        try semantics.read(try self.handle(handle), offset: offset, count: count)
    }

    func ftruncate(_ handle: Int, _ size: UInt64) throws(Errno) {
        let open = try self.handle(handle)
        // The node of an open file, as the FUSE layer has it: looked up by the kernel beforehand.
        guard let node = nodesByHandle[handle] else { throw Errno(EBADF) }
        try semantics.truncate(node, handle: open, to: size)
    }

    /// Nodes of handles opened by `openNode` (for ftruncate).
    private var nodesByHandle: [Int: Store.Node] = [:]

    func openNode(_ path: String, flags: Int32) throws(Errno) -> Int {
        let node = try node(path)
        let id = remember(try semantics.open(node, flags: flags))
        nodesByHandle[id] = node
        return id
    }

    func truncate(_ path: String, _ size: UInt64) throws(Errno) {
        let node = try node(path)
        defer { store.release(node) }
        try semantics.truncate(node, to: size)
    }

    func fallocate(_ handle: Int, mode: Int32, _ offset: UInt64, _ length: UInt64) throws(Errno) {
        try semantics.allocate(try self.handle(handle), mode: mode, offset: offset, length: length)
    }

    func fsync(_ handle: Int) throws(Errno) {
        try semantics.sync(try self.handle(handle))
    }

    func close(_ handle: Int) {
        if let open = handles.removeValue(forKey: handle) { store.close(open) }
    }

    func chmod(_ path: String, _ mode: mode_t) throws(Errno) {
        let node = try node(path)
        defer { store.release(node) }
        try semantics.setAttributes(node, .init(mode: mode))
    }

    func setSize(_ path: String, _ size: UInt64) throws(Errno) {
        let node = try node(path)
        defer { store.release(node) }
        try semantics.setAttributes(node, .init(size: size, modification: .now))
    }

    func setxattr(_ path: String, _ name: String, _ value: String) throws(Errno) {
        try semantics.setExtendedAttribute(Array(name.utf8), of: try node(path), value: Array(value.utf8))
    }

    func getxattr(_ path: String, _ name: String) throws(Errno) -> String {
        String(decoding: try semantics.extendedAttribute(Array(name.utf8), of: try node(path)), as: UTF8.self)
    }

    func listxattr(_ path: String) throws(Errno) -> [String] {
        try semantics.extendedAttributeNames(of: try node(path)).map { String(decoding: $0, as: UTF8.self) }
    }

    func removexattr(_ path: String, _ name: String) throws(Errno) {
        try semantics.removeExtendedAttribute(Array(name.utf8), of: try node(path))
    }

    func statfs() throws(Errno) -> VolumeSpace {
        try semantics.space()
    }

    func remove() {
        for handle in handles.keys { close(handle) }
        try? FileManager.default.removeItem(atPath: scratch)
    }
}

/// A fresh volume on `kind` with `setup`'s rules; `remove()` it at the end.
func makeVolume(_ kind: StoreKind, _ setup: VolumeSetup = VolumeSetup()) throws -> any TestVolume {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("berth-semantics-\(UUID().uuidString)").path
    let backing = scratch + "/backing", state = scratch + "/state"
    try FileManager.default.createDirectory(atPath: backing, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
    let usage = try setup.capacityBytes.map { capacity throws in
        try VolumeUsage(sharedStateDirectory: state, backingDirectory: backing, capacityBytes: capacity)
    }
    let names: any NameRules = setup.windowsNames ? WindowsNameRules() : POSIXNameRules()
    let reachability = TestReachability()
    let rules = VolumeRules(readOnly: setup.readOnly, nameRules: names, reachability: reachability, usage: usage,
                            cachePolicy: setup.cachePolicy, extendedAttributes: setup.extendedAttributes)
    switch kind {
    case .directory:
        let folding = setup.windowsNames ? try CaseFoldedDirectories(sharedStateDirectory: state, rules: names) : nil
        let store = try DirectoryStore(path: backing, folding: folding)
        return PathVolume(kind: kind, semantics: VolumeSemantics(store: store, rules: rules), reachability: reachability,
                          usage: usage, scratch: scratch)
    case .memory:
        return PathVolume(kind: kind, semantics: VolumeSemantics(store: MemoryStore(), rules: rules),
                          reachability: reachability, usage: usage, scratch: scratch)
    }
}

/// A read-only volume whose contents `prepare` made through a writable one on the same store.
func makeReadOnlyVolume(_ kind: StoreKind, _ setup: VolumeSetup = VolumeSetup(),
                        _ prepare: (any TestVolume) throws -> Void) throws -> any TestVolume {
    let writable = try makeVolume(kind, setup)
    try prepare(writable)
    guard let volume = writable as? PathVolume<DirectoryStore> else {
        guard let memory = writable as? PathVolume<MemoryStore> else { return writable }
        var rules = memory.semantics.rules
        rules.readOnly = true
        return PathVolume(kind: kind, semantics: VolumeSemantics(store: memory.store, rules: rules),
                          reachability: memory.reachability, usage: memory.usage, scratch: memory.scratch)
    }
    var rules = volume.semantics.rules
    rules.readOnly = true
    return PathVolume(kind: kind, semantics: VolumeSemantics(store: volume.store, rules: rules),
                      reachability: volume.reachability, usage: volume.usage, scratch: volume.scratch)
}

let bytes4K = [UInt8](repeating: 0x61, count: 4096)
