public import Foundation

/// An injected fault's id: `fault-` and 17 hex digits, the shape of Berth's other ids (`ResourceIDs.swift`).
public struct FaultID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard isHexID(rawValue, prefix: "fault-", digits: 17) else { return nil }
        self.rawValue = rawValue
    }

    public init(parsing text: String) throws(StateError) {
        guard let id = FaultID(rawValue: text) else { throw .faultNotFound(text) }
        self = id
    }

    static func generate() -> FaultID { FaultID(unchecked: randomHexID(prefix: "fault-", digits: 17)) }
    private init(unchecked: String) { rawValue = unchecked }

    public var description: String { rawValue }
    public static func < (lhs: FaultID, rhs: FaultID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The faults `berth fault` injects, named as the contract names the commands (emulator.md §Faults beyond
/// an outage), each standing for an AWS FIS action.
public enum FaultKind: String, Codable, Sendable, CaseIterable {
    /// AWS FIS `aws:ebs:pause-volume-io`
    /// (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-fis-pause-io.html).
    case pauseIO = "pause-io"
    /// AWS FIS `aws:ebs:volume-io-latency`
    /// (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-fis-latency-injection.html).
    case latency

    public var fisAction: String {
        switch self {
        case .pauseIO: "aws:ebs:pause-volume-io"
        case .latency: "aws:ebs:volume-io-latency"
        }
    }
}

/// What `berth fault pause-io|latency` asks for.
public enum FaultRequest: Sendable, Equatable {
    case pauseIO(VolumeID, duration: Duration)
    case latency(VolumeID, delay: Duration, percent: Int, operations: LatencyOperationsChoice, duration: Duration?)

    public var volumeID: VolumeID {
        switch self {
        case .pauseIO(let id, _), .latency(let id, _, _, _, _): id
        }
    }
}

/// `--operations read|write|all`.
public enum LatencyOperationsChoice: String, Codable, Sendable, CaseIterable {
    case read, write, all

    public var operations: LatencyOperations {
        switch self {
        case .read: .read
        case .write: .write
        case .all: .all
        }
    }
}

/// One injected fault, as `berth fault list` shows it.
public struct Fault: Sendable, Equatable {
    public var id: FaultID
    public var kind: FaultKind
    public var volumeID: VolumeID
    public var startedAt: Date
    /// Nil: until cleared.
    public var endsAt: Date?
    public var clearedAt: Date?
    /// Latency faults only.
    public var delayMilliseconds: Int?
    public var percent: Int?
    public var operations: LatencyOperationsChoice?

    public enum Status: String, Sendable {
        /// In effect on every mount of the volume.
        case active
        /// Its duration ran out.
        case completed
        /// `berth fault clear` ended it.
        case stopped
    }

    /// FIS's experiment states for a finished action: `completed` when its duration ran out, `stopped` when
    /// someone stopped it.
    public func status(at now: Date = Date()) -> Status {
        if clearedAt != nil { return .stopped }
        if let endsAt, endsAt <= now { return .completed }
        return .active
    }
}

/// A volume's status check result (EC2 `DescribeVolumeStatus`: ok, impaired, …).
public enum VolumeStatus: String, Sendable {
    case ok
    case impaired
}
