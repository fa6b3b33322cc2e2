#if canImport(Glibc)
import Glibc
import Synchronization

/// Pauses every change on every mount of one volume while a snapshot copies its data, so that the copy
/// holds exactly what had been written before the snapshot began and no torn file (emulator.md §Common to
/// all; AWS docs ebs/latest/userguide/ebs-snapshots.html: a snapshot is point-in-time and holds the data
/// written when it was initiated).
///
/// Shared state, in the volume's shared directory:
/// - `freeze`: word 0 is the generation being frozen (0: none); word 1 hands out generations.
/// - `freeze.lock`: held (flock, exclusive) by the snapshotter for as long as word 0 is set, so the kernel
///   says whether a set word still has a live owner.
/// - `freeze-ack.<pid>`: the last generation mount server `<pid>` confirmed it has drained.
///
/// Each mount server counts its changes in flight. A change starts only while no generation is frozen
/// (`enterChange`), checking again after counting itself in, so that a freeze and a change never both
/// think they came first. The server's watcher (`acknowledgeIfRequested`, every few milliseconds) waits
/// until its changes in flight reach zero and then acknowledges; the snapshotter copies once every mount
/// of the volume has acknowledged or died.
public final class WriteFreeze: Sendable {
    private let words: SharedWords
    private let acknowledgement: SharedWords
    private let acknowledgementPath: String
    private let changesInFlight = Atomic<Int>(0)
    private let lockFD: Int32
    /// When this server first saw the current generation, to notice a snapshotter that died holding it.
    private let frozenSince = Mutex<(generation: UInt64, at: timespec)?>(nil)
    /// Writes that may be the first part of one write() the kernel sends in two or more requests
    /// (`enterWrite`), one per file handle; `awaitedCount` mirrors its length for a lock-free fast path.
    private let awaitedContinuations = Mutex<[AwaitedContinuation]>([])
    private let awaitedCount = Atomic<Int>(0)

    /// How long a freeze waits for the rest of a write() whose first part ended on a page boundary.
    /// The kernel sends the rest as soon as the first part is answered, from the same system call, so
    /// it is due within microseconds; a write() that really ended there costs the snapshot this much pause.
    public static let defaultContinuationGrace: UInt64 = 10_000_000
    private let continuationGrace: UInt64

    struct AwaitedContinuation {
        var handle: UInt64
        var offset: Int64
        var deadline: UInt64
    }

    /// The mount server's side.
    public init(sharedStateDirectory: String, continuationGraceNanoseconds: UInt64 = defaultContinuationGrace) throws(SharedStateError) {
        continuationGrace = continuationGraceNanoseconds
        Self.removeStaleAcknowledgements(sharedStateDirectory)
        words = try Self.openWords(sharedStateDirectory)
        acknowledgementPath = Self.acknowledgementPath(sharedStateDirectory, pid: getpid())
        acknowledgement = try Self.openAcknowledgement(sharedStateDirectory, pid: getpid())
        let lockPath = sharedStateDirectory + "/freeze.lock"
        lockFD = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw .system(operation: "open", path: lockPath, errno: errno) }
    }

    /// The server is done: its acknowledgement file goes with it (one per server pid would pile up).
    deinit {
        close(lockFD)
        unlink(acknowledgementPath)
    }

    /// Waits while a snapshot is being taken, then counts one change in flight. Pair with `leaveChange`.
    @inline(__always)
    public func enterChange() {
        while true {
            if words.loadInOrder(0) == 0 {
                changesInFlight.wrappingAdd(1, ordering: .sequentiallyConsistent)
                if words.loadInOrder(0) == 0 { return }
                changesInFlight.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            }
            usleep(200)
        }
    }

    @inline(__always)
    public func leaveChange() {
        changesInFlight.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// `enterChange` for a WRITE request. The Linux FUSE client sends one buffered write() as several
    /// requests when it starts in a page the kernel does not hold whole (fs/fuse/file.c,
    /// fuse_fill_write_pages stops after such a page: a 76-byte append across a page boundary arrives
    /// as two WRITEs) or is longer than max_write. A freeze that fell between them would capture part of
    /// one write(), a torn file. So a write that continues where the same handle's last write ended on
    /// a page boundary is let in while a freeze is requested but not yet acknowledged, and the watcher
    /// waits for it (`wrote`, `acknowledgeIfRequested`). Pair with `leaveChange`.
    /// Returns whether the write was let in as such a rest: pass it on to `wrote`.
    @inline(__always)
    @discardableResult
    public func enterWrite(handle: UInt64, offset: Int64) -> Bool {
        if awaitedCount.load(ordering: .acquiring) > 0 {
            let continues = awaitedContinuations.withLock { awaited -> Bool in
                guard let index = awaited.firstIndex(where: { $0.handle == handle && $0.offset == offset }) else {
                    // Rests that never came stop costing this lock once their grace is over.
                    Self.dropExpired(&awaited)
                    awaitedCount.store(awaited.count, ordering: .releasing)
                    return false
                }
                awaited.remove(at: index)
                awaitedCount.store(awaited.count, ordering: .releasing)
                // Counted under the lock the watcher checks under, so it sees this write before acknowledging.
                changesInFlight.wrappingAdd(1, ordering: .sequentiallyConsistent)
                return true
            }
            if continues { return true }
        }
        enterChange()
        return false
    }

    /// Notes that a WRITE request counted by `enterWrite` wrote `written` bytes at `offset`. Call it
    /// before answering the request: the kernel sends a rest only once the first part is answered, and
    /// must find it awaited. One that may have a rest to come makes a freeze wait for it (at most the
    /// continuation grace, 10 ms).
    /// `continuation`: what `enterWrite` returned. A rest let in past a requested freeze awaits no rest
    /// of its own: otherwise a sequential writer (dd bs=1M: every write max_write long, each starting
    /// where the last ended) would go on past the freeze for as long as it writes, and the snapshot
    /// would wait for it. So one write() is whole in a snapshot when the kernel sends it in two parts;
    /// one longer than max_write plus a page may be cut after its second (as on EBS, where a write in
    /// flight is not atomic either).
    @inline(__always)
    public func wrote(handle: UInt64, offset: Int64, written: Int, continuation: Bool = false) {
        if continuation && words.loadInOrder(0) != 0 { return }
        let end = offset &+ Int64(written), pageMask = Int64(Self.pageSize - 1)
        // Only these can have a rest: a write from inside a page up to a page boundary (the kernel stops
        // after a page it does not hold whole), or a long one cut at max_write. A write that starts on a
        // page boundary goes whole up to max_write (measured: one 300 KiB pwrite, one WRITE).
        if written > 0, end & pageMask == 0, offset & pageMask != 0 || written >= Self.longestUnsplitWrite {
            awaitContinuation(handle: handle, at: end)
        } else if awaitedCount.load(ordering: .acquiring) > 0 {
            awaitedContinuations.withLock { awaited in
                awaited.removeAll { $0.handle == handle }
                awaitedCount.store(awaited.count, ordering: .releasing)
            }
        }
    }

    /// Keeps the table to the writes of the last grace period, so the look-ups on the write path stay short.
    private static func dropExpired(_ awaited: inout [AwaitedContinuation]) {
        guard !awaited.isEmpty else { return }
        let now = monotonicNanoseconds()
        awaited.removeAll { $0.deadline <= now }
    }

    private func awaitContinuation(handle: UInt64, at offset: Int64) {
        let deadline = Self.monotonicNanoseconds() &+ continuationGrace
        awaitedContinuations.withLock { awaited in
            Self.dropExpired(&awaited)
            if let index = awaited.firstIndex(where: { $0.handle == handle }) {
                awaited[index] = AwaitedContinuation(handle: handle, offset: offset, deadline: deadline)
            } else {
                awaited.append(AwaitedContinuation(handle: handle, offset: offset, deadline: deadline))
            }
            awaitedCount.store(awaited.count, ordering: .releasing)
        }
    }

    /// True once nothing is in flight and no write's rest is awaited; from then on a continuation waits
    /// for the thaw like any change, so the caller may acknowledge.
    private func drained() -> Bool {
        if awaitedCount.load(ordering: .acquiring) == 0 {
            return changesInFlight.load(ordering: .sequentiallyConsistent) == 0
        }
        return awaitedContinuations.withLock { awaited in
            Self.dropExpired(&awaited)
            awaitedCount.store(awaited.count, ordering: .releasing)
            return awaited.isEmpty && changesInFlight.load(ordering: .sequentiallyConsistent) == 0
        }
    }

    /// Waits until no change counted by `enterChange` is in flight (a power loss applies its journal then).
    public func waitForChangesInFlight() {
        while changesInFlight.load(ordering: .sequentiallyConsistent) != 0 { usleep(50) }
    }

    /// Runs `body` (a power loss's undo, on the watcher's thread) as one change that waits for every
    /// other change in flight: never while a snapshot captures its point in time (it waits for the thaw,
    /// acknowledging the freeze meanwhile, as the watcher does), and a freeze requested while it runs
    /// is acknowledged only after it. So a snapshot's point in time is wholly before or wholly after a
    /// power loss, never half-way through its undo.
    public func asOneChange<T>(_ body: () -> T) -> T {
        while true {
            acknowledgeIfRequested()
            if words.loadInOrder(0) == 0 {
                changesInFlight.wrappingAdd(1, ordering: .sequentiallyConsistent)
                if words.loadInOrder(0) == 0 { break }
                changesInFlight.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            }
            usleep(200)
        }
        defer { leaveChange() }
        while changesInFlight.load(ordering: .sequentiallyConsistent) != 1 { usleep(50) }
        return body()
    }

    /// The watcher's part: acknowledges a requested freeze once this server's changes in flight drained,
    /// and clears a freeze whose snapshotter died (nobody holds `freeze.lock` any more).
    public func acknowledgeIfRequested() {
        let generation = words.loadInOrder(0)
        guard generation != 0 else { return }
        if acknowledgement.load(0) != generation {
            while !drained() { usleep(50) }
            acknowledgement.store(0, generation)
        }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let since = frozenSince.withLock { seen -> timespec in
            if seen?.generation != generation { seen = (generation, now) }
            return seen?.at ?? now
        }
        // A live snapshotter holds the lock exclusively for as long as the word is set; if a shared lock
        // can be had, it died (the kernel dropped its lock) and the freeze would never end.
        if now.tv_sec - since.tv_sec >= 1, flock(lockFD, LOCK_SH | LOCK_NB) == 0 {
            _ = words.compareExchange(0, expected: generation, desired: 0)
            flock(lockFD, LOCK_UN)
        }
    }

    /// The snapshotter's side: freezes changes on every mount of the volume, waits until each server in
    /// `servers` acknowledged (or is gone), runs `body`, and thaws, whatever `body` does. Snapshotters of
    /// one volume take turns.
    public static func whileFrozen<T>(
        sharedStateDirectory: String, servers: [Int32], timeout: Double = 30,
        _ body: () throws -> T
    ) throws -> T {
        let lockPath = sharedStateDirectory + "/freeze.lock"
        let lockFD = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw SharedStateError.system(operation: "open", path: lockPath, errno: errno) }
        defer { close(lockFD) }
        while flock(lockFD, LOCK_EX) != 0 {
            guard errno == EINTR else { throw SharedStateError.system(operation: "flock", path: lockPath, errno: errno) }
        }
        defer { flock(lockFD, LOCK_UN) }
        // Servers that exited meanwhile, whose files this opening recreated, or that were killed.
        defer { removeStaleAcknowledgements(sharedStateDirectory) }
        let words = try openWords(sharedStateDirectory)
        let acknowledgements = try servers.map { pid throws(SharedStateError) in
            (pid, try openAcknowledgement(sharedStateDirectory, pid: pid))
        }
        let generation = words.add(1, 1)
        words.storeInOrder(0, generation)
        defer { words.storeInOrder(0, 0) }
        let deadline = Self.monotonicSeconds() + timeout
        for (pid, acknowledgement) in acknowledgements {
            while acknowledgement.load(0) != generation {
                if ServerProcess.identify(pid: pid) == nil { break }  // gone, or a zombie: it serves nothing
                if Self.monotonicSeconds() > deadline { throw FreezeTimeout(pid: pid, seconds: timeout) }
                usleep(500)
            }
        }
        return try body()
    }

    public struct FreezeTimeout: Error, CustomStringConvertible {
        public var pid: Int32
        public var seconds: Double
        public var description: String {
            "the mount served by pid \(pid) did not pause its writes within \(seconds) s; no snapshot was taken"
        }
    }

    static func openWords(_ directory: String) throws(SharedStateError) -> SharedWords {
        try SharedWords(path: directory + "/freeze", count: 2, layout: 3) { () throws(SharedStateError) -> [UInt64] in [0, 0] }
    }

    static func openAcknowledgement(_ directory: String, pid: Int32) throws(SharedStateError) -> SharedWords {
        try SharedWords(path: acknowledgementPath(directory, pid: pid), count: 1, layout: 4) { () throws(SharedStateError) -> [UInt64] in [0] }
    }

    static let acknowledgementPrefix = "freeze-ack."

    static func acknowledgementPath(_ directory: String, pid: Int32) -> String {
        directory + "/" + acknowledgementPrefix + String(pid)
    }

    /// Removes the acknowledgement files of servers that are no longer running (killed, so their
    /// `deinit` never ran).
    static func removeStaleAcknowledgements(_ directory: String) {
        guard let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        var dead: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix(acknowledgementPrefix), let pid = Int32(name.dropFirst(acknowledgementPrefix.count)),
                  pid > 0, ServerProcess.identify(pid: pid) == nil else { continue }
            dead.append(name)
        }
        for name in dead { unlink(directory + "/" + name) }
    }

    /// Writes at least this long may have been cut at the mount's max_write (1 MiB) or max_pages.
    static let longestUnsplitWrite = 128 * 1024

    static let pageSize = sysconf(Int32(_SC_PAGESIZE)) > 0 ? sysconf(Int32(_SC_PAGESIZE)) : 4096

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
#endif
