public import BerthJSON
public import Foundation

/// The drill report as people and scripts read it: the text `berth drill` prints and the contract's JSON.
extension DrillReport {
    /// The contract's keys first (emulator.md §Drills), then Berth's additions.
    public var json: JSONValue {
        let r = self
        return .object([
            ("type", .string(r.type.rawValue)),
            ("failedAZ", .string(r.failedAZ)),
            ("failoverAZ", .string(r.failoverAZ)),
            ("recordsWritten", .int(r.recordsWritten)),
            ("recordsRecovered", .int(r.recordsRecovered)),
            ("recordsLost", .int(r.recordsLost)),
            ("recoveryPointSeconds", .double(r.recoveryPointSeconds)),
            ("recoveryTimeSeconds", r.recoveryTimeSeconds.map(JSONValue.double) ?? .null),
            ("corruptRecords", .int(r.corruptRecords)),
            ("steps", .array(r.steps.map { .object([("at", .double($0.at)), ("action", .string($0.action))]) })),
            ("recovery", .string(r.recovery)),
            ("failedAtSeconds", .double(r.failedAtSeconds)),
            ("restoredSnapshotAtSeconds", r.restoredSnapshotAtSeconds.map(JSONValue.double) ?? .null),
            ("snapshotsTaken", .int(r.snapshotsTaken)),
            ("recordsWrittenAfterRecovery", .int(r.recordsWrittenAfterRecovery)),
            ("workloadExitStatus", r.workloadExitStatus.map { .int(Int($0)) } ?? .null),
            ("recoveryCheckExitStatus", r.recoveryCheckExitStatus.map { .int(Int($0)) } ?? .null),
            ("passed", .bool(r.passed)),
            ("fault", r.fault.map(\.json) ?? r.powerLoss.map(\.faultJSON) ?? .null),
            ("longestWriteStallSeconds", .double(r.longestWriteStallSeconds)),
            ("powerLoss", r.powerLoss.map(\.json) ?? .null),
        ])
    }

    /// A table of the figures, then the steps.
    public var text: String {
        let r = self
        var out = "AZ failure drill: \(r.type.rawValue), \(r.failedAZ) failed, recovered into \(r.failoverAZ)\n"
        var rows: [(String, String)] = [
            ("recovery", r.recovery),
            ("records written", "\(r.recordsWritten) (acknowledged: written and fsynced in \(r.failedAZ))"),
            ("records recovered", "\(r.recordsRecovered)"),
            ("records lost", "\(r.recordsLost)"),
            ("recovery point", String(format: "%.3f s of acknowledged writes lost", r.recoveryPointSeconds)),
        ]
        if let seconds = r.recoveryTimeSeconds {
            rows.append(("recovery time", String(format: "%.3f s", seconds) + " from the failure to a usable mount in \(r.failoverAZ)"))
        } else {
            rows.append(("recovery time", "not reached: no usable mount in \(r.failoverAZ)"))
        }
        rows.append(("corrupt records", "\(r.corruptRecords)"))
        if let fault = r.fault { rows.append(("fault", "\(fault.kind.rawValue) \(fault.id) (\(fault.kind.fisAction))")) }
        if let lost = r.powerLoss {
            rows.append(("fault", "power loss in \(lost.zone) (\(DrillPowerLoss.fisScenario))"))
            rows.append(("unsynced records", "\(lost.recordsUnsynced) written but not fsynced: \(lost.unsyncedRecordsVanished) vanished, \(lost.unsyncedRecordsSurvived) survived"))
            rows.append(("acknowledged lost", "\(lost.acknowledgedRecordsLost) on the original volume \(lost.volumeID)\(lost.checked ? "" : " (its log could not be read)")"))
        }
        rows.append(("longest write stall", String(format: "%.3f s between two acknowledged records in \(r.failedAZ)", r.longestWriteStallSeconds)))
        rows.append(("snapshots taken", "\(r.snapshotsTaken)"))
        rows.append(("written after", "\(r.recordsWrittenAfterRecovery) records in \(r.failoverAZ) after the recovery"))
        if let status = r.workloadExitStatus { rows.append(("workload exit", "\(status)")) }
        if let status = r.recoveryCheckExitStatus { rows.append(("recovery check", "exit \(status)")) }
        rows.append(("result", r.passed ? "passed" : "FAILED"))
        for (label, value) in rows { out += "  " + label.padding(toLength: 19, withPad: " ", startingAt: 0) + value + "\n" }
        out += "steps:\n"
        for step in r.steps { out += String(format: "  %8.3fs  ", step.at) + step.action + "\n" }
        return out
    }
}

extension Fault {
    /// As `berth fault list --format json` shows it.
    public func json(at now: Date = Date()) -> JSONValue {
        let iso = ISO8601DateFormatter()
        return .object([
            ("id", .string(id.rawValue)), ("kind", .string(kind.rawValue)),
            ("fisAction", .string(kind.fisAction)), ("volumeId", .string(volumeID.rawValue)),
            ("status", .string(status(at: now).rawValue)),
            ("startedAt", .string(iso.string(from: startedAt))),
            ("endsAt", endsAt.map { .string(iso.string(from: $0)) } ?? .null),
            ("clearedAt", clearedAt.map { .string(iso.string(from: $0)) } ?? .null),
            ("delayMilliseconds", delayMilliseconds.map(JSONValue.int) ?? .null),
            ("percent", percent.map(JSONValue.int) ?? .null),
            ("operations", operations.map { .string($0.rawValue) } ?? .null),
        ])
    }

    var json: JSONValue { json() }
}

extension DrillPowerLoss {
    /// The AWS FIS scenario this rehearses (https://docs.aws.amazon.com/fis/latest/userguide/az-availability-scenario.html).
    public static let fisScenario = "AZ Availability: Power Interruption"

    /// The report's `fault` for a power loss.
    var faultJSON: JSONValue {
        .object([("kind", .string("power-loss")), ("fisScenario", .string(Self.fisScenario)), ("zone", .string(zone))])
    }

    var json: JSONValue {
        .object([
            ("zone", .string(zone)), ("volumeId", .string(volumeID)), ("checked", .bool(checked)),
            ("mountsAnswered", .int(mountsAnswered)),
            ("recordsUnsynced", .int(recordsUnsynced)),
            ("unsyncedRecordsVanished", .int(unsyncedRecordsVanished)),
            ("unsyncedRecordsSurvived", .int(unsyncedRecordsSurvived)),
            ("acknowledgedRecordsLost", .int(acknowledgedRecordsLost)),
            ("corruptRecords", .int(corruptRecords)),
        ])
    }
}
