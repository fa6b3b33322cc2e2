import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The fuse module's switch for FUSE over io_uring (Linux 6.14+ built with CONFIG_FUSE_IO_URING).
let fuseRingSwitch = "/sys/module/fuse/parameters/enable_uring"

/// FUSE over io_uring (CFuseTransport fuse_ring.c; SEMANTICS.md, *FUSE over io_uring*): with the kernel's
/// switch on and BERTH_FUSE_IO_URING=1, requests reach the server through its ring threads, and what the
/// mount does is unchanged. The rest of the suite runs through /dev/fuse unless both are set for it (the
/// whole suite passes either way); these tests turn the switch on for their own mounts and put it back.
@Suite(.serialized, .enabled(if: canMount && FileManager.default.fileExists(atPath: fuseRingSwitch),
                             "needs root, /dev/fuse and a kernel with FUSE over io_uring"))
struct IOUringMountTests {
    /// Turns the switch on for `body` and puts back what it was. The kernel reads it when a mount
    /// starts, and a server asks for the rings only with BERTH_FUSE_IO_URING=1, so only the mounts these
    /// tests start with that variable use them.
    static func withRingsOn(_ body: () throws -> Void) throws {
        let before = (try? String(contentsOfFile: fuseRingSwitch, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "N"
        try "Y".write(toFile: fuseRingSwitch, atomically: false, encoding: .utf8)
        defer { try? before.write(toFile: fuseRingSwitch, atomically: false, encoding: .utf8) }
        try body()
    }

    /// A mount whose server is started with BERTH_FUSE_IO_URING set to `value` (nil: unset).
    static func mount(_ scratch: Scratch, volumeID: String, ringVariable value: String?) throws -> ServedMount {
        let previous = getenv("BERTH_FUSE_IO_URING").map { String(cString: $0) }
        if let value { setenv("BERTH_FUSE_IO_URING", value, 1) } else { unsetenv("BERTH_FUSE_IO_URING") }
        defer {
            if let previous { setenv("BERTH_FUSE_IO_URING", previous, 1) } else { unsetenv("BERTH_FUSE_IO_URING") }
        }
        return try ServedMount(scratch, at: "a", type: "ebs", volumeID: volumeID)
    }

    /// The server's ring threads (named berth-ring-<cpu>) and the CPU time they have run, in ns.
    static func ringThreads(of pid: Int32) -> (count: Int, nanoseconds: UInt64) {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var count = 0
        var total: UInt64 = 0
        for task in tasks {
            let name = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
            guard name.hasPrefix("berth-ring-") else { continue }
            count += 1
            let schedstat = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/schedstat", encoding: .utf8)) ?? ""
            total += schedstat.split(separator: " ").first.flatMap { UInt64($0) } ?? 0
        }
        return (count, total)
    }

    /// A lock wait parked in the server holds its ring entry until the holder lets go; the grant is
    /// answered from another thread than the one that took the request.
    static let lockWaitScript = """
        import fcntl, subprocess, sys, time
        path = sys.argv[1]
        holder = open(path, "r+")
        fcntl.lockf(holder, fcntl.LOCK_EX)
        waiter = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time\\nf = open(sys.argv[1], 'r+')\\nt = time.monotonic()\\nfcntl.lockf(f, fcntl.LOCK_EX)\\nprint('granted', round(time.monotonic() - t, 2))", path], stdout=subprocess.PIPE)
        time.sleep(0.5)
        fcntl.lockf(holder, fcntl.LOCK_UN)
        print(waiter.communicate(timeout=20)[0].decode().strip())
        """

    @Test func requestsGoThroughTheRingsAndTheMountBehavesAsThroughDevFuse() throws {
        try Self.withRingsOn {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let mount = try Self.mount(scratch, volumeID: "vol-ring", ringVariable: "1")
            defer { mount.stop() }
            let m = mount.mountpoint
            let server = mount.process.processIdentifier
            // The ring threads start once the INIT reply is written, just after the server says it is ready
            // (requests meanwhile come through /dev/fuse).
            #expect(waitUntil { Self.ringThreads(of: server).count >= 2 }, "the server runs ring threads once the kernel offers the rings")
            let before = Self.ringThreads(of: server).nanoseconds

            // Data both ways: a write, then reads straight into the ring's buffer, larger than one page.
            let data = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            #expect(writeFile(m + "/data.bin", data) == 0)
            #expect(readFile(m + "/data.bin") == data)
            var info = stat()
            #expect(stat(scratch.backing + "/data.bin", &info) == 0 && info.st_size == 3_000_000)
            // Names: creates, a listing with attributes, a rename, removals.
            try FileManager.default.createDirectory(atPath: m + "/d", withIntermediateDirectories: false)
            for index in 0..<200 { #expect(writeFile(m + "/d/f\(index)", Array(repeating: 1, count: index)) == 0) }
            let listed = try FileManager.default.contentsOfDirectory(atPath: m + "/d")
            #expect(listed.count == 200)
            #expect(stat(m + "/d/f150", &info) == 0 && info.st_size == 150)
            #expect(rename(m + "/d/f1", m + "/renamed") == 0)
            #expect(unlink(m + "/d/f2") == 0)
            #expect(!FileManager.default.fileExists(atPath: scratch.backing + "/d/f2"))
            #expect(readFile(m + "/renamed") == [1])
            // A request answered later from another thread.
            let lines = try TenantIsolationMountTests.python(Self.lockWaitScript, [m + "/renamed"], timeout: 30,
                                                             onTimeout: { mount.stop() })
            let granted = lines?.first.flatMap { $0.hasPrefix("granted ") ? Double($0.dropFirst(8)) : nil }
            #expect(granted.map { $0 >= 0.4 } == true, "the waiter is granted once the holder lets go: \(lines ?? [])")

            let after = Self.ringThreads(of: server).nanoseconds
            #expect(after > before + 1_000_000, "the ring threads served the requests: \(after - before) ns of CPU")
        }
    }

    /// Without BERTH_FUSE_IO_URING=1 (unset, or 0) a server keeps to read(2) and write(2) on /dev/fuse even
    /// where the kernel offers the rings.
    @Test(arguments: [nil, "0"] as [String?])
    func withoutTheVariableAServerKeepsToDevFuse(value: String?) throws {
        try Self.withRingsOn {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let mount = try Self.mount(scratch, volumeID: "vol-noring", ringVariable: value)
            defer { mount.stop() }
            #expect(writeFile(mount.mountpoint + "/f", [1, 2, 3]) == 0)
            #expect(readFile(mount.mountpoint + "/f") == [1, 2, 3])
            #expect(Self.ringThreads(of: mount.process.processIdentifier).count == 0)
        }
    }
}
