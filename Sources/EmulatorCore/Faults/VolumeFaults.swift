#if os(Linux)
import Glibc

/// The I/O faults in effect on one volume, in a page of shared words every mount of the volume maps
/// (`<volume>/shared/faults`): `berth fault pause-io|latency|clear` write them, each mount reads them before
/// every read, write and sync. With no fault the cost per request is one atomic load (`active`).
///
/// Times are CLOCK_REALTIME nanoseconds, the one clock every process on the machine shares, so that a fault
/// with a duration ends on every mount at the same moment without any process having to clear it.
public final class VolumeFaults: Sendable {
    static let fileName = "faults"
    /// Layout version of the words below.
    static let layout: UInt64 = 1

    enum Word: Int, CaseIterable {
        /// Bit set of `Active`.
        case active
        case pauseEndsAt
        case latencyNanoseconds
        /// Out of 10,000 (FIS takes a whole percentage; basis points leave room for less).
        case latencyShare
        /// Bit set of `LatencyOperations`.
        case latencyOperations
        case latencyEndsAt
    }

    struct Active: OptionSet {
        let rawValue: UInt64
        static let pause = Active(rawValue: 1)
        static let latency = Active(rawValue: 2)
    }

    private let words: SharedWords

    /// Opens (creating, with no fault, if needed) the faults of the volume whose shared directory is given.
    public init(sharedStateDirectory: String) throws(SharedStateError) {
        words = try SharedWords(
            path: sharedStateDirectory + "/" + Self.fileName, count: Word.allCases.count, layout: Self.layout
        ) { () throws(SharedStateError) -> [UInt64] in
            [UInt64](repeating: 0, count: Word.allCases.count)
        }
    }

    // MARK: Writing (berth fault …)

    /// Pauses every read, write and sync until `endsAt` (realtime ns; 0 for until cleared).
    public func setPause(endsAt: UInt64) {
        words.storeInOrder(Word.pauseEndsAt.rawValue, endsAt)
        setActive(.pause, true)
    }

    public func clearPause() { setActive(.pause, false) }

    public func setLatency(_ latency: LatencyFault, endsAt: UInt64) {
        words.storeInOrder(Word.latencyNanoseconds.rawValue, latency.delayNanoseconds)
        words.storeInOrder(Word.latencyShare.rawValue, UInt64(latency.shareOf10000))
        words.storeInOrder(Word.latencyOperations.rawValue, latency.operations.rawValue)
        words.storeInOrder(Word.latencyEndsAt.rawValue, endsAt)
        setActive(.latency, true)
    }

    public func clearLatency() { setActive(.latency, false) }

    private func setActive(_ bit: Active, _ on: Bool) {
        while true {
            let current = words.loadInOrder(Word.active.rawValue)
            let next = on ? current | bit.rawValue : current & ~bit.rawValue
            if current == next || words.compareExchange(Word.active.rawValue, expected: current, desired: next) { return }
        }
    }

    // MARK: Reading (every mount)

    /// The pause in effect at `now`, if any: when it ends (0: until cleared).
    func pause(at now: UInt64) -> UInt64? {
        let active = Active(rawValue: words.load(Word.active.rawValue))
        guard active.contains(.pause) else { return nil }
        let ends = words.load(Word.pauseEndsAt.rawValue)
        return ends == 0 || now < ends ? ends : nil
    }

    /// The latency in effect at `now`, if any.
    func latency(at now: UInt64) -> LatencyFault? {
        let active = Active(rawValue: words.load(Word.active.rawValue))
        guard active.contains(.latency) else { return nil }
        let ends = words.load(Word.latencyEndsAt.rawValue)
        guard ends == 0 || now < ends else { return nil }
        return LatencyFault(
            delayNanoseconds: words.load(Word.latencyNanoseconds.rawValue),
            shareOf10000: Int(clamping: words.load(Word.latencyShare.rawValue)),
            operations: LatencyOperations(rawValue: words.load(Word.latencyOperations.rawValue)))
    }

    /// True when no fault is set at all (whatever its end): the one load a request pays with no fault.
    var isQuiet: Bool { words.load(Word.active.rawValue) == 0 }
}

/// Which requests a latency fault delays (`--operations read|write|all`, FIS's read and write I/O).
public struct LatencyOperations: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let read = LatencyOperations(rawValue: 1)
    public static let write = LatencyOperations(rawValue: 2)
    public static let all: LatencyOperations = [.read, .write]
}

/// A latency fault's parameters (AWS FIS `aws:ebs:volume-io-latency`: a delay for a share of the I/O).
public struct LatencyFault: Sendable, Hashable {
    public var delayNanoseconds: UInt64
    /// Out of 10,000.
    public var shareOf10000: Int
    public var operations: LatencyOperations

    public init(delayNanoseconds: UInt64, shareOf10000: Int, operations: LatencyOperations) {
        self.delayNanoseconds = delayNanoseconds
        self.shareOf10000 = shareOf10000
        self.operations = operations
    }
}

/// What a mount asks before it serves a read, write or sync: wait out a pause (or give up with EIO past
/// the I/O timeout, as Linux's NVMe driver does on an EBS volume) and sleep a latency fault's delay.
public struct FaultGate: Sendable {
    public enum Access: Sendable {
        case read
        /// Writes, truncates that move data, fallocate.
        case write
        /// fsync, fdatasync, and a flush that the kernel sends on close.
        case sync

        var latencyOperations: LatencyOperations { self == .read ? .read : .write }
    }

    let faults: VolumeFaults
    /// How long a request waits out a pause before answering EIO; nil waits until the pause ends.
    public let ioTimeout: Duration?
    /// How often a paused request looks again; a `fault clear` is seen within this.
    static let pollNanoseconds: UInt64 = 2_000_000

    public init(faults: VolumeFaults, ioTimeout: Duration?) {
        self.faults = faults
        self.ioTimeout = ioTimeout
    }

    /// What a request must do now, from the faults in effect at `now` (realtime ns) and a random `draw` in
    /// 0..<10,000 that decides whether it falls in a latency fault's share.
    public enum Step: Equatable, Sendable {
        case proceed
        /// Paused: look again shortly (until the pause ends, the timeout passes or it is cleared).
        case waitForPause
        case delay(nanoseconds: UInt64)
    }

    func step(_ access: Access, now: UInt64, draw: Int) -> Step {
        if faults.isQuiet { return .proceed }
        if faults.pause(at: now) != nil { return .waitForPause }
        if let latency = faults.latency(at: now), latency.operations.contains(access.latencyOperations),
           draw < latency.shareOf10000 {
            return .delay(nanoseconds: latency.delayNanoseconds)
        }
        return .proceed
    }

    /// 0 to go on, or EIO when a pause outlasted the I/O timeout. Blocks the calling thread while paused
    /// and for a latency fault's delay. With no fault: one atomic load.
    public func admit(_ access: Access) -> Int32 {
        if faults.isQuiet { return 0 }
        var waitingSince: UInt64?
        while true {
            switch step(access, now: realtimeNanoseconds(), draw: Int.random(in: 0..<10_000)) {
            case .proceed:
                return 0
            case .delay(let nanoseconds):
                sleepNanoseconds(nanoseconds)
                return 0
            case .waitForPause:
                let now = monotonicNanoseconds()
                let started = waitingSince ?? now
                waitingSince = started
                if let limit = ioTimeout.map(nanoseconds(of:)), now - started >= limit { return EIO }
                sleepNanoseconds(Self.pollNanoseconds)
            }
        }
    }
}

private func nanoseconds(of duration: Duration) -> UInt64 {
    UInt64(clamping: duration.components.seconds) &* 1_000_000_000
        &+ UInt64(clamping: duration.components.attoseconds / 1_000_000_000)
}

func realtimeNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

private func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

private func sleepNanoseconds(_ nanoseconds: UInt64) {
    var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
#endif
