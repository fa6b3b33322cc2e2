public import ArgumentParser
import EmulatorCore
import Foundation
public import StorageCatalog
import StoragePlanner
import TaskRunner

/// Options every emulator command shares.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Where volumes, attachments and snapshots live (else $BERTH_STATE_DIR, else ~/.local/state/berth).",
        valueName: "dir"))
    var stateDirectory: String?

    /// Opens the state, releases attachments whose server died and unmounts their dead mount points.
    func open() throws -> StateStore { try Self.open(stateDirectory) }

    static func open(_ stateDirectory: String?) throws -> StateStore {
        let store = try refusing { () throws(StateError) in
            try StateStore(stateDirectoryFlag: stateDirectory, environment: ProcessInfo.processInfo.environment)
        }
        let reaped = (try? store.reapStaleAttachments()) ?? []
        for attachment in reaped + store.takeReapedAttachments() where DeadMounts.state(of: attachment.mountpoint) == .disconnected {
            _ = DeadMounts.clear(attachment.mountpoint)
        }
        // What a killed `berth run` left (containers, mounts, per-task EBS volumes) goes now (docs/RUN.md).
        RunJanitor.clearAbandoned(store: store, environment: ProcessInfo.processInfo.environment)
        return store
    }
}

enum EmulatorFormat: String, CaseIterable, ExpressibleByArgument {
    case text, json
}

/// Runs a state operation; a refusal is printed as `AWSErrorName: facts` and exits 1, changing nothing.
func refusing<T>(_ body: () throws(StateError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        printError(error.description)
        throw ExitStatus.invalidInput
    }
}

/// The emulator's JSON shapes: every key always present, `null` where it does not apply, so that `list`
/// and `describe` (and each volume type) have the same keys.
enum EmulatorJSON {
    static func volume(_ v: Volume, attachments: [VolumeAttachment], status: VolumeStatus = .ok) -> JSONValue {
        let lustre = v.lustre
        return .object([
            ("id", .string(v.id.rawValue)), ("type", .string(v.type.rawValue)),
            ("name", v.name.map(JSONValue.string) ?? .null),
            ("availabilityZone", .string(v.availabilityZone)),
            ("standbyAvailabilityZone", v.standbyAvailabilityZone.map(JSONValue.string) ?? .null),
            ("sizeGiB", v.sizeGiB.map(JSONValue.int) ?? .null),
            ("storageClass", v.storageClass.map { .string($0.rawValue) } ?? .null),
            ("deployment", v.deployment.map { .string($0.rawValue) } ?? .null),
            ("lustreDeployment", lustre.map { .string($0.deployment.rawValue) } ?? .null),
            ("storageType", lustre.map { .string($0.storageType.rawValue) } ?? .null),
            ("readCacheGiB", lustre.map { .int($0.readCacheGiB) } ?? .null),
            ("fromSnapshot", v.fromSnapshot.map { .string($0.rawValue) } ?? .null),
            ("cloneOf", v.cloneOf.map { .string($0.rawValue) } ?? .null),
            ("createdAt", .string(ISO8601DateFormatter().string(from: v.createdAt))),
            ("status", .string(status.rawValue)),
            ("attachments", .array(attachments.map(attachment))),
        ])
    }

    static func snapshot(_ s: Snapshot) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("id", .string(s.id.rawValue)), ("volumeId", .string(s.volumeID.rawValue)),
            ("name", s.name.map(JSONValue.string) ?? .null), ("state", .string(s.state.rawValue)),
            ("createdAt", .string(ISO8601DateFormatter().string(from: s.createdAt))),
            ("type", .string(s.sourceType.rawValue)), ("sourceAvailabilityZone", .string(s.sourceAvailabilityZone)),
            ("sizeGiB", s.sizeGiB.map(JSONValue.int) ?? .null),
        ]
        fields.append(("storageClass", s.storageClass.map { .string($0.rawValue) } ?? .null))
        fields.append(("deployment", s.deployment.map { .string($0.rawValue) } ?? .null))
        fields.append(("copyMethod", s.copyMethod.map { .string($0.rawValue) } ?? .null))
        fields.append(("bytes", s.bytes.map { .int(Int(clamping: $0)) } ?? .null))
        fields.append(("files", s.files.map(JSONValue.int) ?? .null))
        fields.append(("pausedSeconds", s.durationSeconds.map(JSONValue.double) ?? .null))
        fields.append(("incrementalFrom", s.incrementalFrom.map { .string($0.rawValue) } ?? .null))
        fields.append(("ownBytes", s.ownBytes.map { .int(Int(clamping: $0)) } ?? .null))
        fields.append(("stateMessage", s.stateMessage.map(JSONValue.string) ?? .null))
        return .object(fields)
    }

    static func attachment(_ a: VolumeAttachment) -> JSONValue {
        .object([
            ("id", .string(a.id.rawValue)), ("volumeId", .string(a.volumeID.rawValue)), ("task", .string(a.task)),
            ("availabilityZone", .string(a.availabilityZone)), ("readOnly", .bool(a.readOnly)),
            ("launchType", .string(a.platform.launchType.rawValue)), ("os", .string(a.platform.os.rawValue)),
            ("mountpoint", .string(a.mountpoint)), ("pid", .int(Int(a.server.pid))),
        ])
    }
}

extension ServiceID: ExpressibleByArgument {}
extension EFSStorageClass: ExpressibleByArgument {}
extension Deployment: ExpressibleByArgument {}
extension LustreDeployment: ExpressibleByArgument {}
extension LustreStorageType: ExpressibleByArgument {}
extension LaunchType: ExpressibleByArgument {}
extension OperatingSystem: ExpressibleByArgument {}
