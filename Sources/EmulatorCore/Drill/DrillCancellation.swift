import Synchronization

/// Asks a running drill to stop: set from a signal handler or another thread, read by the drill at each
/// of its waits. It only asks; the drill stops where it is safe, and its caller cleans up.
public final class DrillCancellation: Sendable {
    private let signal = Atomic<Int32>(0)

    public init() {}

    /// Requests the stop; `signalNumber` is what the process should exit with (128 + it), 0 for none.
    public func request(signalNumber: Int32 = 0) {
        _ = signal.compareExchange(expected: 0, desired: signalNumber == 0 ? -1 : signalNumber, ordering: .sequentiallyConsistent)
    }

    public var isRequested: Bool { signal.load(ordering: .sequentiallyConsistent) != 0 }

    /// The signal that requested the stop, if one did.
    public var signalNumber: Int32? {
        let value = signal.load(ordering: .sequentiallyConsistent)
        return value > 0 ? value : nil
    }
}
