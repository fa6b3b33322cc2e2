import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C during a drill: the drill stops at its next wait, cleans up once on its own thread (mounts,
/// the failed AZ, its directory) and exits 130, as a shell expects. In the drill suite, which runs one test
/// at a time: its other tests check that no drill mount is left anywhere.
extension OutageSnapshotDrillTests {
    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func anInterruptedDrillCleansUpAndExitsWithTheSignalsStatus(signalNumber: Int32, status: Int32) throws {
        let base = "/tmp/berth-drill-int-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let process = Process()
        process.executableURL = try ServedMount.berthBinary()
        process.arguments = ["drill", "az-failure", "--type", "efs", "--duration", "20s", "--fail-at", "15s"]
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": base]) { $1 }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var text = ""
        while !text.contains("mounted") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        try #require(text.contains("mounted"), "the drill mounted its volume: \(text)")
        kill(process.processIdentifier, signalNumber)
        // Generous: the point is that it ends by itself, having cleaned up.
        #expect(waitUntil(timeout: 30) { !process.isRunning })
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        text += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == status, "\(text)")
        #expect(text.contains("interrupted; unmounting and cleaning up"))
        let mounts = (FileHandle(forReadingAtPath: "/proc/mounts").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }) ?? ""
        #expect(!mounts.contains(base), "no mount of the drill is left")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).isEmpty, "its directory is removed")
    }
}
