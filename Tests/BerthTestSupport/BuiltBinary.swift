public import Foundation

/// The one way tests find the `berth` executable that `swift build` made.
public enum BuiltBinary {
    /// The package's root directory.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `berth` next to the test bundle in the build products directory, else in `.build/debug` or
    /// `.build/release` of the package.
    public static func berth() throws -> URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("berth")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        for config in ["debug", "release"] {
            let candidate = packageRoot.appendingPathComponent(".build/\(config)/berth")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw BinaryNotFound(near: Bundle.main.bundleURL.path)
    }

    public struct BinaryNotFound: Error, CustomStringConvertible {
        public var near: String
        public var description: String { "no built berth binary next to \(near) or in .build/; run swift build first" }
    }
}
