import ArgumentParser
import EmulatorCore
import Foundation
import StorageCatalog
import StoragePlanner
import Workloads
#if canImport(Glibc)
import Glibc
#endif

struct DrillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill", abstract: "Rehearse failures on emulated volumes and report what was lost.",
        subcommands: [AZFailure.self])

    struct AZFailure: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "az-failure",
            abstract: "Lose an Availability Zone under a writing task, recover into another, and measure the loss.",
            discussion: helpText("""
                Creates a volume in AZ A and mounts it; a writer appends numbered, checksummed records and
                fsyncs each one; snapshots are taken on a schedule; at --fail-at AZ A fails. The data is then
                recovered into AZ B the way the service allows: EFS Standard and multi-AZ FSx are mounted
                from B (same data); EBS, EFS One Zone, single-AZ FSx and Lustre get a new volume in B from the
                latest snapshot. Every surviving record is verified and the writer continues in B until
                --duration. Progress goes to stderr, the report to stdout.

                By default the drill runs in a private state directory under $TMPDIR that is removed
                afterwards (--keep keeps it), so failing AZ A does not touch your own mounts.

                Examples:
                  berth drill az-failure --type ebs
                  berth drill az-failure --type efs --az us-east-1b \\
                    --failover-az us-east-1c --format json
                  berth drill az-failure --profile Profiles/postgres-ec2.yaml \\
                    --snapshot-every 500ms
                  berth drill az-failure --type ebs --format json | jq .recoveryPointSeconds
                  berth drill az-failure --type efs \\
                    --workload 'my-app --data "$BERTH_DRILL_MOUNT"'
                  berth drill az-failure --type ebs \\
                    --after-recovery 'my-app --check "$BERTH_DRILL_MOUNT"'
                  berth drill az-failure --type ebs --pause-io 2s --format json \\
                    | jq .longestWriteStallSeconds
                  berth drill az-failure --type ebs --power-loss --format json | jq .powerLoss

                With --power-loss AZ A also loses power (`berth az fail --power-loss`): the writer fsyncs
                every 4th record only, and once AZ A is back the drill reads the log on the original volume
                and reports how many written but unsynced records vanished beside the acknowledged (synced)
                ones, which must all be there.

                Durations: 500ms, 2s, 5m, 1h.
                Exit status: 0 the drill finished with no corrupt record; 1 the drill could not start (a
                refusal, a bad profile); 2 no service fits the profile; 3 a record was corrupt, no usable
                mount was reached in AZ B, the --after-recovery command failed, or (--power-loss) an
                acknowledged record was lost on the original volume; 64 invalid arguments.
                """))

        @Option(help: ArgumentHelp("Volume type: \(ServiceID.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "type"))
        var type: ServiceID?
        @Option(help: ArgumentHelp("Rehearse the pick `berth recommend` makes for this workload profile.", valueName: "file"))
        var profile: String?
        @Option(help: "The AZ to fail (default: the region's first).") var az: String?
        @Option(name: .customLong("failover-az"), help: "The AZ to recover into (default: the region's second).")
        var failoverAZ: String?
        @Option(name: .customLong("snapshot-every"), help: "Snapshot interval.") var snapshotEvery = "1s"
        @Option(help: "How long the writer runs in all.") var duration = "8s"
        @Option(name: .customLong("fail-at"), help: "When AZ A fails, from the start.") var failAt = "5s"
        @Option(name: .customLong("record-interval"), help: "Pause between the writer's records.") var recordInterval = "20ms"
        @Option(help: ArgumentHelp(
            "builtin (the record writer only), or a shell command run against the mount in AZ A alongside it; $BERTH_DRILL_MOUNT names the mount.",
            valueName: "builtin|command"))
        var workload = "builtin"
        @Option(name: .customLong("after-recovery"), help: ArgumentHelp(
            "A shell command run against the recovered mount in AZ B ($BERTH_DRILL_MOUNT); non-zero fails the drill.",
            valueName: "command"))
        var afterRecovery: String?
        @Option(name: .customLong("pause-io"), help: ArgumentHelp(
            "Run under `berth fault pause-io` for this long, from when the writer starts (e.g. 2s).", valueName: "duration"))
        var pauseIO: String?
        @Flag(name: .customLong("power-loss"), help: "AZ A also loses power: what the writer had not fsynced is lost.")
        var powerLoss = false
        @Option(help: ArgumentHelp(
            "Run under `berth fault latency`: this delay added to the writer's requests (e.g. 50ms).", valueName: "duration"))
        var latency: String?
        @Option(name: .customLong("latency-percent"), help: "With --latency: the share of requests delayed, 1–100.")
        var latencyPercent = 100
        @Option(name: .customLong("size-gib"), help: "Volume size (default: the service's default or the profile's).") var sizeGiB: Int?
        @Option(name: .customLong("storage-class"), help: "EFS: standard or one-zone.") var storageClass: EFSStorageClass?
        @Option(help: "FSx for Windows, OpenZFS, ONTAP: single-az or multi-az.") var deployment: Deployment?
        @Option(name: .customLong("launch-type"), help: "The tasks' launch type: fargate or ec2.") var launchType: LaunchType?
        @Option(help: "The tasks' OS: linux or windows.") var os: OperatingSystem?
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @Flag(help: "No progress lines on stderr.") var quiet = false
        @Flag(help: "Keep the drill's directory (state, mount points) and print where it is.") var keep = false
        @Option(name: .customLong("state-dir"), help: ArgumentHelp(
            "Run in this state directory instead of a private one (its AZ A fails for the drill's duration).",
            valueName: "dir"))
        var stateDirectory: String?

        func validate() throws {
            if (type == nil) == (profile == nil) {
                throw ValidationError("give either --type or --profile (one of them)")
            }
            if let sizeGiB, sizeGiB < 1 { throw ValidationError("--size-gib must be at least 1") }
            if workload.trimmingCharacters(in: .whitespaces).isEmpty {
                throw ValidationError("--workload is builtin or a shell command, not empty")
            }
            var timing = DrillPlan(type: type ?? .ebs)
            try applyTiming(to: &timing)
            do { try timing.validate() } catch { throw ValidationError(error.description) }
        }

        /// AZs, durations and workload, which do not depend on the volume type.
        func applyTiming(to plan: inout DrillPlan) throws {
            plan.failedAZ = az
            plan.failoverAZ = failoverAZ
            plan.snapshotEvery = try duration("--snapshot-every", snapshotEvery)
            plan.duration = try duration("--duration", duration)
            plan.failAt = try duration("--fail-at", failAt)
            plan.recordInterval = try duration("--record-interval", recordInterval)
            plan.workloadCommand = workload == "builtin" ? nil : workload
            plan.recoveryCheckCommand = afterRecovery
            plan.powerLoss = powerLoss
            if pauseIO != nil && latency != nil { throw ValidationError("give --pause-io or --latency, not both") }
            if let pauseIO { plan.fault = .pauseIO(duration: try duration("--pause-io", pauseIO)) }
            if let latency {
                guard (1...100).contains(latencyPercent) else {
                    throw ValidationError("--latency-percent must be a whole number from 1 to 100, got \(latencyPercent)")
                }
                plan.fault = .latency(delay: try duration("--latency", latency), percent: latencyPercent, operations: .all)
            }
        }

        func run() throws {
            let plan = try makePlan()
            let work = try makeWorkDirectory()
            let store = try StateOptions.open(stateDirectory ?? work + "/state")
            let mounter = ProcessDrillMounter()
            let cleanup = DrillCleanup(store: store, mounter: mounter, workDirectory: work,
                                       removeWorkDirectory: !keep, failedAZ: plan.failedAZ ?? store.region.zones.first)
            let cancellation = DrillCancellation()
            DrillSignals.install(cancelling: cancellation)
            defer { cleanup.run() }

            let quiet = quiet
            let drill = AZFailureDrill(store: store, plan: plan, mounter: mounter, workDirectory: work,
                                       cancellation: cancellation) { step in
                if !quiet { printError(String(format: "[%7.3fs] ", step.at) + step.action) }
            }
            let report: DrillReport
            do {
                report = try drill.run()
            } catch .cancelled {
                // The deferred clean-up runs on this thread before the exit, as a shell expects: 130 or 143.
                printError("berth drill: interrupted; unmounting and cleaning up")
                throw ExitCode(128 + (cancellation.signalNumber ?? SIGINT))
            } catch {
                printError("berth drill: \(error)")
                throw ExitStatus.invalidInput
            }
            switch format {
            case .json: print(report.json.rendered())
            case .text: printOut(Self.painted(report.text, passed: report.passed, style: .standardOutput()), terminator: "")
            }
            if keep { printError("kept the drill's directory: \(work)") }
            if !report.passed { throw ExitStatus.drillFailed }
        }

        /// The report's result line in green or red on a terminal (nothing changes without colour).
        static func painted(_ text: String, passed: Bool, style: OutputStyle) -> String {
            style.paint(passed ? "passed" : "FAILED", endingLinesStartingWith: "  result ", in: text, passed ? .green : .red)
        }

        func makePlan() throws -> DrillPlan {
            var plan: DrillPlan
            if let profile {
                let recommendation: Recommendation
                do {
                    recommendation = Planner().recommend(try ProfileLoader.load(path: profile))
                } catch {
                    printError(error)
                    throw ExitStatus.invalidInput
                }
                guard let choice = recommendation.emulatedVolume else {
                    printError("berth drill: no service fits \(profile); `berth recommend \(profile)` says why")
                    throw ExitStatus.noServiceFits
                }
                plan = DrillPlan(type: choice.service)
                plan.storageClass = choice.storageClass
                plan.deployment = choice.deployment
                plan.sizeGiB = choice.sizeGiB
                plan.platform = choice.platform
                if let deployment = choice.lustreDeployment {
                    plan.lustre = LustreConfiguration(deployment: deployment, storageType: choice.lustreStorageType ?? .ssd,
                                                      readCacheGiB: choice.lustreReadCacheGiB ?? 0)
                }
                if !quiet {
                    printError("\(profile): berth recommend picks \(choice.service.rawValue)"
                               + [choice.storageClass?.rawValue, choice.deployment?.rawValue, choice.sizeGiB.map { "\($0) GiB" }]
                                   .compactMap { $0 }.map { ", " + $0 }.joined())
                }
            } else {
                plan = DrillPlan(type: type ?? .ebs)
            }
            if let storageClass { plan.storageClass = storageClass }
            if let deployment { plan.deployment = deployment }
            if let sizeGiB { plan.sizeGiB = sizeGiB }
            if let launchType { plan.platform.launchType = launchType }
            if let os { plan.platform.os = os }
            try applyTiming(to: &plan)
            return plan
        }

        func duration(_ flag: String, _ text: String) throws -> Duration {
            do { return try DurationText.parse(text) } catch {
                throw ValidationError("\(flag): \(error)")
            }
        }

        /// A fresh directory for the mount points (and, by default, the state), outside any state directory.
        func makeWorkDirectory() throws -> String {
            let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            var template = Array((base + "/berth-drill-XXXXXX").utf8CString)
            let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
                guard let base = buffer.baseAddress else { return false }
                return mkdtemp(base) != nil
            }
            guard made else {
                printError("berth drill: cannot create a directory under \(base): \(String(cString: strerror(errno)))")
                throw ExitStatus.invalidInput
            }
            return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// Mounts with `berth mount … --background` processes and unmounts through their attachment.
struct ProcessDrillMounter: DrillMounter {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func mount(_ volume: VolumeID, at mountpoint: String, az: String, task: String, platform: Platform,
               stateDirectory: StateDirectory) throws {
        do {
            _ = try BackgroundMount.start(arguments: [
                "mount", volume.rawValue, mountpoint, "--az", az, "--task", task,
                "--launch-type", platform.launchType.rawValue, "--os", platform.os.rawValue,
                "--state-dir", stateDirectory.path,
            ])
        } catch {
            throw Failure(description: "berth mount \(volume) \(mountpoint) --az \(az) was refused (its message is above)")
        }
    }

    func unmount(_ mountpoint: String, stateDirectory: StateDirectory) throws {
        let store = try StateStore(directory: stateDirectory)
        let canonical = try store.canonicalMountpoint(mountpoint)
        guard let attachment = try store.listAttachments().first(where: { $0.mountpoint == canonical }) else { return }
        let stopped = BackgroundMount.stop(attachment, store: store, timeout: 10)
        if !stopped {
            // A drill leaves nothing behind: a server that did not stop is killed and its mount detached.
            kill(attachment.server.pid, SIGKILL)
        }
        // The server is our child: collect it so that it does not linger as a zombie.
        var status: Int32 = 0
        _ = waitpid(attachment.server.pid, &status, 0)
        if !stopped {
            _ = DeadMounts.clear(mountpoint)
            _ = try? store.reapStaleAttachments()
            throw Failure(description: "the mount server at \(mountpoint) (pid \(attachment.server.pid)) did not stop within 10 s; it was killed")
        }
    }
}

/// SIGINT and SIGTERM during a drill only ask it to stop (`DrillCancellation`); the drill's own thread
/// then cleans up once, in order, before the process exits. (Cleaning up from the handler's queue while
/// the drill's own clean-up ran raced it.)
enum DrillSignals {
    static func install(cancelling cancellation: DrillCancellation) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { cancellation.request(signalNumber: signalNumber) }
            source.resume()
            sources.append(source)
        }
    }

    /// Kept alive for the process's life; appended to only here, on the main thread.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
}
