public import StorageCatalog
public import Workloads

/// How one service stands for a profile.
public enum Verdict: String, Codable, Sendable {
    case recommended, viable, excluded
}

public struct Candidate: Sendable {
    public var service: ServiceID
    public var verdict: Verdict
    /// 0 when excluded; otherwise 1–100, higher is better.
    public var score: Int
    public var reasons: [Reason]
    /// The choices that make this service concrete for the profile; nil when excluded.
    public var configuration: Configuration?

    public var isExcluded: Bool { verdict == .excluded }
}

public struct Recommendation: Sendable {
    public var profile: WorkloadProfile
    /// All six services, best first.
    public var candidates: [Candidate]
    /// For each excluded service that would fit, and rank above the pick, with a single change to the
    /// profile: those changes (when every service is excluded, every change that lets one fit).
    public var wayOut: [ServiceID: [String]]

    public var recommended: Candidate? { candidates.first { $0.verdict == .recommended } }
}

/// Ranks the six services for a profile by running every rule of the table.
public struct Planner: Sendable {
    public static let baseScore = 50
    public let rules: [Rule]

    public init(rules: [Rule] = RuleTable.rules) { self.rules = rules }

    public func recommend(_ profile: WorkloadProfile) -> Recommendation {
        let candidates = rank(profile)
        let pick = candidates.first { !$0.isExcluded }
        return Recommendation(profile: profile, candidates: candidates, wayOut: changesThatFit(profile, above: pick))
    }

    func rank(_ profile: WorkloadProfile) -> [Candidate] {
        var reasons = [[Reason]](repeating: [], count: ServiceID.allCases.count)
        for rule in rules {
            for reason in rule.reasons(for: profile) { reasons[reason.service.index].append(reason) }
        }
        var candidates = ServiceID.allCases.map { service -> Candidate in
            let own = reasons[service.index]
            let excluded = own.contains { $0.effect == .exclude }
            let score = excluded ? 0 : min(100, max(1, Self.baseScore + own.reduce(0) { $0 + $1.effect.weight }))
            // An excluded service shows only what excludes it: its preferences no longer matter.
            let shown = excluded ? own.filter { $0.effect == .exclude } : own
            return Candidate(service: service, verdict: excluded ? .excluded : .viable, score: score, reasons: shown,
                             configuration: excluded ? nil : Configurator.configure(service, for: profile))
        }
        candidates.sort { ($0.score, $1.service) > ($1.score, $0.service) }
        if let best = candidates.indices.first, !candidates[best].isExcluded { candidates[best].verdict = .recommended }
        return candidates
    }

    /// Single changes to the profile that would let an excluded service fit, tried one at a time. With a
    /// pick, only changes under which the excluded service would outrank it (its score beats the pick's
    /// score under the same change) are kept: a platform or a requirement ruled out a better service.
    func changesThatFit(_ profile: WorkloadProfile, above pick: Candidate?) -> [ServiceID: [String]] {
        var result: [ServiceID: [String]] = [:]
        let excluded = Set(rank(profile).filter(\.isExcluded).map(\.service))
        guard !excluded.isEmpty else { return [:] }
        let changes = Relaxation.all(for: profile)
        // Two changes at once are worth saying only for a service that no single change lets fit.
        for change in changes.filter({ !$0.isCombined }) + changes.filter(\.isCombined) {
            let ranked = rank(change.profile)
            let pickScore = pick.flatMap { p in ranked.first { $0.service == p.service } }.map(\.score) ?? 0
            for candidate in ranked where !candidate.isExcluded && excluded.contains(candidate.service) {
                if pick != nil && candidate.score <= pickScore { continue }
                if change.isCombined, result[candidate.service] != nil { continue }
                result[candidate.service, default: []].append(change.description)
            }
        }
        return result
    }
}

/// One change to a profile that the planner tries when nothing fits.
struct Relaxation {
    var description: String
    var profile: WorkloadProfile
    var isCombined = false

    static func all(for profile: WorkloadProfile) -> [Relaxation] {
        var changes: [Relaxation] = []
        for launch in LaunchType.allCases where launch != profile.platform.launchType {
            var p = profile
            p.platform.launchType = launch
            changes.append(Relaxation(description: "the \(launch == .ec2 ? "EC2" : "Fargate") launch type", profile: p))
        }
        for os in OperatingSystem.allCases where os != profile.platform.os {
            // .NET Framework runs only in Windows containers: moving it to Linux means moving to .NET.
            guard !(os == .linux && profile.platform.runtime == .dotnetFramework) else { continue }
            var p = profile
            p.platform.os = os
            changes.append(Relaxation(description: "\(os == .linux ? "Linux" : "Windows") containers", profile: p))
        }
        if profile.platform.launchType == .fargate, profile.platform.os == .windows, profile.platform.runtime != .dotnetFramework {
            var p = profile
            p.platform.launchType = .ec2
            p.platform.os = .linux
            changes.append(Relaxation(description: "the EC2 launch type with Linux containers", profile: p, isCombined: true))
        }
        for feature in profile.features {
            var p = profile
            p.features.removeAll { $0 == feature }
            changes.append(Relaxation(description: "doing without \(feature.rawValue)", profile: p))
        }
        for need in profile.protocols {
            var p = profile
            p.protocols.removeAll { $0 == need }
            changes.append(Relaxation(description: "not requiring \(need.rawValue)", profile: p))
        }
        if profile.access.sharing == .shared {
            var p = profile
            p.access.sharing = .exclusive
            p.access.tasks = 1
            changes.append(Relaxation(description: "one task at a time (sharing: exclusive)", profile: p))
        }
        return changes
    }
}
