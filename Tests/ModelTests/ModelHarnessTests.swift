import Foundation
@testable import SemanticsModel
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The harness checked against itself, without root: a plain directory against the plain-POSIX model,
/// the generator's determinism, and the shrinker on a planted bug.
@Suite struct ModelHarnessTests {
    /// Local POSIX semantics (tmpfs where there is one): the model of a "plain" type must agree with it
    /// step by step, or the model (or the driver) is wrong before any mount is involved.
    @Test(arguments: [1, 2])
    func aPlainDirectoryAgreesWithThePlainModel(mounts: Int) throws {
        let settings = ModelRunSettings(defaultSequences: 150)
        let harness = ModelHarness(ModelConfiguration(service: .plain, mounts: mounts))
        let failures = try harness.run(seeds: settings.seeds, steps: settings.steps,
                                       on: PathDriver(PlainDirectoryVolume(mounts: mounts)))
        for failure in failures { Issue.record(Comment(rawValue: failure.description)) }
    }

    /// The comparison bites on a real file system: a plain (case-sensitive) directory is not what the
    /// fsx-windows model describes, and the divergences found shrink to a few steps.
    @Test func aCaseSensitiveDirectoryDivergesFromTheWindowsModel() throws {
        let harness = ModelHarness(ModelConfiguration(service: .fsxWindows))
        let failures = try harness.run(seeds: Array(1...10), steps: 40, on: PathDriver(PlainDirectoryVolume()))
        #expect(failures.count >= 5, "\(failures.count) of 10 sequences diverged")
        for failure in failures {
            #expect(failure.shrunk.operations.count <= 3, "\(failure)")
        }
    }

    @Test func theSameSeedGivesTheSameSequence() {
        var generator = OperationGenerator(ModelConfiguration(service: .fsxWindows, mounts: 2))
        let first = generator.sequence(seed: 7, count: 50)
        #expect(first == generator.sequence(seed: 7, count: 50))
        #expect(first != generator.sequence(seed: 8, count: 50))
        #expect(Set(first.map(\.mount)) == [0, 1])
    }

    @Test func theEnvironmentChoosesHowManySeedsOrOneToReplay() {
        #expect(ModelRunSettings(defaultSequences: 3, environment: [:]).seeds == [1, 2, 3])
        #expect(ModelRunSettings(defaultSequences: 3, environment: ["BERTH_MODEL_SEQUENCES": "5"]).seeds == [1, 2, 3, 4, 5])
        #expect(ModelRunSettings(defaultSequences: 2, environment: ["BERTH_MODEL_FIRST_SEED": "100"]).seeds == [100, 101])
        let replay = ModelRunSettings(defaultSequences: 3, environment: ["BERTH_MODEL_SEQUENCES": "5", "BERTH_MODEL_SEED": "42", "BERTH_MODEL_STEPS": "7"])
        #expect(replay.seeds == [42])
        #expect(replay.steps == 7)
    }

    /// A step prints as the Swift literal that makes it, so a shrunk sequence pastes into a test.
    @Test func stepsPrintAsSwiftLiterals() {
        #expect(FileOperation.rename("e/A", "Q").description == #".rename("e/A", "Q")"#)
        #expect(FileOperation.create("a", .exclusive, on: 1).description == #".create("a", .exclusive, on: 1)"#)
        #expect(FileOperation.chmod("a", mode: 0o755).description == #".chmod("a", mode: 0o755)"#)
        #expect(FileOperation.write("a", offset: 1, length: 2).description == #".write("a", offset: 1, length: 2)"#)
    }

    /// A target that is the model itself but for one planted bug: unlinking one of two hard links of a
    /// file answers ENOENT. Random sequences find it and the shrinker brings every failure down to the
    /// three steps that show it: create, link, unlink.
    @Test func theShrinkerBringsAPlantedBugDownToItsThreeSteps() throws {
        let configuration = ModelConfiguration(service: .plain)
        let target = PlantedBugTarget(configuration)
        let harness = ModelHarness(configuration)
        let failures = try harness.run(seeds: Array(1...60), steps: 60, on: target)
        #expect(!failures.isEmpty, "60 sequences of 60 steps never unlinked a linked file")
        for failure in failures {
            let steps = failure.shrunk.operations
            #expect(steps.count == 3, "\(failure)")
            guard steps.count == 3 else { continue }
            guard case .create = steps[0], case .link = steps[1], case .unlink = steps[2] else {
                Issue.record("not create, link, unlink: \(failure)")
                continue
            }
            #expect(failure.shrunk.actual == .error(ENOENT))
            // 1-minimal: without any one of its steps the sequence passes.
            for index in steps.indices {
                var fewer = steps
                fewer.remove(at: index)
                #expect(try harness.firstDivergence(fewer, on: target) == nil)
            }
        }
        #expect(target.resets > failures.count, "the shrinker reran from fresh state")
    }

    /// The fsx-windows model itself: spellings are one name, Windows names are refused, a rename onto
    /// another spelling keeps the new spelling (SEMANTICS.md §FSx for Windows File Server).
    @Test func theWindowsModelFoldsCaseAndRefusesWindowsNames() {
        var model = ReferenceModel(ModelConfiguration(service: .fsxWindows, capacityBytes: 1 << 20))
        #expect(model.apply(.create("Report")).allowed == [.ok])
        #expect(model.apply(.create("REPORT", .exclusive)).allowed == [.error(EEXIST)])
        #expect(model.apply(.mkdir("report")).allowed == [.error(EEXIST)])
        #expect(model.apply(.create("nul.txt")).allowed == [.error(EINVAL)])
        #expect(model.apply(.mkdir("b.")).allowed == [.error(EINVAL)])
        #expect(model.apply(.write("report", offset: 0, length: 5)).allowed == [.count(5)])
        #expect(model.apply(.create("q")).allowed == [.ok])
        #expect(model.apply(.rename("report", "report")).allowed == [.ok])
        #expect(model.apply(.readdir("")).allowed == [.listing(["Report", "q"])], "one name, one dentry: nothing to do")
        #expect(model.apply(.rename("rePort", "Q")).allowed == [.ok])
        #expect(model.apply(.readdir("")).allowed == [.listing(["Q"])])
        #expect(model.apply(.lstat("q")).allowed == [.attributes(Attributes(kind: .regular, size: 5, blocks: 1, links: 1, permissions: 0o644))])
    }

    /// Capacity in the model: short writes, ENOSPC for new inodes on a full volume, never for rename or
    /// link, growing truncates free (SEMANTICS.md §Capacity).
    @Test func theCapacityModelShortensWritesAndNeverRefusesRenameOrLink() {
        var model = ReferenceModel(ModelConfiguration(service: .ebs, capacityBytes: 3 * 4096))
        #expect(model.apply(.create("a")).allowed == [.ok])
        #expect(model.apply(.truncate("a", length: 100_000)).allowed == [.ok])
        #expect(model.apply(.write("a", offset: 4000, length: 20_000)).allowed == [.count(3 * 4096 - 4000)])
        #expect(model.apply(.write("a", offset: 50_000, length: 1)).allowed == [.error(ENOSPC)])
        #expect(model.apply(.write("a", offset: 0, length: 10)).allowed == [.count(10)], "block 0 is the file's")
        #expect(model.apply(.create("b")).allowed == [.error(ENOSPC)])
        #expect(model.apply(.rename("a", "c")).allowed == [.ok])
        #expect(model.apply(.link("c", "d")).allowed == [.ok])
        #expect(model.apply(.statfs()).allowed == [.used(3 * 4096)])
        #expect(model.apply(.unlink("c")).allowed == [.ok])
        #expect(model.apply(.statfs()).allowed == [.used(3 * 4096)], "d keeps the blocks")
        #expect(model.apply(.truncate("d", length: 0)).allowed == [.ok])
        #expect(model.apply(.statfs()).allowed == [.used(0)])
    }
}

/// The model with one planted bug: unlink of a file that has another link answers ENOENT.
final class PlantedBugTarget: OperationTarget {
    let configuration: ModelConfiguration
    var model: ReferenceModel
    var resets = 0

    init(_ configuration: ModelConfiguration) {
        self.configuration = configuration
        model = ReferenceModel(configuration)
    }

    func reset(prepared: [FileOperation]) throws {
        resets += 1
        model = ReferenceModel(configuration)
        for operation in prepared { _ = model.apply(operation) }
    }

    func apply(_ operation: FileOperation) -> Outcome {
        if case .unlink(let path, _) = operation, case .success(let resolved) = model.resolve(path, followLast: false),
           let found = resolved.found, let node = model.nodes[found.id], node.kind == .regular, node.links > 1 {
            return .error(ENOENT)
        }
        return model.apply(operation).allowed.first ?? .ok
    }

    func close() {}
}
