import EmulatorCore
import Foundation
import SemanticsModel
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A served volume for the model harness: a fresh backing directory on tmpfs (whose blocks are exactly
/// the pages written, so `st_blocks` and `df` are what the model counts), one or two `_serve-mount`
/// servers, and an outage flag every server watches (`--cut-off-flag`, as `berth az fail` sets the AZ's).
final class ModelVolume: PathVolume {
    let type: ServiceType
    let mounts: Int
    let capacityBytes: Int?
    let readOnly: Bool
    let localLocks: Bool
    var scratch: Scratch?
    var served: [ServedMount] = []
    var flag: SharedFlag?

    init(_ configuration: ModelConfiguration) {
        type = configuration.service
        mounts = configuration.mounts
        capacityBytes = configuration.capacityBytes
        readOnly = configuration.readOnly
        localLocks = configuration.localLocks
    }

    func start(prepare: (String) -> Void) throws -> [String] {
        stop()
        let scratch = try Scratch(under: PlainDirectoryVolume.scratchParent)
        self.scratch = scratch
        prepare(scratch.backing)
        let flagPath = scratch.root + "/zone.down"
        let flag = try SharedFlag(path: flagPath)
        flag.set(false)
        self.flag = flag
        var extra = ["--cut-off-flag", flagPath]
        extra += capacityBytes.map { ["--capacity-bytes", "\($0)"] } ?? ["--elastic"]
        if readOnly { extra.append("--read-only") }
        if localLocks { extra.append("--local-locks") }
        for name in ["a", "b"].prefix(mounts) {
            served.append(try ServedMount(scratch, at: name, type: type.rawValue,
                                          volumeID: type == .ebs ? "vol-model" : "fs-model", extra: extra))
        }
        return served.map(\.mountpoint)
    }

    func stop() {
        flag?.set(false)
        for mount in served { mount.stop() }
        served = []
        scratch?.remove()
        scratch = nil
    }

    func setCutOff(_ on: Bool) { flag?.set(on) }

    var settle: UInt32 { mounts > 1 ? 20_000 : 0 }
}

/// Seeded random sequences against real mounts of every type, compared with the reference model after
/// every step (docs/SEMANTICS.md §Reference model). `BERTH_MODEL_SEQUENCES=N` runs N seeds per test,
/// `BERTH_MODEL_SEED=S` replays one, `BERTH_MODEL_STEPS=K` sets the length.
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct ModelMountTests {
    static let types = ServiceType.allCases.filter { $0 != .plain }

    static func configuration(_ type: ServiceType, capacity: Int = 1 << 30, readOnly: Bool = false) -> ModelConfiguration {
        var configuration = ModelConfiguration(service: type, mounts: type.isShared ? 2 : 1,
                                               capacityBytes: type.isProvisioned ? capacity : nil, readOnly: readOnly)
        // Open, with its own regression sequence (ModelRegressionTests).
        configuration.tolerated = [.directoryFlockIsLocal, .spellingsRevalidateSeparately]
        return configuration
    }

    func check(_ harness: ModelHarness, sequences: Int) throws {
        let settings = ModelRunSettings(defaultSequences: sequences)
        let failures = try harness.run(seeds: settings.seeds, steps: settings.steps,
                                       on: PathDriver(ModelVolume(harness.configuration)))
        for failure in failures { Issue.record(Comment(rawValue: failure.description)) }
    }

    @Test(arguments: types)
    func randomSequencesMatchTheModel(type: ServiceType) throws {
        try check(ModelHarness(Self.configuration(type)), sequences: 4)
    }

    /// 64 KiB provisioned: volumes fill within a sequence, so short writes, ENOSPC and what still works on
    /// a full volume are compared too.
    @Test(arguments: types.filter(\.isProvisioned))
    func smallVolumesFillUpAsTheModelSays(type: ServiceType) throws {
        try check(ModelHarness(Self.configuration(type, capacity: 64 << 10)), sequences: 3)
    }

    /// Outages cut the mounts off and reconnect them in the middle of sequences.
    @Test(arguments: [ServiceType.ebs, .efs, .fsxWindows])
    func outagesAnswerEIOForEveryStep(type: ServiceType) throws {
        var harness = ModelHarness(Self.configuration(type))
        harness.outages = true
        try check(harness, sequences: 3)
    }

    /// Read-only attachments over a prepared tree: reads, listings and locks work, every change is EROFS.
    @Test(arguments: [ServiceType.ebs, .efs, .fsxWindows])
    func readOnlyAttachmentsRefuseEveryChange(type: ServiceType) throws {
        let harness = ModelHarness(Self.configuration(type, readOnly: true), prepared: Self.tree)
        try check(harness, sequences: 3)
    }

    static let tree: [FileOperation] = [
        .mkdir("d"), .create("a"), .write("a", offset: 0, length: 5000), .mkdir("d/q"), .create("d/b"),
        .write("d/b", offset: 4096, length: 10), .symlink("a", "q"), .symlink("zz", "x"), .link("a", "d/a"),
    ]
}
