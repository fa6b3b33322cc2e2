import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A process that uses a mount, and how (what makes `umount` answer EBUSY, as `fuser -m` lists it).
public struct MountUser: Sendable, Equatable, CustomStringConvertible {
    public enum Use: String, Sendable {
        case openFile = "has a file open there"
        case workingDirectory = "works in it"
        case rootDirectory = "has it as its root"
        case mappedFile = "has a file there mapped"
        case boundElsewhere = "has it bind-mounted in its own mount namespace (a container's volume)"
    }

    public var pid: Int32
    public var command: String
    public var use: Use

    public var description: String { "pid \(pid) (\(command)) \(use.rawValue)" }
}

/// Finds the processes that use a mount without asking its server anything (a mount cut off by an
/// outage answers EIO to every stat): open files by their `mnt_id` in /proc/PID/fdinfo, working and
/// root directories and mapped files by path, in this mount namespace and in others that hold a copy of
/// the mount, and other mount namespaces that bind-mounted the file system elsewhere (a container
/// started with `-v /mnt/a:/data`).
public enum MountUsers {
    /// The mount at `mountpoint` (resolved path) as /proc/self/mountinfo lists it.
    struct MountEntry {
        var id: String
        var device: String
    }

    /// Every mount of the file system `device` (`major:minor`) in a mountinfo text, with its path.
    static func entries(of device: String, in mountinfo: String) -> [(id: String, mountpoint: String)] {
        mountinfo.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4, fields[2] == Substring(device) else { return nil }
            return (String(fields[0]), BerthMount.unescape(fields[4]))
        }
    }

    static func entry(at mountpoint: String, in mountinfo: String) -> MountEntry? {
        // The last entry for a path is the one on top.
        mountinfo.split(separator: "\n").last { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            return fields.count > 4 && BerthMount.unescape(fields[4]) == mountpoint
        }.map { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            return MountEntry(id: String(fields[0]), device: String(fields[2]))
        }
    }

    /// Every process other than this one (and `excluding`, the mount's own server) that uses the mount
    /// at `mountpoint`; empty when nothing is mounted there.
    public static func processes(using mountpoint: String, excluding: Set<Int32> = []) -> [MountUser] {
        guard let mountinfo = procText("/proc/self/mountinfo"),
              let mount = entry(at: mountpoint, in: mountinfo) else { return [] }
        let ownNamespace = link("/proc/self/ns/mnt")
        let me = getpid()
        var users: [MountUser] = []
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
        for pid in pids.sorted() where pid != me && !excluding.contains(pid) {
            let base = "/proc/\(pid)"
            let command = (procText(base + "/comm") ?? "?")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let namespace = link(base + "/ns/mnt")
            if namespace != nil && namespace != ownNamespace {
                // Another mount namespace: its mounts of this file system (same device numbers), found
                // by its own mountinfo. A copy at the same path is what every namespace made while the
                // mount existed holds (unshare, a service's private /tmp): it counts only when a
                // process there works in it. A mount elsewhere was made on purpose (docker -v
                // /mnt/a:/data) and counts as it stands.
                let theirs = procText(base + "/mountinfo") ?? ""
                let copies = entries(of: mount.device, in: theirs)
                if copies.contains(where: { $0.mountpoint != mountpoint }) {
                    users.append(MountUser(pid: pid, command: command, use: .boundElsewhere))
                    continue
                }
                for copy in copies {
                    if let use = use(of: base, mountpoint: copy.mountpoint, mountID: copy.id) {
                        users.append(MountUser(pid: pid, command: command, use: use))
                        break
                    }
                }
                continue
            }
            if let use = use(of: base, mountpoint: mountpoint, mountID: mount.id) {
                users.append(MountUser(pid: pid, command: command, use: use))
            }
        }
        return users
    }

    /// The processes that use the mount at `mountpoint` and still do after a short settle (`checks`
    /// looks, `intervalMicroseconds` apart): only a pid seen in every look counts. Some users last a
    /// moment only: a child between fork and exec holds its parent's descriptors, and a container
    /// runtime's new mount namespace holds every mount at another path until it pivots into the
    /// container's root and detaches the old one (runc). A full test run once had an unmount refused
    /// while podman started containers beside it; an application using the mount is there every time.
    public static func lastingProcesses(using mountpoint: String, excluding: Set<Int32> = [],
                                        checks: Int = 5, intervalMicroseconds: UInt32 = 200_000) -> [MountUser] {
        var users = processes(using: mountpoint, excluding: excluding)
        var looks = 1
        while !users.isEmpty, looks < checks {
            usleep(intervalMicroseconds)
            let now = Set(processes(using: mountpoint, excluding: excluding).map(\.pid))
            users.removeAll { !now.contains($0.pid) }
            looks += 1
        }
        return users
    }

    private static func use(of base: String, mountpoint: String, mountID: String) -> MountUser.Use? {
        func inside(_ path: String?) -> Bool {
            guard let path else { return false }
            return path == mountpoint || path.hasPrefix(mountpoint + "/")
        }
        if inside(link(base + "/cwd")) { return .workingDirectory }
        if inside(link(base + "/root")) { return .rootDirectory }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: base + "/fdinfo")) ?? []
        for fd in fds {
            let info = procText(base + "/fdinfo/" + fd) ?? ""
            if info.split(separator: "\n").contains(where: { $0 == "mnt_id:\t" + mountID }) { return .openFile }
        }
        let maps = procText(base + "/maps") ?? ""
        for line in maps.split(separator: "\n") {
            if let slash = line.firstIndex(of: "/"), inside(String(line[slash...])) { return .mappedFile }
        }
        return nil
    }

    private static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, Int(PATH_MAX))
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A /proc file's text. Read as bytes and decoded leniently: a path anywhere on the system that is not
/// UTF-8 (a mount point, a mapped file, a process's name, all of which untrusted processes choose) would
/// make a strict decode fail for the whole file, and a mount in use would then look unused.
/// A process that exits between the open and the read makes the read fail: nil then (never
/// `readDataToEndOfFile`, which traps on a failed read: `berth unmount` crashed so while containers came
/// and went).
func procText(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    do {
        return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    } catch {
        return nil
    }
}
