import CFuse3
import Glibc
import Synchronization

/// Every open file and directory costs the server a descriptor for as long as it is open, on top of the
/// one it keeps for the file itself, and those cannot be given back while the program holds them. So that
/// one process holding files open cannot take every descriptor and leave the mount's other users with
/// EMFILE, each process (by the pid the kernel gives the request) may hold at most a quarter of the
/// server's open-file limit through the mount; past that its own opens answer EMFILE, as its own
/// RLIMIT_NOFILE would (docs/SECURITY.md; SEMANTICS.md §Descriptors).
final class HandleShares: Sendable {
    private struct Table {
        var owners: [UInt64: pid_t] = [:]
        var counts: [pid_t: Int] = [:]
    }

    private let table = Mutex(Table())
    /// How many handles one process may hold.
    let share: Int
    /// The server's open-file limit these shares were made of.
    let openFileLimit: Int

    init(openFileLimit: Int) {
        self.openFileLimit = openFileLimit
        share = max(64, openFileLimit / 4)
    }

    /// The caller of `req`, when it may open one more handle (then counted for it), or nil: EMFILE.
    func claim(_ req: fuse_req_t?) -> pid_t? {
        let pid = fuse_req_ctx(req)?.pointee.pid ?? 0
        return table.withLock { table -> pid_t? in
            let held = table.counts[pid, default: 0]
            guard held < share else { return nil }
            table.counts[pid] = held + 1
            return pid
        }
    }

    /// The handle `fh` opened for `pid`'s claim.
    func record(_ fh: UInt64, for pid: pid_t) {
        table.withLock { $0.owners[fh] = pid }
    }

    /// Gives back a claim whose open failed.
    func unclaim(_ pid: pid_t) {
        table.withLock { Self.decrement(&$0, pid) }
    }

    /// The handle `fh` was released.
    func release(_ fh: UInt64) {
        table.withLock { table in
            guard let pid = table.owners.removeValue(forKey: fh) else { return }
            Self.decrement(&table, pid)
        }
    }

    private static func decrement(_ table: inout Table, _ pid: pid_t) {
        let left = table.counts[pid, default: 1] - 1
        table.counts[pid] = left > 0 ? left : nil
    }
}

extension MountFileSystem {
    /// The soft RLIMIT_NOFILE now (after `MountServer.raiseOpenFileLimit`).
    static func currentOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
        return Int(clamping: limit.rlim_cur)
    }
}
