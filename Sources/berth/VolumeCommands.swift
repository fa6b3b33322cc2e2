import ArgumentParser
import EmulatorCore
import StorageCatalog
import StoragePlanner

struct VolumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Create, list, describe and delete emulated volumes.",
        subcommands: [Create.self, List.self, Describe.self, Delete.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an emulated volume; prints its id on stdout.",
            discussion: helpText("""
                Examples:
                  berth volume create --type ebs --az us-east-1a --size-gib 20
                  berth volume create --type efs --az us-east-1a --storage-class one-zone
                  berth volume create --type fsx-windows --az us-east-1a --deployment multi-az
                  berth volume create --type fsx-lustre --az us-east-1a --size-gib 1800 \\
                    --storage-type hdd --read-cache-gib 360
                  berth volume create --type fsx-lustre --az us-east-1b --lustre-deployment \\
                    scratch
                  berth volume create --type fsx-openzfs --az us-east-1b --from-snapshot snap-…
                  berth volume create --type ebs --az us-east-1c --from-snapshot snap-…

                The last two: a clone (fsx-openzfs) and a restore (ebs).

                --from-snapshot makes a volume of the snapshot's type in any AZ, at least the snapshot's
                size (default: that size). On fsx-openzfs the new volume is a clone: the snapshot cannot be
                deleted while it exists. Options are checked against the catalogue the planner uses.
                """))
        @Option(help: "The service to emulate.") var type: ServiceID
        @Option(help: "Home Availability Zone (see `berth az list`).") var az: String
        // Unconditional: `--size-gib -5` reaches the catalogue's range check (an InvalidParameterValue that
        // names the range) instead of reading as a missing value followed by an unknown option.
        @Option(name: .customLong("size-gib"), parsing: .unconditional,
                help: "Provisioned size (not for efs, which is elastic).") var sizeGiB: Int?
        @Option(help: "A name to recognise it by.") var name: String?
        @Option(name: .customLong("storage-class"), help: "EFS only: standard (multi-AZ, default) or one-zone.")
        var storageClass: EFSStorageClass?
        @Option(help: "FSx for Windows, OpenZFS, ONTAP: single-az (default) or multi-az.") var deployment: Deployment?
        @Option(name: .customLong("standby-az"), help: "multi-az only: the standby AZ (default: the next AZ).") var standbyAZ: String?
        @Option(name: .customLong("from-snapshot"), help: "Restore a snapshot's data into the new volume (fsx-openzfs: clone it).")
        var fromSnapshot: String?
        @Option(name: .customLong("lustre-deployment"), help: "FSx for Lustre: persistent (default) or scratch.")
        var lustreDeployment: LustreDeployment?
        @Option(name: .customLong("storage-type"), help: "FSx for Lustre: ssd (default) or hdd (persistent only).")
        var storageType: LustreStorageType?
        @Option(name: .customLong("read-cache-gib"), parsing: .unconditional,
                help: "FSx for Lustre HDD: an SSD read cache of up to 20% of --size-gib.")
        var readCacheGiB: Int?
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let volume = try refusing { () throws(StateError) in
                let snapshot = try fromSnapshot.map { (text: String) throws(StateError) in try SnapshotID(parsing: text) }
                var lustre: LustreConfiguration?
                if lustreDeployment != nil || storageType != nil || readCacheGiB != nil {
                    lustre = LustreConfiguration(deployment: lustreDeployment ?? .persistent, storageType: storageType ?? .ssd,
                                                 readCacheGiB: readCacheGiB ?? 0)
                }
                return try store.createVolume(
                    type: type, az: az, sizeGiB: sizeGiB, name: name, storageClass: storageClass,
                    deployment: deployment, fromSnapshot: snapshot, standbyAZ: standbyAZ, lustre: lustre)
            }
            print(volume.id.rawValue)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List volumes and their attachments.")
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let volumes = try refusing { () throws(StateError) in try store.listVolumes() }
            let statuses = try refusing { () throws(StateError) in try store.volumeStatuses() }
            switch format {
            case .json:
                print(JSONValue.array(volumes.map {
                    EmulatorJSON.volume($0.volume, attachments: $0.attachments, status: statuses[$0.volume.id] ?? .ok)
                }).rendered())
            case .text:
                print("id                     type         az           size      options                       attachments  name")
                for d in volumes {
                    let v = d.volume
                    let size = v.sizeGiB.map { "\($0) GiB" } ?? "elastic"
                    let options = v.storageClass?.rawValue
                        ?? v.deployment.map { d in d.rawValue + (v.standbyAvailabilityZone.map { " (standby \($0))" } ?? "") }
                        ?? v.lustre.map { "\($0.deployment.rawValue) \($0.storageType.rawValue)" + ($0.readCacheGiB > 0 ? " +\($0.readCacheGiB) GiB cache" : "") }
                        ?? "-"
                    print("\(v.id.rawValue.padded(22)) \(v.type.rawValue.padded(12)) \(v.availabilityZone.padded(12)) \(size.padded(9)) \(options.padded(29)) \(String(d.attachments.count).padded(12)) \(v.name ?? "-")")
                }
            }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one volume, its options and attachments.")
        @Argument(help: "Volume id (vol-… or fs-…).") var id: String
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let d = try refusing { () throws(StateError) in try store.describeVolume(try VolumeID(parsing: id)) }
            let status = try refusing { () throws(StateError) in try store.volumeStatuses()[d.volume.id] ?? .ok }
            let json = EmulatorJSON.volume(d.volume, attachments: d.attachments, status: status)
            switch format {
            case .json: print(json.rendered())
            case .text:
                guard case .object(let fields) = json else { return }
                for (key, value) in fields where key != "attachments" {
                    print("\(key.padded(24)) \(value == .null ? "-" : ReportRenderer.plain(value))")
                }
                print("attachments")
                if d.attachments.isEmpty { print("  none") }
                for a in d.attachments {
                    print("  \(a.id.rawValue)  task \(a.task) in \(a.availabilityZone)\(a.readOnly ? " (read-only)" : "") at \(a.mountpoint), pid \(a.server.pid)")
                }
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a volume and its data (refused while attached).")
        @Argument(help: "Volume id.") var id: String
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let volume = try refusing { () throws(StateError) in try store.deleteVolume(try VolumeID(parsing: id)) }
            print(volume.id.rawValue)
        }
    }
}

struct AZCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "az", abstract: "Availability Zones of the emulated region: list, fail and recover them.",
        subcommands: [List.self, Fail.self, Recover.self])

    struct Fail: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fail an AZ: mounts cut off by it answer EIO, new volumes and mounts there are refused.",
            discussion: helpText("""
                Cut off: mounts whose task runs in the AZ, and mounts of volumes whose data lives only there
                (EBS, EFS one-zone, FSx single-AZ, Lustre). EFS standard mounts in other AZs keep serving; a
                multi-AZ FSx deployment fails over to its standby AZ. Nothing is lost: `berth az recover`
                brings the same mounts back with their data.

                With --power-loss the AZ also loses power, as its instances would: each mount it cuts off
                takes back what its task had not made durable (ebs: file data written since the file's last
                fsync or fdatasync, and names created, removed or renamed since their directory's last fsync;
                efs and fsx: data not yet sent by a close or an fsync). Synced data is never lost.
                docs/SEMANTICS.md says per service what is kept.

                Example:
                  berth az fail us-east-1a && ./run-my-tests.sh; berth az recover us-east-1a
                  berth az fail us-east-1a --power-loss; berth az recover us-east-1a
                """))
        @Argument(help: "The AZ, e.g. us-east-1a.") var az: String
        @Flag(name: .customLong("power-loss"), help: "Also lose what the AZ's tasks had not made durable (fsync).")
        var powerLoss = false
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws { try AZCommand.change(az, failed: true, powerLoss: powerLoss, format: format, state: state) }
    }

    struct Recover: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recover a failed AZ: the mounts it cut off work again, data intact.",
            discussion: "Example: berth az recover us-east-1a")
        @Argument(help: "The AZ, e.g. us-east-1a.") var az: String
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws { try AZCommand.change(az, failed: false, format: format, state: state) }
    }

    /// Fails or recovers `zone` and says which mounts it cuts off or brings back.
    static func change(_ zone: String, failed: Bool, powerLoss: Bool = false, format: EmulatorFormat, state: StateOptions) throws {
        let store = try state.open()
        let (changed, affected, lost) = try refusing { () throws(StateError) in
            let changed = try store.setAZFailed(zone, failed)
            let lost = powerLoss ? try store.losePower(in: zone) : nil
            let zones = store.region.zones
            let failedZones = Set(try store.listAvailabilityZones().filter { $0.status == .failed }.map(\.name))
                .union(failed ? [zone] : [])
            var affected: [(VolumeAttachment, Volume)] = []
            for attachment in try store.listAttachments() {
                let volume = try store.describeVolume(attachment.volumeID).volume
                let cutOffNow = failedZones.contains(attachment.availabilityZone)
                    || volume.dataZones(in: zones).allSatisfy(failedZones.contains)
                let cutOffWithoutZone = failedZones.subtracting([zone]).contains(attachment.availabilityZone)
                    || volume.dataZones(in: zones).allSatisfy(failedZones.subtracting([zone]).contains)
                if cutOffNow != cutOffWithoutZone { affected.append((attachment, volume)) }
            }
            return (changed, affected, lost)
        }
        switch format {
        case .json:
            print(JSONValue.object([
                ("name", .string(changed.name)), ("status", .string(changed.status.rawValue)),
                ("volumes", .array(changed.volumeIDs.map { .string($0.rawValue) })),
                // Both keys in both directions (one of them empty), so fail and recover print one shape.
                ("cutOffMounts", .array(failed ? affected.map { EmulatorJSON.attachment($0.0) } : [])),
                ("restoredMounts", .array(failed ? [] : affected.map { EmulatorJSON.attachment($0.0) })),
            ] + (lost.map { results in
                [("powerLoss", JSONValue.array(results.map { result in
                    .object([("attachment", EmulatorJSON.attachment(result.attachment)),
                             ("volumeId", .string(result.volume.id.rawValue)),
                             ("answer", .string(result.answer.rawValue))])
                }))]
            } ?? [])).rendered())
        case .text:
            print("\(changed.name) \(changed.status.rawValue)")
            for (attachment, volume) in affected {
                print("  \(failed ? "cut off" : "restored"): \(volume.id) (\(volume.type.rawValue)) at \(attachment.mountpoint), task \(attachment.task) in \(attachment.availabilityZone)")
            }
            for result in lost ?? [] {
                print("  power lost: \(result.volume.id) at \(result.attachment.mountpoint): \(result.answer.summary)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the region's AZs, their status and volumes.")
        @Option(help: "text or json.") var format: EmulatorFormat = .text
        @OptionGroup var state: StateOptions

        func run() throws {
            let store = try state.open()
            let zones = try refusing { () throws(StateError) in try store.listAvailabilityZones() }
            switch format {
            case .json:
                print(JSONValue.array(zones.map { z in
                    .object([("name", .string(z.name)), ("status", .string(z.status.rawValue)),
                             ("volumes", .array(z.volumeIDs.map { .string($0.rawValue) }))])
                }).rendered())
            case .text:
                print("region \(store.region.name)")
                for z in zones { print("  \(z.name.padded(14)) \(z.status.rawValue.padded(10)) \(counted(z.volumeIDs.count, "volume"))") }
            }
        }
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
