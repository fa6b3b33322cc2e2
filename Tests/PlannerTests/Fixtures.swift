import Foundation
import StorageCatalog
import Workloads

enum Fixtures {
    /// The repository's root, found from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let profilesDirectory = root.appendingPathComponent("Profiles")

    static func profile(_ file: String) throws -> WorkloadProfile {
        try ProfileLoader.load(path: profilesDirectory.appendingPathComponent(file).path, displayPath: "Profiles/\(file)")
    }

    /// The smallest profile: one Linux task on EC2 with exclusive access; tests change what they need.
    static func minimal(
        os: OperatingSystem = .linux, launch: LaunchType = .ec2, runtime: Runtime = .dotnet,
        sharing: Sharing = .exclusive, tasks: Int = 1, _ change: (inout WorkloadProfile) -> Void = { _ in }
    ) -> WorkloadProfile {
        var p = WorkloadProfile(
            name: "t", platform: .init(os: os, launchType: launch, runtime: runtime),
            access: .init(sharing: sharing, tasks: tasks))
        change(&p)
        return p
    }
}
