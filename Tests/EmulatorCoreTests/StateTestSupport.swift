import Foundation
import StorageCatalog
import Testing
@testable import EmulatorCore

/// A temporary root holding a state directory (`<root>/state`) and mount points (`<root>/mnt/…`), removed
/// by `cleanUp()`.
struct StateSandbox {
    let root: String
    var stateDirectory: StateDirectory { StateDirectory(path: root + "/state") }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/mnt", withIntermediateDirectories: true)
    }

    func store(region: RegionConfiguration? = nil) throws(StateError) -> StateStore {
        try StateStore(directory: stateDirectory, region: region)
    }

    func mountpoint(_ name: String) -> String { root + "/mnt/" + name }

    func cleanUp() { try? FileManager.default.removeItem(atPath: root) }
}

/// The error `body` throws, which must be a `StateError`.
func stateError<T>(_ body: () throws(StateError) -> T) -> StateError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// Entries of a directory, empty when it does not exist.
func directoryEntries(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}
