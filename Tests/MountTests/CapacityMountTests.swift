import CBerthShims
import EmulatorCore
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Allocated bytes of `path` (`st_blocks * 512`), as `du` counts them.
func allocatedBytes(_ path: String) -> UInt64 {
    var st = stat()
    guard lstat(path, &st) == 0 else { return 0 }
    return UInt64(st.st_blocks) * 512
}

/// What `du` says the regular files under `root` hold: allocated bytes, each inode once.
func duOfFiles(_ root: String) -> UInt64 {
    var seen = Set<UInt64>()
    var total: UInt64 = 0
    let walker = FileManager.default.enumerator(atPath: root)
    while let relative = walker?.nextObject() as? String {
        var st = stat()
        guard lstat(root + "/" + relative, &st) == 0, st.st_mode & S_IFMT == S_IFREG,
              seen.insert(UInt64(st.st_ino)).inserted else { continue }
        total += UInt64(st.st_blocks) * 512
    }
    return total
}

/// util-linux `fallocate --punch-hole` (Swift does not import fallocate(2)); its exit status.
func punchHole(_ path: String, offset: Int, length: Int) throws -> Int32 {
    let tool = Process()
    tool.executableURL = URL(fileURLWithPath: "/usr/bin/fallocate")
    tool.arguments = ["--punch-hole", "--offset", "\(offset)", "--length", "\(length)", path]
    try tool.run()
    tool.waitUntilExit()
    return tool.terminationStatus
}

/// What `df` says the volume mounted at `path` holds.
func dfUsed(_ path: String) -> UInt64 {
    var fs = statvfs()
    guard statvfs(path, &fs) == 0 else { return .max }
    return UInt64(fs.f_blocks - fs.f_bfree) * UInt64(fs.f_frsize)
}

/// Capacity in allocated blocks (SEMANTICS.md, Capacity): sparse files, short writes, `df` against
/// `du`, rename and link on a full volume, and the counter against a rescan of the backing store.
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct CapacityMountTests {
    static let capacity = 1 << 20

    func withVolume(type: String = "ebs", _ body: (Scratch, ServedMount) throws -> Void) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try ServedMount(scratch, at: "a", type: type, volumeID: type == "ebs" ? "vol-cap" : "fs-cap",
                                    extra: ["--capacity-bytes", "\(Self.capacity)"])
        defer { mount.stop() }
        try body(scratch, mount)
    }

    /// Writes `count` bytes at `offset` to `path` until done or refused; returns bytes written and the errno.
    func fill(_ path: String, offset: Int = 0, count: Int) -> (Int, Int32) {
        let fd = open(path, O_WRONLY | O_CREAT, 0o644)
        guard fd >= 0 else { return (0, errno) }
        defer { close(fd) }
        var done = 0
        let chunk = [UInt8](repeating: 5, count: 64 << 10)
        while done < count {
            let n = pwrite(fd, chunk, min(chunk.count, count - done), off_t(offset + done))
            if n < 0 { return (done, errno) }
            done += n
        }
        return (done, 0)
    }

    @Test func aGrowingTruncatePastCapacityMakesASparseFileAndWritesIntoItAreShortThenENOSPC() throws {
        try withVolume { scratch, mount in
            let path = mount.mountpoint + "/sparse"
            #expect(close(open(path, O_CREAT | O_WRONLY, 0o644)) == 0)
            #expect(truncate(path, 10 << 20) == 0, "ten times the volume, all hole")
            #expect(allocatedBytes(path) == 0)
            #expect(dfUsed(mount.mountpoint) == 0)

            #expect(fill(path, offset: 5 << 20, count: 512 << 10) == (512 << 10, 0))
            // One write that needs more blocks than are left: short, exactly to the volume's end.
            let fd = open(path, O_WRONLY)
            #expect(fd >= 0)
            let big = [UInt8](repeating: 6, count: 1 << 20)
            let n = pwrite(fd, big, big.count, 8 << 20)
            #expect(n == Self.capacity - (512 << 10))
            #expect(pwrite(fd, big, 1, 9 << 20) == -1 && errno == ENOSPC)
            #expect(pwrite(fd, big, 4096, 5 << 20) == 4096, "blocks the file has cost nothing on a full volume")
            close(fd)
            #expect(dfUsed(mount.mountpoint) == UInt64(Self.capacity))
            #expect(dfUsed(mount.mountpoint) == duOfFiles(mount.mountpoint))
            let rescan = try UsageScanner.usedBytes(under: scratch.backing)
            #expect(rescan == UInt64(Self.capacity))

            // Punching a hole gives its blocks back; fallocate takes them, all or nothing.
            let punched = try punchHole(path, offset: 8 << 20, length: 256 << 10)
            #expect(punched == 0)
            #expect(dfUsed(mount.mountpoint) == UInt64(Self.capacity - (256 << 10)))
            let rw = open(path, O_RDWR)
            #expect(rw >= 0)
            #expect(posix_fallocate(rw, 1 << 20, 512 << 10) == ENOSPC)
            #expect(posix_fallocate(rw, 1 << 20, 256 << 10) == 0)
            close(rw)
            #expect(dfUsed(mount.mountpoint) == UInt64(Self.capacity))
            #expect(dfUsed(mount.mountpoint) == duOfFiles(mount.mountpoint))
        }
    }

    @Test func renameAndLinkSucceedOnAFullVolumeAndOnlyNewInodesAreRefused() throws {
        for type in ["ebs", "fsx-openzfs", "fsx-windows"] {
            try withVolume(type: type) { scratch, mount in
                let m = mount.mountpoint
                #expect(writeFile(m + "/old.log", Array(repeating: 1, count: 300_000)) == 0)
                #expect(fill(m + "/app.log", count: Self.capacity).1 == ENOSPC)
                #expect(dfUsed(m) == UInt64(Self.capacity), "\(type)")
                #expect(link(m + "/app.log", m + "/app.log.hardlink") == 0, "\(type)")
                #expect(rename(m + "/app.log", m + "/app.log.1") == 0, "\(type): log rotation")
                #expect(rename(m + "/app.log.1", m + "/old.log") == 0, "\(type): rename over frees the old file")
                #expect(dfUsed(m) < UInt64(Self.capacity))
                #expect(dfUsed(m) == duOfFiles(m))
                #expect(fill(m + "/old.log", offset: Self.capacity, count: Self.capacity).1 == ENOSPC)
                #expect(dfUsed(m) == UInt64(Self.capacity))
                #expect(open(m + "/new", O_CREAT | O_WRONLY, 0o644) == -1 && errno == ENOSPC, "\(type)")
                #expect(mkdir(m + "/dir", 0o755) == -1 && errno == ENOSPC, "\(type)")
                #expect(symlink("old.log", m + "/sym") == -1 && errno == ENOSPC, "\(type)")
                #expect(unlink(m + "/app.log.hardlink") == 0)
                #expect(dfUsed(m) == UInt64(Self.capacity), "another link keeps the blocks")
                #expect(unlink(m + "/old.log") == 0)
                #expect(dfUsed(m) == 0)
                let rescan = try UsageScanner.usedBytes(under: scratch.backing)
                #expect(rescan == 0)
            }
        }
    }

    @Test func oTruncOfAHardLinkedFileFreesItsBlocksOnce() throws {
        try withVolume { scratch, mount in
            let m = mount.mountpoint
            #expect(writeFile(m + "/a", Array(repeating: 1, count: 200_000)) == 0)
            let blocks = allocatedBytes(m + "/a")
            #expect(link(m + "/a", m + "/b") == 0)
            #expect(unlink(m + "/b") == 0)
            #expect(dfUsed(m) == blocks, "removing one of two names frees nothing")
            // A second name made on the backing store after the kernel cached its absence (an exclusive
            // volume's negative entry): the open below is a FUSE create, with O_TRUNC, of an existing
            // file with two links, as when another client makes the name between a lookup and a create.
            var st = stat()
            #expect(stat(m + "/c", &st) == -1 && errno == ENOENT)
            #expect(link(scratch.backing + "/a", scratch.backing + "/c") == 0)
            let fd = open(m + "/c", O_CREAT | O_TRUNC | O_WRONLY, 0o644)
            #expect(fd >= 0)
            close(fd)
            #expect(allocatedBytes(m + "/a") == 0)
            #expect(dfUsed(m) == 0, "the inode both names share was emptied: its blocks are free")
            #expect(writeFile(m + "/a", Array(repeating: 2, count: 100_000)) == 0)
            // Measured on the backing file: through the mount, `c`'s attributes may still be the kernel's
            // cached ones from before the write through `a` (seen once: 0 against df's 102,400).
            #expect(dfUsed(m) == allocatedBytes(scratch.backing + "/c"))
            let rescan = try UsageScanner.usedBytes(under: scratch.backing)
            #expect(dfUsed(m) == rescan)
        }
    }

    /// An O_APPEND write lands at the backing file's end, not at the offset the kernel sends (its cached
    /// size, stale once another mount grew the file): the blocks are reserved there. Before, mount a's
    /// 256 KiB append was reserved at 0, where the file had blocks, so it reserved nothing, wrote all of
    /// it, and the volume ended 192 KiB past its capacity (1,216 KiB on a 1 MiB volume).
    @Test func anAppendBeyondAnotherMountsGrowthIsShortAtCapacity() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let options = ["--capacity-bytes", "\(Self.capacity)"]
        let a = try ServedMount(scratch, at: "a", type: "efs", volumeID: "fs-cap", extra: options)
        defer { a.stop() }
        let b = try ServedMount(scratch, at: "b", type: "efs", volumeID: "fs-cap", extra: options)
        defer { b.stop() }
        #expect(writeFile(a.mountpoint + "/log", []) == 0)
        let appender = open(a.mountpoint + "/log", O_WRONLY | O_APPEND)
        #expect(appender >= 0)
        defer { close(appender) }
        // Mount b grows the file to 1 MiB - 64 KiB; mount a's kernel still has its size as 0 (efs caches
        // attributes for 1 s, and a write through O_APPEND does not ask).
        #expect(fill(b.mountpoint + "/log", count: Self.capacity - (64 << 10)) == (Self.capacity - (64 << 10), 0))
        let chunk = [UInt8](repeating: 7, count: 256 << 10)
        let written = write(appender, chunk, chunk.count)
        #expect(written == 64 << 10, "only the 64 KiB left fit; wrote \(written)")
        let rescan = try UsageScanner.usedBytes(under: scratch.backing)
        #expect(rescan == UInt64(Self.capacity), "the backing store holds no more than the capacity")
        #expect(dfUsed(a.mountpoint) == rescan)
        #expect(write(appender, chunk, chunk.count) == -1 && errno == ENOSPC)
    }

    @Test func aWriterRacingOTruncLeavesTheCounterEqualToARescan() throws {
        try withVolume { scratch, mount in
            let m = mount.mountpoint
            #expect(writeFile(m + "/f", Array(repeating: 1, count: 4096)) == 0)
            let writer = open(m + "/f", O_WRONLY | O_APPEND)
            #expect(writer >= 0)
            let stop = Atomic<Bool>(false)
            let thread = Thread {
                let chunk = [UInt8](repeating: 3, count: 8192)
                while !stop.load(ordering: .relaxed) { _ = write(writer, chunk, chunk.count) }
            }
            thread.start()
            for round in 0..<200 {
                if round % 2 == 0 {
                    close(open(m + "/f", O_WRONLY | O_TRUNC))
                } else {
                    // A create with O_TRUNC of a second link of the file, made behind the kernel's
                    // cached absence of the name (see oTruncOfAHardLinkedFileFreesItsBlocksOnce).
                    var st = stat()
                    _ = stat(m + "/t\(round)", &st)
                    link(scratch.backing + "/f", scratch.backing + "/t\(round)")
                    close(open(m + "/t\(round)", O_CREAT | O_WRONLY | O_TRUNC, 0o644))
                }
            }
            stop.store(true, ordering: .relaxed)
            while !thread.isFinished { usleep(1000) }
            close(writer)
            let rescan = try UsageScanner.usedBytes(under: scratch.backing)
            // Failed in about one run in three on ext4 (the machine's /tmp) until a write's counted change
            // was kept within the blocks it touched (`CapacityReservation.growthLimit`): while ext4 writes
            // back delayed allocation, a measurement can show the file with fewer blocks than it has.
            #expect(dfUsed(m) == rescan)
            #expect(dfUsed(m) == duOfFiles(m))
        }
    }
}
