import Foundation

/// The six storage services, always named by these identifiers in every output format
/// (workload-profile.md §Services).
public enum ServiceID: String, CaseIterable, Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    case ebs
    case efs
    case fsxLustre = "fsx-lustre"
    case fsxWindows = "fsx-windows"
    case fsxOpenZFS = "fsx-openzfs"
    case fsxONTAP = "fsx-ontap"

    public var description: String { rawValue }

    /// The order the catalogue lists them in; also the planner's last tie-breaker.
    public static func < (lhs: ServiceID, rhs: ServiceID) -> Bool { lhs.index < rhs.index }

    /// Position in `allCases`, for arrays indexed by service.
    public var index: Int {
        switch self {
        case .ebs: 0
        case .efs: 1
        case .fsxLustre: 2
        case .fsxWindows: 3
        case .fsxOpenZFS: 4
        case .fsxONTAP: 5
        }
    }
}

public enum OperatingSystem: String, CaseIterable, Codable, Sendable {
    case linux, windows
}

public enum LaunchType: String, CaseIterable, Codable, Sendable {
    case fargate, ec2
}

/// Where a task runs: what decides which volumes ECS can give it.
public struct Platform: Hashable, Codable, Sendable, CustomStringConvertible {
    public var os: OperatingSystem
    public var launchType: LaunchType

    public init(os: OperatingSystem, launchType: LaunchType) {
        self.os = os
        self.launchType = launchType
    }

    public static let all: [Platform] = LaunchType.allCases.flatMap { launch in
        OperatingSystem.allCases.map { Platform(os: $0, launchType: launch) }
    }

    public var description: String {
        "\(launchType == .fargate ? "Fargate" : "EC2") \(os == .linux ? "Linux" : "Windows")"
    }
}

/// Where a fact comes from: an AWS documentation page a user can open (its full URL), optionally with a
/// section of the course text Berth started from as a secondary reference ("course text §Heading", the
/// heading in English).
public struct Source: Hashable, Codable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var citation: String

    public init(_ citation: String) { self.citation = citation }
    public init(stringLiteral value: String) { self.citation = value }

    /// The site every `aws(_:)` page lives under.
    public static let awsDocs = "https://docs.aws.amazon.com/"

    /// A section of the course text, by its heading in English: a secondary reference only, always added
    /// to an AWS page (`Catalog.ebsOnECS + .course("…")`).
    public static func course(_ heading: String) -> Source { Source("course text §\(heading)") }
    /// An AWS documentation page, by its path under the documentation site; cited as its full URL.
    public static func aws(_ page: String) -> Source { Source(awsDocs + page) }
    /// A GitHub page (AWS's public containers roadmap), cited as its full URL.
    public static func github(_ path: String, _ note: String) -> Source { Source("https://github.com/\(path) (\(note))") }

    public static func + (lhs: Source, rhs: Source) -> Source { Source("\(lhs.citation); \(rhs.citation)") }

    /// The URLs it cites, in order.
    public var urls: [String] {
        citation.split(separator: " ").map(String.init).filter { $0.hasPrefix("https://") }
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ";,)")) }
    }

    public var description: String { citation }
}

/// A value together with the source that states it.
public struct Sourced<Value: Sendable>: Sendable {
    public var value: Value
    public var source: Source
    public init(_ value: Value, _ source: Source) {
        self.value = value
        self.source = source
    }
}

extension Sourced: Equatable where Value: Equatable {}
