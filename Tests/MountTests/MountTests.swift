import CBerthShims
import EmulatorCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real mounts through the built `berth _serve-mount`: the semantics emulator.md requires of every
/// mount (docs/SEMANTICS.md describes them).
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct MountTests {
    @Test func dataSurvivesUnmountAndMount() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var mount = try ServedMount(scratch, at: "a")
        try FileManager.default.createDirectory(atPath: mount.mountpoint + "/dir/sub", withIntermediateDirectories: true)
        #expect(writeFile(mount.mountpoint + "/dir/sub/data.bin", Array(repeating: 0x5A, count: 300_000)) == 0)
        #expect(symlink("dir/sub/data.bin", mount.mountpoint + "/link") == 0)
        #expect(mount.stop() == 0)
        #expect(!ServedMount.isMounted(mount.mountpoint))

        mount = try ServedMount(scratch, at: "a")
        defer { mount.stop() }
        #expect(readFile(mount.mountpoint + "/link") == Array(repeating: 0x5A, count: 300_000))
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint).sorted() == ["dir", "link"])
    }

    /// Servers that died one over the other leave dead mounts stacked on one path; whatever stat still
    /// answers from the kernel's cache, each is found (statvfs answers ENOTCONN) and all are detached.
    @Test func deadMountsStackedOnOnePathAreAllCleared() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Three, so that clearing takes more than one pass of fusermount3 then umount.
        var servers: [ServedMount] = []
        var info = stat()
        for index in 0..<3 {
            servers.append(try ServedMount(scratch, at: "a", type: "ebs", volumeID: "vol-stacked\(index)"))
            #expect(stat(scratch.mountpoint("a"), &info) == 0)
        }
        for server in servers.reversed() {
            kill(server.process.processIdentifier, SIGKILL)
            server.process.waitUntilExit()
        }
        let path = scratch.mountpoint("a")
        let stacked = { (FileHandle(forReadingAtPath: "/proc/mounts").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) })?
            .split(separator: "\n").filter { $0.split(separator: " ").dropFirst().first == Substring(path) }.count ?? 0 }
        #expect(stacked() == 3)
        #expect(stat(path, &info) == 0, "stat is answered from the attribute cache")
        #expect(DeadMounts.state(of: path) == .disconnected)
        #expect(DeadMounts.clear(path))
        #expect(stacked() == 0)
        #expect(DeadMounts.state(of: path) == .notMounted)
    }

    /// Databases open their files with O_DIRECT, and AWS's EFS guide names it as one way to write
    /// synchronously (efs/latest/ug/using-fs.html, "Data Consistency"); every such write failed with EINVAL.
    @Test(arguments: ["ebs", "efs"])
    func directIOWritesAndReadsThroughTheMount(type: String) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try ServedMount(scratch, at: "a", type: type, volumeID: type == "ebs" ? "vol-direct" : "fs-direct")
        defer { mount.stop() }
        #if arch(arm64)
        let direct: Int32 = 0o200000
        #else
        let direct: Int32 = 0o40000
        #endif
        let size = 1 << 16
        var raw: UnsafeMutableRawPointer?
        #expect(posix_memalign(&raw, 4096, size) == 0)
        let buffer = try #require(raw)
        defer { free(buffer) }
        memset(buffer, 0x42, size)
        let path = mount.mountpoint + "/direct.bin"
        let fd = open(path, O_CREAT | O_RDWR | direct, 0o644)
        #expect(fd >= 0)
        #expect(pwrite(fd, buffer, size, 0) == size)
        memset(buffer, 0, size)
        #expect(pread(fd, buffer, size, 0) == size)
        #expect(buffer.load(fromByteOffset: size - 1, as: UInt8.self) == 0x42)
        close(fd)
        #expect(readFile(path) == Array(repeating: 0x42, count: size))
        #expect(readFile(scratch.backing + "/direct.bin") == Array(repeating: 0x42, count: size))
    }

    /// EFS has no extended attributes (NFS 4.0/4.1); a volume whose service has them keeps the backing
    /// file system's.
    @Test(arguments: [("efs", false), ("ebs", true)])
    func extendedAttributesAreThereOnlyWhereTheServiceHasThem(type: String, supported: Bool) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try ServedMount(scratch, at: "a", type: type, volumeID: type == "ebs" ? "vol-xattr" : "fs-xattr")
        defer { mount.stop() }
        let path = mount.mountpoint + "/file"
        #expect(writeFile(path, [1]) == 0)
        let set = berth_lsetxattr(path, "user.origin", "berth", 5, 0) == 0 ? 0 : errno
        var buffer = [CChar](repeating: 0, count: 16)
        let got = berth_lgetxattr(path, "user.origin", &buffer, 16)
        let gotErrno = got < 0 ? errno : 0
        if supported {
            #expect(set == 0)
            #expect(got == 5)
        } else {
            #expect(set == EOPNOTSUPP)
            #expect(gotErrno == EOPNOTSUPP)
            #expect(writeFile(path, [2]) == 0, "writes are unaffected")
        }
    }

    /// The server keeps a descriptor per known file: started from a shell whose soft limit is low (1,024
    /// is usual), it must still serve a directory of more files than that.
    @Test func aDirectoryOfMoreFilesThanTheCallersSoftFileLimit() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try ServedMount(scratch, at: "a", softOpenFileLimit: 256)
        defer { mount.stop() }
        var failures: [Int32] = []
        for index in 0..<1_000 {
            let fd = open(mount.mountpoint + "/f\(index)", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
            if fd < 0 { failures.append(errno) } else { close(fd) }
        }
        #expect(failures.count == 0, "\(failures.count) creates failed, the first with errno \(failures.first ?? 0)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint).count == 1_000)
    }

    /// Giving descriptors back must not drop the name of a directory a process is in: the kernel would
    /// unhash it, getcwd(3) would fail with ENOENT in that process (git: "unable to get current working
    /// directory"), and the files it then made there could no longer be given back (EMFILE). Before the
    /// fix both happened within a few hundred files.
    @Test func givingDescriptorsBackKeepsTheCurrentDirectoriesOfProcesses() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Soft and hard: where the server may raise its limit (root with CAP_SYS_RESOURCE) it gives
        // nothing back this early, and the test shows only that the files were made.
        let mount = try ServedMount(scratch, at: "a", type: "ebs", volumeID: "vol-cwd", openFileLimit: 512)
        defer { mount.stop() }
        #expect(mkdir(mount.mountpoint + "/top", 0o755) == 0)
        #expect(mkdir(mount.mountpoint + "/top/sub", 0o755) == 0)
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.currentDirectoryURL = URL(fileURLWithPath: mount.mountpoint + "/top/sub")
        // Relative names only: everything goes through the current directory's dentry.
        shell.arguments = ["-c", """
            i=0
            while [ $i -lt 1500 ]; do
                : > f$i || exit 3
                i=$((i + 1))
                if [ $((i % 50)) = 0 ]; then /bin/pwd > /dev/null || exit 4; sleep 0.01; fi
            done
            /bin/pwd
            """]
        let output = Pipe()
        shell.standardOutput = output
        try shell.run()
        shell.waitUntilExit()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(shell.terminationStatus == 0, "3: a create failed, 4: getcwd failed")
        #expect(printed.hasSuffix("/top/sub\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint + "/top/sub").count == 1_500)
    }

    /// A program that writes and removes files without ever syncing (a build's temporary files) must
    /// not use up the server's descriptors: the power-loss journal lets go of a file that is removed
    /// and was never durable. Before the fix it kept one descriptor per such file, and with a limit
    /// of 512 the creates answered EMFILE after about 500.
    @Test func filesWrittenAndRemovedWithoutSyncingDoNotUseUpDescriptors() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try ServedMount(scratch, at: "a", type: "ebs", volumeID: "vol-tmp", openFileLimit: 512)
        defer { mount.stop() }
        var failures: [String] = []
        for index in 0..<1_500 where failures.count < 5 {
            let path = mount.mountpoint + "/tmp\(index)"
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
            guard fd >= 0 else { failures.append("create \(index): errno \(errno)"); continue }
            let written = [UInt8](repeating: 7, count: 100).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written != 100 { failures.append("write \(index): errno \(errno)") }
            close(fd)
            if unlink(path) != 0 { failures.append("unlink \(index): errno \(errno)") }
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// A listing answers READDIRPLUS with each name's entry, a reference the kernel holds as it would
    /// one from a lookup: the server keeps those files until the kernel forgets them, and lets every one
    /// go once they are removed (a count off by one either way would keep them open for ever, or drop
    /// a file the kernel still uses, which would answer ESTALE).
    @Test func aListingsEntriesAreKeptUntilTheKernelForgetsThem() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.backing + "/d", withIntermediateDirectories: false)
        let count = 300
        for index in 0..<count { #expect(writeFile(scratch.backing + "/d/f\(index)", Array(repeating: 1, count: index)) == 0) }
        let mount = try ServedMount(scratch, at: "a", type: "ebs", volumeID: "vol-tmp")
        defer { mount.stop() }
        let server = mount.process.processIdentifier
        let backing = scratch.backing
        func descriptors() -> Int { heldDescriptors(of: server, under: backing) }
        let before = descriptors()
        // getdents only, no stat: whatever the server holds afterwards came with the listing.
        var names: [String] = []
        if let dir = opendir(mount.mountpoint + "/d") {
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
        }
        #expect(names.count == count)
        let listed = descriptors()
        // The kernel asks READDIRPLUS for the first 32 KiB of a listing (about 200 entries here).
        #expect(listed >= before + 100, "entries came with the listing: \(before) descriptors before, \(listed) after")
        var wrong: [String] = []
        for name in names {
            var info = stat()
            let index = Int(name.dropFirst()) ?? -1
            if stat(mount.mountpoint + "/d/" + name, &info) != 0 || info.st_size != index { wrong.append(name) }
            if readFile(mount.mountpoint + "/d/" + name)?.count != index { wrong.append(name + " read") }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
        for name in names { #expect(unlink(mount.mountpoint + "/d/" + name) == 0) }
        #expect(waitUntil { descriptors() <= before + 5 }, "removed and forgotten: \(descriptors()) descriptors, \(before) before")
    }

    /// One listing may ask for thousands of names at once (getdents with a 1 MiB buffer); the entries it
    /// gets stop short of half the server's descriptors, where giving them back starts, so one process
    /// listing a large directory cannot take the descriptors every other user needs.
    #if arch(x86_64)  // getdents64 is syscall 217 there
    @Test func aListingTakesAtMostAShareOfTheServersDescriptors() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        for index in 0..<2_000 { #expect(writeFile(scratch.backing + "/f\(index)", [1]) == 0) }
        let mount = try ServedMount(scratch, at: "a", type: "ebs", volumeID: "vol-tmp", openFileLimit: 512)
        defer { mount.stop() }
        let server = mount.process.processIdentifier
        // All of them: the limit bounds every descriptor the server has.
        func descriptors() -> Int { descriptorCount(of: server) }
        let before = descriptors()
        let (status, output) = try runPython("""
            import ctypes, os, sys
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
            buffer = ctypes.create_string_buffer(1 << 20)
            print(libc.syscall(217, fd, buffer, 1 << 20))
            """, [mount.mountpoint])
        #expect(status == 0 && (Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 40_000, "\(output)")
        let after = descriptors()
        // Without the share the listing took descriptors up to the limit, every other open on the mount
        // answered EMFILE meanwhile, and the reclaimer then dropped every name again (after == before).
        #expect(after > before, "entries came with the listing and stayed")
        #expect(after < 256, "at most a share below half the limit of 512: \(before) before, \(after) after")
    }
    #endif

    /// On a shared volume a listing hands out entries only while the volume has no other mount: with
    /// another mount removing names, each name is looked up when it is used (as directory names are).
    @Test func aSharedVolumesListingHandsOutEntriesOnlyWhileItIsTheOnlyMount() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        for index in 0..<150 { #expect(writeFile(scratch.backing + "/f\(index)", [1]) == 0) }
        let a = try ServedMount(scratch, at: "a", type: "efs")
        defer { a.stop() }
        let server = a.process.processIdentifier
        let backing = scratch.backing
        func descriptors() -> Int { heldDescriptors(of: server, under: backing) }
        func list() -> Int {
            var count = 0
            if let dir = opendir(a.mountpoint) {
                while readdir(dir) != nil { count += 1 }
                closedir(dir)
            }
            return count
        }
        let b = try ServedMount(scratch, at: "b", type: "efs")
        let before = descriptors()
        #expect(list() == 152)
        #expect(descriptors() <= before + 5, "two mounts: no entries (\(before) descriptors before, \(descriptors()) after)")
        b.stop()
        #expect(list() == 152)
        #expect(descriptors() >= before + 100, "one mount again: entries (\(before) descriptors before, \(descriptors()) after)")
    }

    @Test func provisionedCapacityRefusesWritesPastItAndDfShowsIt() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let capacity = 1 << 20
        let mount = try ServedMount(scratch, at: "a", type: "ebs", volumeID: "vol-cap", extra: ["--capacity-bytes", "\(capacity)"])
        defer { mount.stop() }
        var fs = statvfs()
        #expect(statvfs(mount.mountpoint, &fs) == 0)
        #expect(UInt64(fs.f_blocks) * UInt64(fs.f_frsize) == UInt64(capacity))
        #expect(UInt64(fs.f_bavail) * UInt64(fs.f_frsize) == UInt64(capacity))

        // What counts is allocated blocks (`du`), not lengths: 600,000 bytes take 147 blocks of 4 KiB.
        #expect(writeFile(mount.mountpoint + "/first", Array(repeating: 1, count: 600_000)) == 0)
        let firstBlocks = allocatedBytes(mount.mountpoint + "/first")
        #expect(firstBlocks >= 600_000)
        #expect(statvfs(mount.mountpoint, &fs) == 0)
        #expect(UInt64(fs.f_bfree) == (UInt64(capacity) - firstBlocks) / 4096)

        // The second file fits only partly: the volume fills up exactly, then ENOSPC.
        let fd = open(mount.mountpoint + "/second", O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0)
        var total = 0, failure: Int32 = 0
        let chunk = [UInt8](repeating: 2, count: 100_000)
        while failure == 0 {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { failure = errno } else { total += n }
        }
        close(fd)
        #expect(failure == ENOSPC)
        #expect(UInt64(total) == UInt64(capacity) - firstBlocks)
        #expect(statvfs(mount.mountpoint, &fs) == 0)
        #expect(fs.f_bfree == 0)
        // A growing truncate allocates nothing, so it succeeds on a full volume (a hole, as on ext4 or
        // XFS); a write into the hole needs a block and fails.
        #expect(truncate(mount.mountpoint + "/first", 700_000) == 0)
        #expect(allocatedBytes(mount.mountpoint + "/first") == firstBlocks)
        let hole = open(mount.mountpoint + "/first", O_WRONLY)
        #expect(hole >= 0)
        #expect(pwrite(hole, [9], 1, 690_000) == -1 && errno == ENOSPC)
        #expect(pwrite(hole, [9], 1, 10) == 1, "a block the file has costs nothing")
        close(hole)

        // Shrinking and unlinking give the space back.
        #expect(truncate(mount.mountpoint + "/second", 0) == 0)
        #expect(unlink(mount.mountpoint + "/first") == 0)
        #expect(statvfs(mount.mountpoint, &fs) == 0)
        #expect(UInt64(fs.f_bfree) == UInt64(capacity) / 4096)
        #expect(writeFile(mount.mountpoint + "/third", Array(repeating: 3, count: capacity)) == 0)
    }

    @Test func capacityHoldsAcrossTwoServerProcesses() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let options = ["--capacity-bytes", "\(1 << 20)"]
        let a = try ServedMount(scratch, at: "a", type: "fsx-openzfs", extra: options)
        defer { a.stop() }
        let b = try ServedMount(scratch, at: "b", type: "fsx-openzfs", extra: options)
        defer { b.stop() }
        #expect(writeFile(a.mountpoint + "/x", Array(repeating: 1, count: 700_000)) == 0)
        #expect(writeFile(b.mountpoint + "/y", Array(repeating: 1, count: 400_000)) == ENOSPC)
        var fs = statvfs()
        #expect(statvfs(b.mountpoint, &fs) == 0)
        #expect(fs.f_bfree == 0)
    }

    @Test func elasticVolumeReportsEightExbibytesAndItsType() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try ServedMount(scratch, at: "a", type: "efs", volumeID: "fs-elastic")
        defer { mount.stop() }
        var fs = statvfs()
        #expect(statvfs(mount.mountpoint, &fs) == 0)
        #expect(UInt64(fs.f_blocks) * UInt64(fs.f_frsize) == 1 << 63)
        let df = Process()
        df.executableURL = URL(fileURLWithPath: "/bin/df")
        df.arguments = ["-PT", mount.mountpoint]
        let out = Pipe()
        df.standardOutput = out
        try df.run()
        df.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.contains("fs-elastic"))
        #expect(text.contains("fuse.berth-efs"))
    }

    @Test func readOnlyMountRefusesEveryChangeWithEROFS() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        #expect(writeFile(scratch.backing + "/file", Array("kept".utf8)) == 0)
        try FileManager.default.createDirectory(atPath: scratch.backing + "/dir", withIntermediateDirectories: true)
        let mount = try ServedMount(scratch, at: "a", extra: ["--read-only"])
        defer { mount.stop() }
        let m = mount.mountpoint
        #expect(readFile(m + "/file") == Array("kept".utf8))

        func refusal(_ result: Int32) -> Int32 { result == -1 ? errno : 0 }
        #expect(refusal(open(m + "/file", O_WRONLY)) == EROFS)
        #expect(refusal(open(m + "/new", O_WRONLY | O_CREAT, 0o644)) == EROFS)
        #expect(refusal(mkdir(m + "/newdir", 0o755)) == EROFS)
        #expect(refusal(unlink(m + "/file")) == EROFS)
        #expect(refusal(rmdir(m + "/dir")) == EROFS)
        #expect(refusal(rename(m + "/file", m + "/renamed")) == EROFS)
        #expect(refusal(chmod(m + "/file", 0o600)) == EROFS)
        #expect(refusal(truncate(m + "/file", 0)) == EROFS)
        #expect(refusal(symlink("file", m + "/link")) == EROFS)
        #expect(readFile(scratch.backing + "/file") == Array("kept".utf8))
    }

    @Test func fcntlLocksConflictAcrossTwoMountsInOneProcess() throws {
        try withTwoMounts { _, a, b in
            #expect(writeFile(a.mountpoint + "/shared.db", Array(repeating: 0, count: 4096)) == 0)
            let fdA = open(a.mountpoint + "/shared.db", O_RDWR), fdB = open(b.mountpoint + "/shared.db", O_RDWR)
            defer { close(fdA); close(fdB) }
            #expect(recordLock(fdA, F_WRLCK) == 0)
            #expect(recordLock(fdB, F_WRLCK) == EAGAIN)
            #expect(recordLock(fdB, F_RDLCK) == EAGAIN)
            #expect(lockHolderType(fdB) == F_WRLCK)
            #expect(recordLock(fdA, F_UNLCK) == 0)
            #expect(lockHolderType(fdB) == F_UNLCK)
            #expect(recordLock(fdB, F_RDLCK) == 0)
            #expect(recordLock(fdA, F_RDLCK) == 0, "read locks share")
            #expect(recordLock(fdA, F_WRLCK) == EAGAIN)
        }
    }

    @Test func fcntlLockOfAnotherProcessBlocksUntilItDies() throws {
        try withTwoMounts { _, a, b in
            #expect(writeFile(a.mountpoint + "/f", [1, 2, 3]) == 0)
            let holder = try LockHolder(path: a.mountpoint + "/f", kind: "fcntl")
            let fd = open(b.mountpoint + "/f", O_RDWR)
            defer { close(fd) }
            #expect(recordLock(fd, F_WRLCK) == EAGAIN)
            holder.kill9()
            // The dead holder's files are closed, the kernel flushes them, and its locks go.
            #expect(waitUntil { recordLock(fd, F_WRLCK) == 0 })
        }
    }

    @Test func setlkwWaitsForTheHolderOnAnotherMountAndWakes() throws {
        try withTwoMounts { _, a, b in
            #expect(writeFile(a.mountpoint + "/f", [1]) == 0)
            let fdA = open(a.mountpoint + "/f", O_RDWR)
            defer { close(fdA) }
            #expect(recordLock(fdA, F_WRLCK) == 0)

            let path = b.mountpoint + "/f"
            let done = Atomicish()
            Thread {
                let fd = open(path, O_RDWR)
                let result = recordLock(fd, F_WRLCK, command: F_SETLKW)
                done.set(result == 0 ? 1 : 2)
                close(fd)
            }.start()
            usleep(400_000)
            #expect(done.value == 0, "F_SETLKW must wait while another mount holds the lock")
            #expect(recordLock(fdA, F_UNLCK) == 0)
            #expect(waitUntil { done.value != 0 })
            #expect(done.value == 1)
        }
    }

    @Test func flockConflictsAcrossMountsAndWakesTheWaiter() throws {
        try withTwoMounts { _, a, b in
            #expect(writeFile(a.mountpoint + "/f", [1]) == 0)
            let fdA = open(a.mountpoint + "/f", O_RDONLY)
            #expect(flock(fdA, LOCK_EX) == 0)
            let fdB = open(b.mountpoint + "/f", O_RDONLY)
            defer { close(fdB) }
            #expect(flock(fdB, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK)

            let done = Atomicish()
            Thread {
                done.set(flock(fdB, LOCK_EX) == 0 ? 1 : 2)
            }.start()
            usleep(400_000)
            #expect(done.value == 0)
            close(fdA)  // the holder's description goes, and its flock lock with it
            #expect(waitUntil { done.value != 0 })
            #expect(done.value == 1)

            // And a process holding a flock lock that dies releases it.
            #expect(flock(fdB, LOCK_UN) == 0)
            let holder = try LockHolder(path: a.mountpoint + "/f", kind: "flock")
            #expect(flock(fdB, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK)
            holder.kill9()
            #expect(waitUntil { flock(fdB, LOCK_EX | LOCK_NB) == 0 })
        }
    }

    /// What SQLite's rollback journal relies on across mounts: both keep the file open; one writes under
    /// a lock, the other takes the lock and reads the same bytes, which its mount had cached before.
    @Test(arguments: ["fcntl", "flock"])
    func takingALockDropsPagesCachedBeforeAnotherMountsWrite(kind: String) throws {
        try withTwoMounts { _, a, b in
            #expect(writeFile(a.mountpoint + "/db", Array(repeating: 1, count: 8192)) == 0)
            let writer = open(a.mountpoint + "/db", O_RDWR), reader = open(b.mountpoint + "/db", O_RDWR)
            defer { close(writer); close(reader) }
            #expect(writer >= 0 && reader >= 0)
            var page = [UInt8](repeating: 0, count: 4096)
            #expect(pread(reader, &page, 4096, 0) == 4096 && page[0] == 1)  // now in b's page cache
            func lock(_ fd: Int32) -> Int32 {
                kind == "fcntl" ? recordLock(fd, Int32(F_WRLCK), command: F_SETLKW) : bsdLock(fd, LOCK_EX)
            }
            func unlock(_ fd: Int32) -> Int32 {
                kind == "fcntl" ? recordLock(fd, Int32(F_UNLCK)) : bsdLock(fd, LOCK_UN)
            }
            for round in UInt8(2)...UInt8(21) {
                #expect(lock(writer) == 0)
                let bytes = [UInt8](repeating: round, count: 4096)
                #expect(pwrite(writer, bytes, 4096, 0) == 4096)
                #expect(unlock(writer) == 0)
                #expect(lock(reader) == 0)
                #expect(pread(reader, &page, 4096, 0) == 4096)
                #expect(page[0] == round && page[4095] == round, "round \(round): read \(page[0]) under the lock")
                #expect(unlock(reader) == 0)
                if page[0] != round { break }
            }
        }
    }

    @Test func closeToOpenBetweenMountsInTwoProcesses() throws {
        try withTwoMounts { _, a, b in
            var expected: [UInt8] = []
            for round in 0..<60 {
                // Growing content, and every fifth round a same-size rewrite, which only the contents show.
                if round % 5 == 4 {
                    expected = expected.map { $0 &+ 1 }
                } else {
                    expected += (0..<(round * 97 + 1)).map { UInt8(truncatingIfNeeded: $0 &+ round) }
                }
                #expect(writeFile(a.mountpoint + "/log", expected) == 0)
                // The size an open shows (stat without an open may lag by up to 1 s, as on NFS).
                let fd = open(b.mountpoint + "/log", O_RDONLY)
                var st = stat()
                #expect(fd >= 0 && fstat(fd, &st) == 0)
                #expect(Int(st.st_size) == expected.count, "round \(round): size")
                if fd >= 0 { close(fd) }
                let seen = readFile(b.mountpoint + "/log")
                #expect(seen == expected, "round \(round): contents")
                if seen != expected { break }
            }
            // A replacement by rename (write a temp file, rename over) is seen too.
            #expect(writeFile(a.mountpoint + "/log.tmp", Array("replaced".utf8)) == 0)
            #expect(rename(a.mountpoint + "/log.tmp", a.mountpoint + "/log") == 0)
            #expect(readFile(b.mountpoint + "/log") == Array("replaced".utf8))
            // A file created on one mount appears on the other at once; a removed one cannot be opened
            // (its name may linger in the other mount's name cache for up to 1 s, as on NFS, but the open
            // finds it gone), and from then on it is gone there too.
            #expect(writeFile(a.mountpoint + "/new", [7]) == 0)
            #expect(readFile(b.mountpoint + "/new") == [7])
            #expect(unlink(a.mountpoint + "/new") == 0)
            let fd = open(b.mountpoint + "/new", O_RDONLY)
            #expect(fd == -1 && errno == ENOENT)
            if fd >= 0 { close(fd) }
            #expect(access(b.mountpoint + "/new", F_OK) == -1)
        }
    }

    /// Names are cached for 1 s on shared volumes; an open, a create or an unlink through a cached
    /// path that another mount has since changed (a directory renamed away and replaced, a file renamed
    /// away) acts on what the path names now.
    @Test func cachedPathsFollowOtherMountsRenames() throws {
        try withTwoMounts { _, a, b in
            let d = "/d", e = "/d/e"
            #expect(mkdir(a.mountpoint + d, 0o755) == 0 && mkdir(a.mountpoint + e, 0o755) == 0)
            func opens(_ path: String) -> Bool {
                let fd = open(path, O_RDONLY)
                if fd >= 0 { close(fd) }
                return fd >= 0
            }
            /// Renames d/e away on mount a and makes a new, empty d/e.
            func replaceDirectory(_ tag: String) {
                #expect(rename(a.mountpoint + e, a.mountpoint + d + "/gone-" + tag) == 0)
                #expect(mkdir(a.mountpoint + e, 0o755) == 0)
            }
            for round in 0..<20 {
                let old = Array("round \(round)".utf8), new = Array("round \(round) replaced".utf8)
                #expect(writeFile(a.mountpoint + e + "/f", old) == 0)
                #expect(readFile(b.mountpoint + e + "/f") == old, "round \(round): b caches d, d/e and d/e/f")

                // Open.
                replaceDirectory("\(round)-open")
                #expect(writeFile(a.mountpoint + e + "/f", new) == 0)
                #expect(readFile(b.mountpoint + e + "/f") == new, "round \(round): open through a replaced directory")

                // Unlink: b's cached d/e/f is the file in the directory now called gone-…-unlink.
                replaceDirectory("\(round)-unlink")
                #expect(writeFile(a.mountpoint + e + "/f", new) == 0)
                #expect(unlink(b.mountpoint + e + "/f") == 0)
                // (Checked by opening: a `stat` or `access` on mount a may answer from its name cache.)
                #expect(!opens(a.mountpoint + e + "/f"), "round \(round): the current d/e/f is removed")
                #expect(opens(a.mountpoint + d + "/gone-\(round)-unlink/f"), "round \(round): the old one is not")

                // Create.
                var st = stat()
                #expect(stat(b.mountpoint + e, &st) == 0)
                replaceDirectory("\(round)-create")
                #expect(writeFile(b.mountpoint + e + "/from-b", [1]) == 0)
                #expect(opens(a.mountpoint + e + "/from-b"), "round \(round): created in the new directory")
                #expect(!opens(a.mountpoint + d + "/gone-\(round)-create/from-b"), "round \(round): not in the old one")

                // A file renamed away: the old path no longer opens.
                #expect(writeFile(a.mountpoint + e + "/f", new) == 0)
                #expect(readFile(b.mountpoint + e + "/f") == new)
                #expect(rename(a.mountpoint + e + "/f", a.mountpoint + e + "/moved") == 0)
                let fd = open(b.mountpoint + e + "/f", O_RDONLY)
                #expect(fd == -1 && errno == ENOENT, "round \(round): renamed away")
                if fd >= 0 { close(fd) }
                #expect(((try? FileManager.default.contentsOfDirectory(atPath: b.mountpoint + e)) ?? []).sorted() == ["from-b", "moved"])
            }
        }
    }

    /// A file's name that mount b cached, replaced on mount a by a directory: a path through it is walked
    /// through the directory (ENOENT for a name not in it, a create lands in it), not answered ENOTDIR from
    /// b's cached file name for up to 1 s. The kernel answers that ENOTDIR without asking b's server, so
    /// b's server makes it forget its cached names when another mount removed one; it checks every
    /// 10 ms, so the test allows far less than the 1 s the name was cached for.
    @Test func aFileNameReplacedByADirectoryOnAnotherMountIsWalkedThrough() throws {
        try withTwoMounts { _, a, b in
            for round in 0..<5 {
                let d = "/d\(round)"
                #expect(writeFile(a.mountpoint + d, [1]) == 0)
                var st = stat()
                #expect(stat(b.mountpoint + d, &st) == 0 && st.st_mode & S_IFMT == S_IFREG, "b caches d as a file")
                #expect(unlink(a.mountpoint + d) == 0 && mkdir(a.mountpoint + d, 0o755) == 0)
                let answered = { () -> Int32 in
                    let fd = open(b.mountpoint + d + "/f", O_RDONLY)
                    if fd >= 0 { close(fd) }
                    return fd >= 0 ? 0 : errno
                }
                #expect(waitUntil(timeout: 0.3) { answered() == ENOENT }, "round \(round): \(answered())")
                #expect(writeFile(b.mountpoint + d + "/from-b", [2]) == 0)
                #expect(readFile(a.mountpoint + d + "/from-b") == [2])
            }
        }
    }

    @Test func sigtermUnmountsCleanly() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try ServedMount(scratch, at: "a")
        #expect(writeFile(mount.mountpoint + "/f", [1]) == 0)
        #expect(ServedMount.isMounted(mount.mountpoint))
        mount.process.terminate()  // SIGTERM
        mount.process.waitUntilExit()
        #expect(mount.process.terminationStatus == 0)
        #expect(!ServedMount.isMounted(mount.mountpoint))
        var st = stat()
        #expect(stat(mount.mountpoint, &st) == 0, "no 'Transport endpoint is not connected'")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint).isEmpty)
        #expect(readFile(scratch.backing + "/f") == [1])
    }
}

/// A small thread-safe status cell for a test thread.
final class Atomicish: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = 0
    var value: Int { lock.withLock { stored } }
    func set(_ value: Int) { lock.withLock { stored = value } }
}

/// A scratch backing directory served by two mount servers, "a" and "b", for the length of `body`.
func withTwoMounts(_ body: (Scratch, ServedMount, ServedMount) throws -> Void) throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let a = try ServedMount(scratch, at: "a")
    defer { a.stop() }
    let b = try ServedMount(scratch, at: "b")
    defer { b.stop() }
    try body(scratch, a, b)
}
