import BerthTestSupport
import EmulatorCore
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Snapshots of a volume that two mounts keep writing (emulator.md §Snapshots): writers are held back
/// only for an instant, and what they write while the snapshot is pending never reaches it.
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct SnapshotMountTests {
    typealias Berth = CLIMountTests.Berth

    static let blockSize = 4096
    static let blocks = 1024  // 4 MiB per file

    /// Write `index` of a writer goes to block `(index * 7919) % blocks` (a permutation: 7919 is prime),
    /// filled with the index and the writer's seed, so that a file's contents say how many of its
    /// writes it holds.
    static func block(_ index: Int, seed: UInt8) -> [UInt8] {
        var bytes = [UInt8](repeating: seed, count: blockSize)
        withUnsafeBytes(of: UInt64(index + 1).littleEndian) { raw in
            for offset in stride(from: 0, to: blockSize, by: 16) { bytes.replaceSubrange(offset..<(offset + 8), with: raw) }
        }
        return bytes
    }

    static func place(_ index: Int) -> Int { (index * 7919) % blocks }

    /// The file after the first `count` writes, from `original`.
    static func after(_ count: Int, original: [UInt8], seed: UInt8) -> [UInt8] {
        var bytes = original
        for index in max(0, count - blocks)..<count {
            let offset = place(index) * blockSize
            let written = block(index, seed: seed)
            for position in 0..<blockSize { bytes[offset + position] = written[position] }
        }
        return bytes
    }

    /// How many writes the file holds: one more than the highest write index found in it.
    static func writesHeld(_ bytes: [UInt8], seed: UInt8) -> Int {
        var highest = 0
        for block in 0..<blocks {
            let offset = block * blockSize
            guard bytes[(offset + 8)..<(offset + 16)].allSatisfy({ $0 == seed }), bytes[offset + blockSize - 1] == seed,
                  bytes[offset..<(offset + 8)].elementsEqual(bytes[(offset + 16)..<(offset + 24)]) else { continue }
            let value = bytes[offset..<(offset + 8)].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            highest = max(highest, Int(value))
        }
        return highest
    }

    final class Writer: @unchecked Sendable {
        let path: String
        let seed: UInt8
        let acknowledged = Atomic<Int>(0)
        let started = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let failure = Mutex<String?>(nil)
        private var thread: Thread?

        init(path: String, seed: UInt8) {
            self.path = path
            self.seed = seed
        }

        func start() {
            let thread = Thread { [self] in
                let fd = open(path, O_WRONLY)
                guard fd >= 0 else {
                    failure.withLock { $0 = "open \(path): \(errno)" }
                    return
                }
                defer { close(fd) }
                var index = 0
                while !stop.load(ordering: .acquiring) {
                    started.store(index + 1, ordering: .releasing)
                    let bytes = SnapshotMountTests.block(index, seed: seed)
                    let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(SnapshotMountTests.place(index) * SnapshotMountTests.blockSize)) }
                    guard written == SnapshotMountTests.blockSize, fdatasync(fd) == 0 else {
                        failure.withLock { $0 = "write \(index) to \(path): \(errno)" }
                        return
                    }
                    index += 1
                    acknowledged.store(index, ordering: .releasing)
                }
            }
            self.thread = thread
            thread.start()
        }
    }

    /// Two mounts of one EFS file system (in two AZs) write and fdatasync all the time while snapshots
    /// are taken: each snapshot holds, for each writer's file, exactly the state after some number of
    /// its writes — all acknowledged before `berth snapshot create` started, none begun after it
    /// returned — and restores to it.
    @Test func twoMountsWritingDuringTheCopyNeverReachTheSnapshot() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let a = try berth.mountpoint("a"), b = try berth.mountpoint("b")
        #expect(try berth.run("mount", volume, a, "--az", "us-east-1a", "--background").status == 0)
        #expect(try berth.run("mount", volume, b, "--az", "us-east-1b", "--background").status == 0)
        defer {
            _ = try? berth.run("unmount", a)
            _ = try? berth.run("unmount", b)
        }
        let originals = (0..<2).map { _ in
            [UInt8](FileHandle(forReadingAtPath: "/dev/urandom")?.readData(ofLength: Self.blocks * Self.blockSize) ?? Data())
        }
        #expect(writeFile(a + "/one", originals[0]) == 0)
        #expect(writeFile(a + "/two", originals[1]) == 0)
        // Something for the copy to take a while over, which nobody writes.
        #expect(writeFile(a + "/ballast", [UInt8](repeating: 9, count: 32 << 20)) == 0)
        let writers = [Writer(path: a + "/one", seed: 0xA1), Writer(path: b + "/two", seed: 0xB2)]
        for writer in writers { writer.start() }
        defer { for writer in writers { writer.stop.store(true, ordering: .releasing) } }
        for round in 0..<3 {
            for writer in writers {
                #expect(waitUntil(timeout: 10) { writer.acknowledged.load(ordering: .acquiring) > 50 * (round + 1) || writer.failure.withLock { $0 } != nil })
            }
            let before = writers.map { $0.acknowledged.load(ordering: .acquiring) }
            let run = try berth.run("snapshot", "create", volume, "--wait")
            let after = writers.map { $0.started.load(ordering: .acquiring) }
            #expect(run.status == 0, "\(run.stderr)")
            let duringCopy = zip(after, before).map { $0 - $1 }
            let snapshot = run.trimmedStdout
            let restored = try berth.createVolume("--type", "efs", "--az", "us-east-1c", "--from-snapshot", snapshot)
            for (index, name) in ["one", "two"].enumerated() {
                let seed = writers[index].seed
                for source in [berth.state + "/snapshots/\(snapshot)/data/\(name)", berth.state + "/volumes/\(restored)/data/\(name)"] {
                    let bytes = readFile(source) ?? []
                    guard bytes.count == originals[index].count else {
                        Issue.record("\(source): \(bytes.count) bytes")
                        continue
                    }
                    let held = Self.writesHeld(bytes, seed: seed)
                    #expect(held >= before[index], "\(name): every write acknowledged before the snapshot (\(held) < \(before[index]))")
                    #expect(held <= after[index], "\(name): nothing begun after it returned (\(held) > \(after[index]))")
                    let exact = bytes == Self.after(held, original: originals[index], seed: seed)
                    #expect(exact, "\(name) is exactly the file after \(held) writes, no later write in any block")
                }
            }
            // The writers were not held for the copy: they went on writing while it ran.
            #expect(duringCopy.allSatisfy { $0 > 1 }, "writes during the snapshot: \(duringCopy)")
            #expect(try berth.run("volume", "delete", restored).status == 0)
        }
        for writer in writers {
            writer.stop.store(true, ordering: .releasing)
            #expect(writer.failure.withLock { $0 } == nil)
        }
        usleep(200_000)
    }
}
