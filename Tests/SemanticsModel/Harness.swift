public import Foundation

/// What a sequence runs against: a real mount through paths today (`PathDriver`); the semantics core
/// (over its backing store) once it exists, through an adapter: `reset` makes a core over a fresh
/// backing store (applying `prepared` with a writable configuration), `apply` walks the step's path
/// with the core's lookup from the root inode (following links as `ReferenceModel.resolve` does),
/// makes the one core call the step names, and turns its answer into an `Outcome` (`.error(errno)`
/// for a refusal); locks and outages go through the core's lock table and reachability.
public protocol OperationTarget: AnyObject {
    /// A fresh volume holding what `prepared` makes (applied as on a writable volume, before any mount),
    /// with no lock held and no outage.
    func reset(prepared: [FileOperation]) throws
    func apply(_ operation: FileOperation) -> Outcome
    /// Lets go of everything (descriptors, mounts).
    func close()
}

/// A step where the target answered something the model does not allow.
public struct Divergence: Sendable, CustomStringConvertible {
    /// The sequence up to and including the step that diverged.
    public var operations: [FileOperation]
    public var expected: Expectation
    public var actual: Outcome

    public var description: String {
        var lines = operations.dropLast().map { "    " + $0.description + "," }
        lines.append("    " + (operations.last?.description ?? "") + ",  // expected \(expected), got \(actual)")
        return lines.joined(separator: "\n")
    }
}

/// A divergence found from one seed, shrunk.
public struct ModelFailure: Sendable, CustomStringConvertible {
    public var configuration: ModelConfiguration
    public var seed: UInt64
    public var original: Divergence
    public var shrunk: Divergence
    public var attempts: Int

    public var description: String {
        """
        \(configuration): seed \(seed) diverged at step \(original.operations.count); \
        shrunk to \(shrunk.operations.count) step(s) in \(attempts) rerun(s):
        \(shrunk)
        replay: BERTH_MODEL_SEED=\(seed)
        """
    }
}

/// Runs seeded sequences against a target and the model, compares after every step, and shrinks what
/// diverges by delta debugging: drop chunks (halves, quarters, …) and then single steps, each candidate
/// re-run from a fresh volume, keeping any candidate that still diverges.
public struct ModelHarness {
    public var configuration: ModelConfiguration
    /// Made before each run, on a writable volume (e.g. files for a read-only attachment to find).
    public var prepared: [FileOperation]
    /// Reruns allowed while shrinking one failure.
    public var shrinkBudget = 400
    /// Whether generated sequences include outages.
    public var outages = false
    /// Which generated steps a run keeps (a target without some operation, such as the semantics core
    /// without the kernel's locks, drops them).
    public var keeps: @Sendable (FileOperation) -> Bool = { _ in true }

    public init(_ configuration: ModelConfiguration, prepared: [FileOperation] = []) {
        self.configuration = configuration
        self.prepared = prepared
    }

    /// A fresh model holding `prepared`.
    public func freshModel() -> ReferenceModel {
        var writable = configuration
        writable.readOnly = false
        writable.mounts = 1
        var model = ReferenceModel(writable)
        for operation in prepared { _ = model.apply(operation) }
        return model.reconfigured(configuration)
    }

    /// The first step where `target` leaves what the model allows, from a fresh volume; nil if none.
    public func firstDivergence(_ operations: [FileOperation], on target: some OperationTarget) throws -> Divergence? {
        try target.reset(prepared: prepared)
        var model = freshModel()
        for (index, operation) in operations.enumerated() {
            let expected = model.apply(operation)
            let actual = target.apply(operation)
            if !expected.admits(actual) {
                return Divergence(operations: Array(operations[...index]), expected: expected, actual: actual)
            }
        }
        return nil
    }

    /// The smallest sequence found that still diverges, and the reruns it took. Delta debugging drops
    /// chunks of steps, then single steps; then names are unified (every `b` becomes `d`, say, which
    /// makes a rename in between droppable), renames replaced by making the file under its new name, and steps
    /// simplified (offset 0, length 1, mount 0), and the
    /// dropping starts again, until nothing changes.
    public func shrink(_ divergence: Divergence, on target: some OperationTarget) throws -> (Divergence, Int) {
        var current = divergence
        var attempts = 0
        func attempt(_ candidate: [FileOperation]) throws -> Bool {
            guard attempts < shrinkBudget, !candidate.isEmpty, candidate != current.operations else { return false }
            attempts += 1
            guard let smaller = try firstDivergence(candidate, on: target) else { return false }
            current = smaller
            return true
        }
        var changed = true
        while changed, attempts < shrinkBudget {
            changed = false
            var chunk = max(current.operations.count / 2, 1)
            while chunk >= 1, attempts < shrinkBudget {
                var start = 0
                while start < current.operations.count, attempts < shrinkBudget {
                    var candidate = current.operations
                    candidate.removeSubrange(start..<min(start + chunk, candidate.count))
                    if try attempt(candidate) { changed = true } else { start += chunk }
                }
                chunk /= 2
            }
            let names = current.operations.reduce(into: Set<String>()) { $0.formUnion($1.components) }.sorted()
            unify: for from in names.reversed() {
                for to in names where to != from {
                    let candidate = current.operations.map { step in
                        step.mapPaths { path in path.split(separator: "/").map { $0 == from ? to : String($0) }.joined(separator: "/") }
                    }
                    if try attempt(candidate) {
                        changed = true
                        break unify
                    }
                }
            }
            // A rename whose source could have been made under its new name from the start.
            for index in current.operations.indices where index < current.operations.count {
                guard case .rename(let from, let to, _, _) = current.operations[index] else { continue }
                let renamed = current.operations[..<index].map { step in
                    step.mapPaths { path in path == from ? to : path.hasPrefix(from + "/") ? to + path.dropFirst(from.count) : path }
                }
                if try attempt(renamed + current.operations[(index + 1)...]) {
                    changed = true
                    break
                }
            }
            for index in current.operations.indices where index < current.operations.count {
                for simpler in current.operations[index].simplerForms {
                    var candidate = current.operations
                    candidate[index] = simpler
                    if try attempt(candidate) {
                        changed = true
                        break
                    }
                }
            }
        }
        return (current, attempts)
    }

    /// Runs `count` steps from each seed; every divergence comes back shrunk.
    public func run(seeds: [UInt64], steps count: Int, on target: some OperationTarget,
                    extra: (UInt64) -> [FileOperation] = { _ in [] }) throws -> [ModelFailure] {
        var generator = OperationGenerator(configuration)
        generator.outages = outages
        var failures: [ModelFailure] = []
        for seed in seeds {
            let operations = generator.sequence(seed: seed, count: count).filter(keeps) + extra(seed)
            guard let divergence = try firstDivergence(operations, on: target) else { continue }
            let (shrunk, attempts) = try shrink(divergence, on: target)
            failures.append(ModelFailure(configuration: configuration, seed: seed, original: divergence, shrunk: shrunk, attempts: attempts))
        }
        target.close()
        return failures
    }
}

/// How many sequences a run takes: `BERTH_MODEL_SEQUENCES=N` runs N seeds (from 1), `BERTH_MODEL_SEED=S`
/// replays seed S alone, `BERTH_MODEL_STEPS=K` makes each sequence K steps long, `BERTH_MODEL_FIRST_SEED=F`
/// starts the seeds at F instead of 1.
public struct ModelRunSettings: Sendable {
    public var seeds: [UInt64]
    public var steps: Int

    public init(defaultSequences: Int, defaultSteps: Int = 40, environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let text = environment["BERTH_MODEL_SEED"], let seed = UInt64(text) {
            seeds = [seed]
        } else {
            let count = environment["BERTH_MODEL_SEQUENCES"].flatMap { Int($0) } ?? defaultSequences
            let first = environment["BERTH_MODEL_FIRST_SEED"].flatMap { UInt64($0) } ?? 1
            seeds = (0..<UInt64(max(count, 0))).map { $0 + first }
        }
        steps = environment["BERTH_MODEL_STEPS"].flatMap { Int($0) } ?? defaultSteps
    }
}
