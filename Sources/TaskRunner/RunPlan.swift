/// `--ebs NAME=SIZE_GIB[:TYPE][:SNAPSHOT]`: what RunTask's `volumeConfigurations[].managedEBSVolume` gives.
public struct EBSLaunchConfiguration: Sendable, Equatable {
    public var name: String
    public var sizeGiB: Int
    /// `gp3`, `io2`, …: recorded in the volume's name (Berth does not emulate EBS volume types).
    public var volumeType: String?
    public var snapshotID: String?

    public init(name: String, sizeGiB: Int, volumeType: String? = nil, snapshotID: String? = nil) {
        self.name = name
        self.sizeGiB = sizeGiB
        self.volumeType = volumeType
        self.snapshotID = snapshotID
    }

    /// Nil for anything but `NAME=SIZE[:TYPE][:SNAP]`; a part starting with `snap-` is the snapshot.
    public init?(parsing text: String) {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<equals])
        let parts = text[text.index(after: equals)...].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard !name.isEmpty, let first = parts.first, let size = Int(first), size > 0, parts.count <= 3 else { return nil }
        var type: String?
        var snapshot: String?
        for part in parts.dropFirst() {
            if part.hasPrefix("snap-") { snapshot = part } else if !part.isEmpty, type == nil { type = part } else { return nil }
        }
        self.init(name: name, sizeGiB: size, volumeType: type, snapshotID: snapshot)
    }
}

/// `--volume NAME=ID`.
public struct VolumeOverride: Sendable, Equatable {
    public var name: String
    public var volumeID: String

    public init?(parsing text: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return nil }
        name = String(text[..<equals])
        volumeID = String(text[text.index(after: equals)...])
        if volumeID.isEmpty { return nil }
    }
}

/// Where each task runs: `count` tasks spread round-robin over `zones` (run.md §Volumes).
public enum TaskPlacement {
    public static func zones(count: Int, over zones: [String]) -> [String] {
        guard !zones.isEmpty, count > 0 else { return [] }
        return (0..<count).map { zones[$0 % zones.count] }
    }

    /// `<run hex>-<n>`, 1-based: short enough to prefix log lines, unique per run.
    public static func taskID(runID: String, index: Int) -> String {
        "\(runID.dropFirst("run-".count))-\(index + 1)"
    }
}

/// What a task-definition volume becomes for one task.
public enum VolumeSource: Sendable, Equatable {
    /// An emulated volume that exists (EFS, FSx for Windows), served from `root` with `accessPoint`'s identity.
    case emulated(volumeID: String, type: String, rootDirectory: String?, accessPointID: String?)
    /// A new EBS volume for this task, in its AZ.
    case newEBS(EBSLaunchConfiguration)
    /// A bind of a host path (EC2 `host.sourcePath`).
    case hostPath(String)
    /// A task-scoped empty directory (a bind mount volume without a sourcePath).
    case scratch
    /// A volume of the container engine: `name`, made for the task when `taskScoped`.
    case engineVolume(name: String, taskScoped: Bool, driver: String?, options: [String: String], labels: [String: String])
}

/// Turns each task-definition volume into its source for one task. `existing` tells the type of an
/// emulated volume id (nil: no such volume).
public enum VolumePlanner {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// `FileSystemNotFound` / `InvalidVolume.NotFound`, with where to look.
        case notFound(volume: String, id: String, path: String)
        case wrongType(volume: String, id: String, expected: String, actual: String)

        public var description: String {
            switch self {
            case .notFound(let volume, let id, let path):
                let name = id.hasPrefix("vol-") ? "InvalidVolume.NotFound" : "FileSystemNotFound"
                return "\(name): \(id) (volume '\(volume)', \(path)) is not an emulated volume of this state directory; "
                    + "`berth volume list` shows them; create one with `berth volume create` and pass --volume \(volume)=ID"
            case .wrongType(let volume, let id, let expected, let actual):
                return "InvalidParameterException: volume '\(volume)' needs an \(expected) file system, but \(id) is \(actual)"
            }
        }
    }

    public static func sources(
        for definition: TaskDefinition, runID: String, taskID: String, overrides: [String: String],
        ebs: [String: EBSLaunchConfiguration], existing: (String) -> String?
    ) throws(Failure) -> [(TaskVolume, VolumeSource)] {
        var result: [(TaskVolume, VolumeSource)] = []
        for volume in definition.volumes {
            switch volume.kind {
            case .efs(let efs):
                let id = overrides[volume.name] ?? efs.fileSystemID
                guard let type = existing(id) else { throw .notFound(volume: volume.name, id: id, path: volume.path) }
                guard type == "efs" else { throw .wrongType(volume: volume.name, id: id, expected: "efs", actual: type) }
                let root = efs.rootDirectory.flatMap { $0 == "/" ? nil : $0 }
                // `berth taskdef`'s `<EFS_ACCESS_POINT_ID>` left as it is: no access point (TaskRun says so).
                let accessPoint = efs.accessPointID.flatMap { TaskRun.isPlaceholder($0) ? nil : $0 }
                result.append((volume, .emulated(volumeID: id, type: type, rootDirectory: root, accessPointID: accessPoint)))
            case .fsxWindows(let fsx):
                let id = overrides[volume.name] ?? fsx.fileSystemID
                guard let type = existing(id) else { throw .notFound(volume: volume.name, id: id, path: volume.path) }
                guard type == "fsx-windows" else { throw .wrongType(volume: volume.name, id: id, expected: "fsx-windows", actual: type) }
                let root = fsx.rootDirectory.replacingBackslashes
                result.append((volume, .emulated(volumeID: id, type: type, rootDirectory: root == "/" ? nil : root, accessPointID: nil)))
            case .ebsAtLaunch:
                // Checked by RunRefusals: a configuredAtLaunch volume without --ebs never gets here.
                if let configuration = ebs[volume.name] { result.append((volume, .newEBS(configuration))) }
            case .host(let sourcePath?):
                if let id = overrides[volume.name] {
                    guard let type = existing(id) else { throw .notFound(volume: volume.name, id: id, path: volume.path) }
                    result.append((volume, .emulated(volumeID: id, type: type, rootDirectory: nil, accessPointID: nil)))
                } else {
                    result.append((volume, .hostPath(sourcePath)))
                }
            case .host(nil):
                if let id = overrides[volume.name] {
                    guard let type = existing(id) else { throw .notFound(volume: volume.name, id: id, path: volume.path) }
                    result.append((volume, .emulated(volumeID: id, type: type, rootDirectory: nil, accessPointID: nil)))
                } else {
                    result.append((volume, .scratch))
                }
            case .docker(let docker):
                let shared = docker.isShared
                let name = shared ? volume.name : "berth-\(runID)-\(taskID)-\(volume.name)"
                result.append((volume, .engineVolume(name: name, taskScoped: !shared, driver: docker.driver,
                                                     options: docker.driverOptions, labels: docker.labels)))
            }
        }
        return result
    }
}

extension String {
    /// FSx for Windows paths are written `\share\dir`; the emulated volume is a POSIX tree.
    var replacingBackslashes: String {
        let slashed = String(map { $0 == "\\" ? "/" : $0 })
        return slashed.hasPrefix("/") ? slashed : "/" + slashed
    }
}
