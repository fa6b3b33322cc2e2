import Foundation
import Testing
@testable import EmulatorCore

/// `procText` reads /proc files of processes that may exit at any moment: a read that fails must answer
/// nil, never trap (FileHandle.readDataToEndOfFile traps on a failed read; `berth unmount` crashed so,
/// once in 82 mount/unmount cycles, while berth run tests started and stopped containers).
struct ProcTextTests {
    @Test func aReadThatFailsIsNilNotACrash() {
        // A directory opens for reading but every read fails (EISDIR): the failure a vanished process's
        // /proc file gives, made deterministic.
        #expect(procText("/proc") == nil)
        #expect(procText("/proc/self/comm")?.isEmpty == false)
        #expect(procText("/proc/no-such-process/comm") == nil)
    }
}
