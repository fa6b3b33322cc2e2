import BerthTestSupport
import CBerthShims
import Foundation
import StorageCatalog
import Testing
@testable import EmulatorCore

@Suite struct TreeCopierTests {
    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("berth-copy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// What a file system keeps and a snapshot must too (issue: links, set-user-ID bits, device nodes, FIFOs,
    /// symlink owners and xattrs outside `user.` were lost; a file with two names was stored twice).
    @Test(.enabled(if: geteuid() == 0, "needs root to make devices and give files away"))
    func hardLinksSpecialFilesSetIDBitsSymlinkOwnersAndEveryXattrNamespaceAreKept() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = root + "/src"
        try FileManager.default.createDirectory(atPath: source + "/d", withIntermediateDirectories: true)
        // A file with data at its start and 1 MiB in, a hole between, and three names.
        let fd = open(source + "/a", O_WRONLY | O_CREAT, 0o644)
        #expect(pwrite(fd, [UInt8](repeating: 1, count: 4096), 4096, 0) == 4096)
        #expect(pwrite(fd, [UInt8](repeating: 2, count: 4096), 4096, 1 << 20) == 4096)
        close(fd)
        #expect(link(source + "/a", source + "/b") == 0)
        #expect(link(source + "/a", source + "/d/c") == 0)
        #expect(FileManager.default.createFile(atPath: source + "/s", contents: Data("#!/bin/sh\n".utf8)))
        #expect(chown(source + "/s", 1000, 1000) == 0 && chmod(source + "/s", 0o4755) == 0)
        #expect(mkdir(source + "/g", 0o755) == 0 && chmod(source + "/g", 0o2775) == 0)
        #expect(symlink("a", source + "/l") == 0 && lchown(source + "/l", 1000, 1001) == 0)
        #expect(mkfifo(source + "/p", 0o640) == 0)
        #expect(mknod(source + "/null", S_IFCHR | 0o666, Self.nullDevice) == 0 && chown(source + "/null", 1000, 1000) == 0)
        let trusted = berth_lsetxattr(source + "/a", "trusted.berth", "t", 1, 0) == 0

        let report = try TreeCopier(allowReflink: false).copyTree(from: source, to: root + "/dst")

        let dst = root + "/dst"
        var a = stat(), b = stat(), c = stat()
        #expect(lstat(dst + "/a", &a) == 0 && lstat(dst + "/b", &b) == 0 && lstat(dst + "/d/c", &c) == 0)
        #expect(a.st_ino == b.st_ino && a.st_ino == c.st_ino && a.st_nlink == 3, "one file with three names")
        #expect(report.hardLinks == 2)
        #expect(report.bytes == UInt64((1 << 20) + 4096) + 10, "each file's length counted once")
        var sourceA = stat()
        #expect(lstat(source + "/a", &sourceA) == 0)
        #expect(a.st_blocks <= sourceA.st_blocks, "the hole stays a hole: \(a.st_blocks) vs \(sourceA.st_blocks) blocks")
        #expect(readFileBytes(dst + "/b").prefix(4096) == [UInt8](repeating: 1, count: 4096)[...])

        var info = stat()
        #expect(lstat(dst + "/s", &info) == 0 && info.st_mode & 0o7777 == 0o4755 && info.st_uid == 1000, "set-user-ID kept")
        #expect(lstat(dst + "/g", &info) == 0 && info.st_mode & 0o7777 == 0o2775, "set-group-ID directory kept")
        #expect(lstat(dst + "/l", &info) == 0 && info.st_uid == 1000 && info.st_gid == 1001, "the link's own owner")
        #expect(lstat(dst + "/p", &info) == 0 && info.st_mode & S_IFMT == S_IFIFO && info.st_mode & 0o777 == 0o640)
        #expect(lstat(dst + "/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        #expect(info.st_rdev == Self.nullDevice && info.st_uid == 1000)
        #expect(report.specialFiles == 2)
        if trusted {
            var value = [UInt8](repeating: 0, count: 4)
            #expect(berth_lgetxattr(dst + "/a", "trusted.berth", &value, 4) == 1 && value[0] == UInt8(ascii: "t"))
        }
    }

    /// A snapshot's files also have names in other snapshots and clones: however many such files come
    /// first, a link inside the tree is still kept, at any depth.
    @Test func linksInsideTheTreeAreKeptBesideManyFilesLinkedFromOutside() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = root + "/src", outside = root + "/outside"
        try FileManager.default.createDirectory(atPath: source + "/0", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        for index in 0..<700 {
            #expect(FileManager.default.createFile(atPath: source + "/0/f\(index)", contents: Data("\(index)".utf8)))
            #expect(link(source + "/0/f\(index)", outside + "/f\(index)") == 0)
        }
        let deep = source + "/" + (1...40).map { "d\($0)" }.joined(separator: "/")
        try FileManager.default.createDirectory(atPath: deep, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: deep + "/x", contents: Data("x".utf8)))
        #expect(link(deep + "/x", source + "/zz-x") == 0)

        let report = try TreeCopier(allowReflink: false).copyTree(from: source, to: root + "/dst")
        let copiedDeep = root + "/dst/" + (1...40).map { "d\($0)" }.joined(separator: "/")
        var first = stat(), second = stat()
        #expect(lstat(copiedDeep + "/x", &first) == 0 && lstat(root + "/dst/zz-x", &second) == 0)
        #expect(first.st_ino == second.st_ino && first.st_nlink == 2)
        #expect(report.hardLinks == 1 && report.files == 702)
    }

    /// /dev/null's device number, 1:3 (glibc's makedev is a macro Swift cannot call).
    static let nullDevice: dev_t = (1 << 8) | 3

    func readFileBytes(_ path: String) -> [UInt8] {
        (FileManager.default.contents(atPath: path)).map(Array.init) ?? []
    }

    @Test func copiesFilesDirectoriesLinksModesAndUserXattrs() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = root + "/src"
        try FileManager.default.createDirectory(atPath: source + "/a/b", withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: source + "/a/b/file.txt"))
        try Data(repeating: 7, count: 3 << 20).write(to: URL(fileURLWithPath: source + "/big.bin"))
        _ = FileManager.default.createFile(atPath: source + "/empty", contents: Data())
        try FileManager.default.createSymbolicLink(atPath: source + "/link", withDestinationPath: "a/b/file.txt")
        chmod(source + "/a/b/file.txt", 0o640)
        let xattrSet = berth_lsetxattr(source + "/a/b/file.txt", "user.berth.case", "File.TXT", 8, 0) == 0

        let report = try TreeCopier().copyTree(from: source, to: root + "/dst")

        #expect(report.files == 4)
        #expect(report.directories == 3)
        #expect(report.bytes == 5 + 3 << 20)
        #expect(try String(contentsOfFile: root + "/dst/a/b/file.txt", encoding: .utf8) == "hello")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/dst/big.bin")) == Data(repeating: 7, count: 3 << 20))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/dst/link") == "a/b/file.txt")
        var info = stat()
        stat(root + "/dst/a/b/file.txt", &info)
        #expect(info.st_mode & 0o777 == 0o640)
        if xattrSet {
            var value = [UInt8](repeating: 0, count: 16)
            let n = berth_lgetxattr(root + "/dst/a/b/file.txt", "user.berth.case", &value, 16)
            #expect(n == 8 && String(decoding: value.prefix(8), as: UTF8.self) == "File.TXT")
        }
    }

    /// A sparse file stays sparse in the copy, with and without reflinks allowed: 4 KiB of data at 5 MiB
    /// in a 10 MiB file. (copy_file_range on ext4 filled the holes: the copy took 10 MiB.)
    @Test(arguments: [true, false])
    func holesStayHoles(allowReflink: Bool) throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        let fd = open(root + "/src/sparse", O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0 && ftruncate(fd, 10 << 20) == 0)
        let data = [UInt8](repeating: 9, count: 4096)
        #expect(pwrite(fd, data, data.count, 5 << 20) == data.count)
        close(fd)
        _ = try TreeCopier(allowReflink: allowReflink).copyTree(from: root + "/src", to: root + "/dst")
        var source = stat(), copy = stat()
        #expect(stat(root + "/src/sparse", &source) == 0 && stat(root + "/dst/sparse", &copy) == 0)
        #expect(copy.st_size == 10 << 20)
        #expect(Int(copy.st_blocks) * 512 <= Int(source.st_blocks) * 512 + 64 * 1024,
                "the copy takes \(Int(copy.st_blocks) * 512) bytes for the source's \(Int(source.st_blocks) * 512)")
        let copied = try Data(contentsOf: URL(fileURLWithPath: root + "/dst/sparse"))
        #expect(copied[(5 << 20)..<((5 << 20) + 4096)] == Data(data))
        #expect(copied[0..<4096] == Data(count: 4096) && copied[(10 << 20) - 4096..<(10 << 20)] == Data(count: 4096))
    }

    @Test func withoutReflinkEveryFileIsCopied() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/src/f"))
        let report = try TreeCopier(allowReflink: false).copyTree(from: root + "/src", to: root + "/dst")
        #expect(report.method == .copy)
        #expect(report.copiedFiles == 1 && report.reflinkedFiles == 0)
    }

    @Test func anExistingDestinationIsRefusedAndLeftAlone() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/dst", withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: root + "/dst/keep"))
        #expect(throws: TreeCopier.CopyError.self) { try TreeCopier().copyTree(from: root + "/src", to: root + "/dst") }
        #expect(try String(contentsOfFile: root + "/dst/keep", encoding: .utf8) == "keep")
    }
}

/// Trees as processes using a mount can make them: names that are not UTF-8, depths past PATH_MAX,
/// symbolic links to host paths, parts that cannot be removed. Snapshots, restores, clones, capacity
/// scans and deletes walk them by descriptor, never following a link.
@Suite struct HostileTreeTests {
    /// Makes the file `name` (bytes) in `directory` with `contents`.
    func makeFile(_ directory: Int32, _ name: [UInt8], _ contents: String) throws {
        let fd = openat(directory, cName(name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        try #require(fd >= 0, "create \(name): errno \(errno)")
        defer { close(fd) }
        let bytes = Array(contents.utf8)
        #expect(write(fd, bytes, bytes.count) == bytes.count)
    }

    func cName(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

    func openDirectory(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0, "open \(path): errno \(errno)")
        return fd
    }

    /// The names in a directory, as bytes, sorted.
    func rawNames(_ directory: Int32) -> [[UInt8]] {
        let own = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard own >= 0, let stream = fdopendir(own) else { return [] }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name != [46] && name != [46, 46] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    func contents(_ directory: Int32, _ name: [UInt8]) -> String? {
        let fd = openat(directory, cName(name), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buffer, buffer.count)
        return n < 0 ? nil : String(decoding: buffer.prefix(n), as: UTF8.self)
    }

    /// Makes `depth` nested directories `d` under `path`, with the file `leaf` at the bottom.
    func makeDeepTree(_ path: String, depth: Int, leaf: String) throws {
        var fd = try openDirectory(path)
        for _ in 0..<depth {
            try #require(mkdirat(fd, "d", 0o755) == 0)
            let next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            close(fd)
            try #require(next >= 0)
            fd = next
        }
        defer { close(fd) }
        try makeFile(fd, Array("leaf".utf8), leaf)
    }

    /// How many nested `d` directories there are under `path`, and what `leaf` at the bottom holds.
    func deepTree(_ path: String) throws -> (depth: Int, leaf: String?) {
        var fd = try openDirectory(path)
        var depth = 0
        while true {
            let next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 { break }
            close(fd)
            fd = next
            depth += 1
        }
        defer { close(fd) }
        return (depth, contents(fd, Array("leaf".utf8)))
    }

    func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    @Test func namesThatAreNotUTF8AreSnapshottedRestoredClonedAndCountedByteExact() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        for type in [ServiceID.efs, .fsxOpenZFS] {
            let volume = try store.createVolume(type: type, az: "us-east-1a")
            let data = try openDirectory(sandbox.stateDirectory.dataDirectory(volume.id))
            defer { close(data) }
            try makeFile(data, [0x61, 0xff], "bytes")  // "a\xff"
            try #require(mkdirat(data, cName([0x64, 0xfe]), 0o755) == 0)
            let sub = openat(data, cName([0x64, 0xfe]), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { close(sub) }
            try makeFile(sub, [0xc3, 0x28], "more")  // an invalid two-byte sequence
            // The capacity scan counts allocated blocks: two small files, a block each.
            let twoFiles = 2 * smallFileBlocks(in: sandbox.root)
            #expect(try UsageScanner.usedBytes(under: sandbox.stateDirectory.dataDirectory(volume.id)) == twoFiles)

            let snapshot = try store.takeSnapshot(of: volume.id)
            #expect(snapshot.copy.files == 2 && snapshot.copy.bytes == 9)
            let restored = try store.createVolume(type: type, az: "us-east-1b", fromSnapshot: snapshot.snapshot.id)
            let copy = try openDirectory(sandbox.stateDirectory.dataDirectory(restored.id))
            defer { close(copy) }
            #expect(rawNames(copy) == [[0x61, 0xff], [0x64, 0xfe]])
            #expect(contents(copy, [0x61, 0xff]) == "bytes")
            let copySub = openat(copy, cName([0x64, 0xfe]), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { close(copySub) }
            #expect(rawNames(copySub) == [[0xc3, 0x28]])
            #expect(contents(copySub, [0xc3, 0x28]) == "more")
            #expect(try UsageScanner.usedBytes(under: sandbox.stateDirectory.dataDirectory(restored.id)) == twoFiles)
            try store.deleteVolume(restored.id)
            try store.deleteSnapshot(snapshot.snapshot.id)
            #expect(!exists(sandbox.stateDirectory.volumeDirectory(restored.id)))
            #expect(!exists(sandbox.stateDirectory.snapshotDirectory(snapshot.snapshot.id)))
        }
    }

    @Test func aTree2100DeepSnapshotsRestoresScansAndDeletesLeavingNothing() throws {
        let sandbox = try StateSandbox()
        defer {
            try? TreeRemover.removeTree(at: sandbox.root)
            sandbox.cleanUp()
        }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        try makeDeepTree(data, depth: 2_100, leaf: "bottom")
        #expect(try UsageScanner.usedBytes(under: data) == smallFileBlocks(in: sandbox.root))

        let snapshot = try store.takeSnapshot(of: volume.id)
        #expect(snapshot.copy.directories == 2_101 && snapshot.copy.files == 1)
        let restored = try store.createVolume(type: .ebs, az: "us-east-1a", fromSnapshot: snapshot.snapshot.id)
        let copy = try deepTree(sandbox.stateDirectory.dataDirectory(restored.id))
        #expect(copy.depth == 2_100 && copy.leaf == "bottom")

        try store.deleteVolume(restored.id)
        try store.deleteVolume(volume.id)
        try store.deleteSnapshot(snapshot.snapshot.id)
        #expect(directoryEntries(sandbox.stateDirectory.volumesDirectory) == [])
        #expect(directoryEntries(sandbox.stateDirectory.snapshotsDirectory) == [])
    }

    @Test func symlinksToHostPathsAreCopiedAsLinksAndNeverFollowed() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let host = sandbox.root + "/host"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        try Data("host secret".utf8).write(to: URL(fileURLWithPath: host + "/secret"))
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .efs, az: "us-east-1a")
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        try FileManager.default.createSymbolicLink(atPath: data + "/to-file", withDestinationPath: host + "/secret")
        try FileManager.default.createSymbolicLink(atPath: data + "/to-dir", withDestinationPath: host)
        #expect(try UsageScanner.usedBytes(under: data) == 0, "a link's target is not the volume's")

        let snapshot = try store.takeSnapshot(of: volume.id)
        #expect(snapshot.copy.bytes == 0, "nothing of the host was read into the snapshot")
        let snapshotData = sandbox.stateDirectory.snapshotDirectory(snapshot.snapshot.id) + "/data"
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: snapshotData + "/to-file") == host + "/secret")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: snapshotData + "/to-dir") == host)
        let restored = try store.createVolume(type: .efs, az: "us-east-1a", fromSnapshot: snapshot.snapshot.id)
        #expect(try FileManager.default.destinationOfSymbolicLink(
            atPath: sandbox.stateDirectory.dataDirectory(restored.id) + "/to-dir") == host)

        // A data directory that is itself a link to a host directory is not walked either.
        let linked = try store.createVolume(type: .efs, az: "us-east-1a")
        let linkedData = sandbox.stateDirectory.dataDirectory(linked.id)
        try #require(rmdir(linkedData) == 0 && symlink(host, linkedData) == 0)
        #expect(throws: SharedStateError.self) { try UsageScanner.usedBytes(under: linkedData) }
        #expect(throws: StateError.self) { try store.takeSnapshot(of: linked.id) }
        #expect(directoryEntries(sandbox.stateDirectory.snapshotsDirectory) == [snapshot.snapshot.id.rawValue],
                "the refused snapshot left nothing")

        for id in [restored.id, volume.id, linked.id] { try store.deleteVolume(id) }
        try store.deleteSnapshot(snapshot.snapshot.id)
        #expect(directoryEntries(sandbox.stateDirectory.volumesDirectory) == [])
        #expect(directoryEntries(host) == ["secret"])
        #expect(try String(contentsOfFile: host + "/secret", encoding: .utf8) == "host secret")
    }

    @Test func aDeleteThatCannotRemoveEverythingFailsAndSaysWhatRemains() throws {
        let sandbox = try StateSandbox()
        defer { sandbox.cleanUp() }
        let store = try sandbox.store()
        let volume = try store.createVolume(type: .ebs, az: "us-east-1a")
        let data = sandbox.stateDirectory.dataDirectory(volume.id)
        try FileManager.default.createDirectory(atPath: data + "/stuck", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: data + "/stuck/inner"))
        try Data("y".utf8).write(to: URL(fileURLWithPath: data + "/other"))
        try #require(setImmutable(data + "/stuck", true), "the test needs a file system with the immutable attribute (chattr +i)")
        defer { _ = setImmutable(data + "/stuck", false) }

        let error = stateError { () throws(StateError) in try store.deleteVolume(volume.id) }
        guard case .storage(let message) = error else {
            Issue.record("expected the delete to fail, got \(String(describing: error))")
            return
        }
        #expect(message.contains(sandbox.stateDirectory.volumeDirectory(volume.id)) && message.contains("stuck/inner"), "\(message)")
        #expect(!exists(data + "/other"), "everything else went")
        #expect(exists(data + "/stuck/inner"))
        #expect(stateError { () throws(StateError) in try store.describeVolume(volume.id) } == .volumeNotFound(volume.id), "the record is gone")

        // The remover itself: the same tree, reported the same way.
        #expect(throws: TreeRemover.Failure.self) { try TreeRemover.removeTree(at: sandbox.stateDirectory.volumeDirectory(volume.id)) }
        _ = setImmutable(data + "/stuck", false)
        try TreeRemover.removeTree(at: sandbox.stateDirectory.volumeDirectory(volume.id))
        #expect(!exists(sandbox.stateDirectory.volumeDirectory(volume.id)))
    }

    @Test func noWalkEntersAMountPointNotEvenABindMountOfTheSameFileSystem() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-remove-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/host", withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: root + "/host/file"))
        try FileManager.default.createDirectory(atPath: root + "/tree/sub/mnt", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/tree/sub/other"))
        guard mount(root + "/host", root + "/tree/sub/mnt", nil, UInt(MS_BIND), nil) == 0 else {
            try TreeRemover.removeTree(at: root)
            return  // no mounting here (not root, or no CAP_SYS_ADMIN): nothing to test
        }
        defer {
            _ = umount2(root + "/tree/sub/mnt", Int32(MNT_DETACH))
            try? TreeRemover.removeTree(at: root)
        }
        // A snapshot copies the mount point as an empty directory; the capacity scan counts nothing there.
        let report = try TreeCopier().copyTree(from: root + "/tree", to: root + "/copy")
        #expect(report.files == 1 && report.bytes == 1)
        #expect(directoryEntries(root + "/copy/sub") == ["mnt", "other"] && directoryEntries(root + "/copy/sub/mnt") == [])
        #expect(try UsageScanner.usedBytes(under: root + "/tree") == smallFileBlocks(in: root))
        do {
            try TreeRemover.removeTree(at: root + "/tree")
            Issue.record("removing a tree with a mount inside it reported success")
        } catch {
            #expect(error.description.contains("tree/sub/mnt is a mount point"), "\(error)")
            #expect(error.count == 1, "only the mount point is reported, not the directories above it: \(error)")
        }
        #expect(directoryEntries(root + "/host") == ["file"], "nothing was removed through the mount")
        #expect(directoryEntries(root + "/tree/sub") == ["mnt"], "everything else went")
    }

    @Test func theRemoverUnlinksALinkRootAndNeverFollowsOne() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-remove-\(UUID().uuidString)").path
        defer { try? TreeRemover.removeTree(at: root) }
        try FileManager.default.createDirectory(atPath: root + "/host", withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: root + "/host/file"))
        try FileManager.default.createDirectory(atPath: root + "/tree/sub", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/tree/sub/link", withDestinationPath: root + "/host")
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/host")
        try TreeRemover.removeTree(at: root + "/link")
        try TreeRemover.removeTree(at: root + "/tree")
        try TreeRemover.removeTree(at: root + "/missing")
        #expect(directoryEntries(root) == ["host"])
        #expect(directoryEntries(root + "/host") == ["file"])
    }
}

/// Allocated bytes of a file of a few bytes on the file system holding `directory` (one block): what
/// the capacity scan counts for each small file there.
func smallFileBlocks(in directory: String) -> UInt64 {
    let path = directory + "/.small-file-probe"
    let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return 0 }
    defer {
        close(fd)
        unlink(path)
    }
    var st = stat()
    guard write(fd, "probe", 5) == 5, fstat(fd, &st) == 0 else { return 0 }
    return UInt64(st.st_blocks) * 512
}
