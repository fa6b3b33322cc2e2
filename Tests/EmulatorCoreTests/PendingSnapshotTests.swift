import CBerthShims
import Foundation
import Glibc
import Synchronization
import Testing
@testable import EmulatorCore

/// Snapshots that hold writers back only while the names are captured: while the snapshot is pending,
/// changes made through the semantics core (as a mount server makes them, with `SnapshotPreservation`
/// in its rules) never reach the snapshot, which holds exactly the point in time. Reached without
/// mounting; `SnapshotMountTests` does the same through real mounts.
@Suite(.serialized) struct PendingSnapshotTests {
    static let megabyte = 1 << 20

    /// A tree with something of every kind a snapshot keeps.
    static func populate(_ data: String) throws {
        let pattern = Data((0..<(3 * megabyte)).map { UInt8(truncatingIfNeeded: $0 % 251) })
        try pattern.write(to: URL(fileURLWithPath: data + "/big"))
        try Data("small-original".utf8).write(to: URL(fileURLWithPath: data + "/small"))
        try Data("to be removed".utf8).write(to: URL(fileURLWithPath: data + "/gone"))
        try Data("target-original".utf8).write(to: URL(fileURLWithPath: data + "/target"))
        try Data("replacement".utf8).write(to: URL(fileURLWithPath: data + "/replacement"))
        try Data("mode".utf8).write(to: URL(fileURLWithPath: data + "/mode"))
        try Data("truncate me with O_TRUNC".utf8).write(to: URL(fileURLWithPath: data + "/trunc"))
        try FileManager.default.createDirectory(atPath: data + "/d", withIntermediateDirectories: true)
        try Data("linked".utf8).write(to: URL(fileURLWithPath: data + "/linked"))
        try Data("nobody changes this".utf8).write(to: URL(fileURLWithPath: data + "/d/still"))
        #expect(link(data + "/linked", data + "/d/alias") == 0)
        #expect(chmod(data + "/mode", 0o4751) == 0)
        #expect(chmod(data + "/d", 0o750) == 0)
        let sparse = open(data + "/sparse", O_WRONLY | O_CREAT, 0o644)
        #expect(sparse >= 0 && pwrite(sparse, "x", 1, off_t(4 * megabyte)) == 1)
        close(sparse)
        #expect(symlink("big", data + "/sym") == 0)
        #expect(mkfifo(data + "/fifo", 0o620) == 0)
        #expect(berth_setxattr(data + "/small", "user.k", "v1", 2, 0) == 0)
    }

    /// Every change a mount can make to what the point in time saw, through the semantics core.
    static func changeEverything(_ data: String, shared: String) throws {
        let preservation = try SnapshotPreservation(sharedStateDirectory: shared)
        let store = try DirectoryStore(path: data)
        let semantics = VolumeSemantics(store: store, rules: VolumeRules(preservation: preservation))
        let root = store.root
        func node(_ name: String, in directory: Int32? = nil) throws -> Int32 {
            try semantics.lookup(Array(name.utf8), in: directory ?? root).node
        }
        let big = try semantics.open(try node("big"), flags: O_WRONLY)
        _ = try semantics.write(big, offset: UInt64(megabyte + megabyte / 2), bytes: [UInt8](repeating: 0xFF, count: 4096))
        _ = try semantics.write(big, offset: 0, bytes: [UInt8](repeating: 0xEE, count: 10))
        try semantics.allocate(big, mode: AllocateMode.punchHole | AllocateMode.keepSize,
                               offset: UInt64(2 * megabyte + 4096), length: 65536)
        store.close(big)
        try semantics.truncate(try node("small"), to: 2)
        try semantics.setExtendedAttribute(Array("user.k".utf8), of: try node("small"), value: Array("v2".utf8))
        try semantics.unlink(Array("gone".utf8), in: root)
        try semantics.rename(Array("replacement".utf8), in: root, to: Array("target".utf8), in: root)
        var change = VolumeSemantics<DirectoryStore>.AttributeChange()
        change.mode = 0o600
        try semantics.setAttributes(try node("mode"), change)
        store.close(try semantics.open(try node("trunc"), flags: O_WRONLY | O_TRUNC))
        let alias = try semantics.open(try node("alias", in: try node("d")), flags: O_WRONLY)
        _ = try semantics.write(alias, offset: 0, bytes: Array("LINKED".utf8))
        store.close(alias)
        let sparse = try semantics.open(try node("sparse"), flags: O_WRONLY)
        _ = try semantics.write(sparse, offset: 4096, bytes: [1, 2, 3])
        store.close(sparse)
    }

    @Test func writersDuringAPendingSnapshotNeverChangeItAndARestoreIsThePointInTime() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a", sizeGiB: 1)
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        try Self.populate(data)
        let reference = sandbox.root + "/reference"
        _ = try TreeCopier(allowReflink: false).copyTree(from: data, to: reference)

        var progressCalls = 0
        var lastProgress: (UInt64, UInt64) = (0, 0)
        let taken = try store.takeSnapshot(of: volume.id, allowReflink: false, progress: { done, total in
            progressCalls += 1
            lastProgress = (done, total)
        }, whilePending: {
            do { try Self.changeEverything(data, shared: sandbox.stateDirectory.sharedDirectory(volume.id)) } catch {
                Issue.record("a change during the pending snapshot failed: \(error)")
            }
        })
        #expect(taken.mode == .copyBeforeWrite)
        #expect(taken.snapshot.state == .completed)
        #expect(progressCalls > 1 && lastProgress.0 == lastProgress.1 && lastProgress.1 >= UInt64(7 * Self.megabyte))
        // The changes happened on the volume…
        #expect(try String(contentsOfFile: data + "/small", encoding: .utf8) == "sm")
        #expect(!FileManager.default.fileExists(atPath: data + "/gone"))
        #expect(try String(contentsOfFile: data + "/target", encoding: .utf8) == "replacement")
        // …and never in the snapshot.
        let snapshotData = sandbox.stateDirectory.snapshotDirectory(taken.snapshot.id) + "/data"
        try expectSameTree(reference, snapshotData)
        let restored = try store.createVolume(type: .ebs, az: "us-east-1b", fromSnapshot: taken.snapshot.id)
        try expectSameTree(reference, sandbox.stateDirectory.dataDirectory(restored.id))
        // Nothing of the copy's scaffolding is left, in the snapshot or the shared state.
        let snapshotDirectory = sandbox.stateDirectory.snapshotDirectory(taken.snapshot.id)
        #expect(!FileManager.default.fileExists(atPath: snapshotDirectory + "/objects"))
        #expect(!FileManager.default.fileExists(atPath: snapshotDirectory + "/hold"))
        let shared = try FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory.sharedDirectory(volume.id))
        #expect(!shared.contains { $0.hasPrefix("pending.") && UInt64($0.dropFirst(8)) != nil })

        // The next snapshot is incremental over this one and holds the changes.
        let next = try store.takeSnapshot(of: volume.id, allowReflink: false)
        #expect(next.snapshot.incrementalFrom == taken.snapshot.id && next.copy.sharedFiles == 1, "d/still is shared")
        let nextData = sandbox.stateDirectory.snapshotDirectory(next.snapshot.id) + "/data"
        #expect(try String(contentsOfFile: nextData + "/small", encoding: .utf8) == "sm")
        // (A file shared with the previous snapshot has a link there too.)
        try expectSameTree(data, nextData, links: false)
    }

    /// A writer that keeps changing a large file while the copy runs (as a mount would): the snapshot
    /// still holds the point in time, byte for byte.
    @Test func aWriterRacingTheCopyNeverReachesTheSnapshot() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .efs, az: "us-east-1a")
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        let original = Data((0..<(24 * Self.megabyte)).map { UInt8(truncatingIfNeeded: ($0 / 4096) &* 7) })
        try original.write(to: URL(fileURLWithPath: data + "/db"))
        let shared = sandbox.stateDirectory.sharedDirectory(volume.id)
        let stop = Atomic<Bool>(false)
        let writes = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        var writers: [Thread] = []
        defer { stop.store(true, ordering: .releasing) }
        let taken = try store.takeSnapshot(of: volume.id, allowReflink: false, whilePending: {
            for seed in 0..<2 {  // two writers, as two mounts of one EFS file system
                let thread = Thread {
                    do {
                        let preservation = try SnapshotPreservation(sharedStateDirectory: shared)
                        let store = try DirectoryStore(path: data)
                        let semantics = VolumeSemantics(store: store, rules: VolumeRules(preservation: preservation))
                        let handle = try semantics.open(try semantics.lookup(Array("db".utf8), in: store.root).node, flags: O_WRONLY)
                        defer { store.close(handle) }
                        var generator = SystemRandomNumberGenerator()
                        var offset = UInt64(seed) * 4096
                        while !stop.load(ordering: .acquiring) {
                            offset = UInt64.random(in: 0..<UInt64(24 * Self.megabyte - 4096), using: &generator)
                            _ = try semantics.write(handle, offset: offset, bytes: [UInt8](repeating: 0xAB, count: 4096))
                            writes.wrappingAdd(1, ordering: .relaxed)
                        }
                    } catch {
                        failure.withLock { $0 = "\(error)" }
                    }
                }
                writers.append(thread)
                thread.start()
            }
            while writes.load(ordering: .relaxed) < 20 && failure.withLock({ $0 }) == nil { usleep(1000) }
        })
        stop.store(true, ordering: .releasing)
        usleep(100_000)
        #expect(failure.withLock { $0 } == nil)
        #expect(writes.load(ordering: .relaxed) >= 20)
        let copy = try Data(contentsOf: URL(fileURLWithPath: sandbox.stateDirectory.snapshotDirectory(taken.snapshot.id) + "/data/db"))
        // Compared as one Bool: a failed comparison of two 24 MiB values is diffed for minutes.
        let unchanged = copy == original
        #expect(unchanged, "the snapshot holds the file as it was when the snapshot was called")
        let written = try Data(contentsOf: URL(fileURLWithPath: data + "/db")) != original
        #expect(written, "the writers did write")
    }

    /// A table's chunk rule on its own: a chunk is copied once, before the change, and only chunks of
    /// the length the point in time saw.
    @Test func chunksAreCopiedOnceAndOnlyWithinThePointInTimesLength() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-table-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/objects", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/source"
        try Data(repeating: 7, count: 2 * Self.megabyte + 10).write(to: URL(fileURLWithPath: source))
        var info = stat()
        #expect(stat(source, &info) == 0)
        try PendingSnapshotTable.create(path: directory + "/table", device: UInt64(info.st_dev), objectsPath: directory,
                                        files: [(UInt64(info.st_ino), UInt64(info.st_size))])
        let table = try PendingSnapshotTable(path: directory + "/table")
        let objects = open(directory + "/objects", O_RDONLY | O_DIRECTORY)
        defer { close(objects) }
        guard let slot = table.slot(of: UInt64(info.st_ino)) else {
            Issue.record("the file is not in the table")
            return
        }
        #expect(table.slot(of: UInt64(info.st_ino) + 1) == nil)
        var opens = 0
        let reader = { () -> Int32 in
            opens += 1
            return open(source, O_RDONLY)
        }
        #expect(table.preserve(slot, from: UInt64(Self.megabyte) + 5, to: UInt64(Self.megabyte) + 6, objects: objects,
                               inode: UInt64(info.st_ino), source: reader) == 0)
        #expect(opens == 1 && table.isDone(slot, chunk: 1) && !table.isDone(slot, chunk: 0) && !table.isDone(slot, chunk: 2))
        #expect(table.preserve(slot, from: UInt64(Self.megabyte), to: UInt64(2 * Self.megabyte), objects: objects,
                               inode: UInt64(info.st_ino), source: reader) == 0)
        #expect(opens == 1, "a chunk already copied is not copied again")
        #expect(table.preserve(slot, from: UInt64(3 * Self.megabyte), to: UInt64.max, objects: objects,
                               inode: UInt64(info.st_ino), source: reader) == 0)
        #expect(opens == 1, "past the length the point in time saw there is nothing to keep")
        #expect(!table.allDone(slot))
        #expect(table.preserve(slot, from: 0, to: UInt64.max, objects: objects, inode: UInt64(info.st_ino), source: reader) == 0)
        #expect(table.allDone(slot) && table.isComplete(slot))
        var object = stat()
        #expect(fstatat(objects, String(info.st_ino), &object, 0) == 0 && object.st_size == 2 * Self.megabyte + 10)
    }
}

/// Asserts that two trees hold the same names, kinds, data, lengths, modes, owners, modification
/// times, link counts within the tree, symbolic link targets, `user.` extended attributes, and that
/// what is a hole in one is no more allocated in the other.
func expectSameTree(_ expected: String, _ actual: String, links: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let names = Set(try FileManager.default.subpathsOfDirectory(atPath: expected))
    let actualNames = Set(try FileManager.default.subpathsOfDirectory(atPath: actual))
    #expect(names == actualNames, "names differ: \(names.symmetricDifference(actualNames).sorted())", sourceLocation: sourceLocation)
    for name in names.sorted() where actualNames.contains(name) {
        var a = stat(), b = stat()
        #expect(lstat(expected + "/" + name, &a) == 0 && lstat(actual + "/" + name, &b) == 0, sourceLocation: sourceLocation)
        #expect(a.st_mode == b.st_mode, "\(name): mode \(String(a.st_mode, radix: 8)) became \(String(b.st_mode, radix: 8))", sourceLocation: sourceLocation)
        #expect(a.st_uid == b.st_uid && a.st_gid == b.st_gid, "\(name): owner", sourceLocation: sourceLocation)
        #expect(!links || a.st_nlink == b.st_nlink || a.st_mode & S_IFMT == S_IFDIR, "\(name): links \(a.st_nlink) became \(b.st_nlink)", sourceLocation: sourceLocation)
        switch a.st_mode & S_IFMT {
        case S_IFREG:
            #expect(a.st_size == b.st_size, "\(name): size", sourceLocation: sourceLocation)
            #expect(a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec, "\(name): mtime", sourceLocation: sourceLocation)
            #expect(b.st_blocks <= a.st_blocks + 8, "\(name): holes stay holes (\(a.st_blocks) blocks became \(b.st_blocks))", sourceLocation: sourceLocation)
            let left = try Data(contentsOf: URL(fileURLWithPath: expected + "/" + name))
            let right = try Data(contentsOf: URL(fileURLWithPath: actual + "/" + name))
            let same = left == right
            #expect(same, "\(name): data differs", sourceLocation: sourceLocation)
            var leftValue = [UInt8](repeating: 0, count: 64), rightValue = [UInt8](repeating: 0, count: 64)
            let l = berth_getxattr(expected + "/" + name, "user.k", &leftValue, 64)
            let r = berth_getxattr(actual + "/" + name, "user.k", &rightValue, 64)
            #expect(l == r && leftValue == rightValue, "\(name): user.k", sourceLocation: sourceLocation)
        case S_IFLNK:
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: expected + "/" + name))
                == (try? FileManager.default.destinationOfSymbolicLink(atPath: actual + "/" + name)), "\(name): target", sourceLocation: sourceLocation)
        default:
            break
        }
    }
}
