import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a volume may be mounted (docs/SECURITY.md): never on `/`, never inside the state directory
/// (where every volume's and snapshot's data lives), never on or inside another Berth mount. Paths are
/// compared after every symbolic link is resolved, on both sides, so that a link to the state directory
/// or a state directory reached through a link cannot hide the overlap.
public enum MountpointRules {
    /// `path` with every symbolic link resolved; when it cannot be resolved whole (a dead FUSE mount
    /// answers ENOTCONN), its parent resolved and the last component appended.
    public static func resolve(_ path: String) -> String {
        let absolute = absolutePath(path)
        if let real = realpath(absolute, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let parent = (absolute as NSString).deletingLastPathComponent
        let last = (absolute as NSString).lastPathComponent
        guard let real = realpath(parent, nil) else { return absolute }
        defer { free(real) }
        let parentPath = String(cString: real)
        return (parentPath == "/" ? "" : parentPath) + "/" + last
    }

    /// Whether `path` is `directory` or below it.
    static func isInside(_ path: String, _ directory: String) -> Bool {
        path == directory || path.hasPrefix(directory == "/" ? "/" : directory + "/")
    }

    /// The refusal for mounting on the resolved path `resolved` with the state directory `state`, or nil.
    static func refusal(mounting resolved: String, stateDirectory state: StateDirectory,
                        berthMounts: [BerthMount] = BerthMount.all()) -> String? {
        if resolved == "/" { return "cannot mount on /" }
        for root in Set([state.path, resolve(state.path)]) where isInside(resolved, root) {
            return "\(resolved) is inside the state directory \(root), which holds every volume's and snapshot's data"
        }
        if let outer = berthMounts.first(where: { isInside(resolved, $0.mountpoint) }) {
            return outer.mountpoint == resolved
                ? "\(resolved) is already a Berth mount (\(outer.volume)); unmount it first"
                : "\(resolved) is inside the Berth mount of \(outer.volume) at \(outer.mountpoint); mount on a directory outside it"
        }
        return nil
    }
}

/// A Berth mount as the kernel lists it in /proc/self/mountinfo (`fuse.berth-<type>`, source the volume id).
public struct BerthMount: Sendable, Equatable {
    public var mountpoint: String
    public var volume: String

    /// Every Berth mount this process can see.
    public static func all() -> [BerthMount] {
        guard let text = procText("/proc/self/mountinfo") else { return [] }
        return parse(mountinfo: text)
    }

    /// proc(5) mountinfo: `id parent major:minor root mountpoint options [optional…] - fstype source super`.
    static func parse(mountinfo: String) -> [BerthMount] {
        mountinfo.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 5, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count,
                  fields[dash + 1].hasPrefix("fuse.berth-") else { return nil }
            return BerthMount(mountpoint: unescape(fields[4]), volume: unescape(fields[dash + 2]))
        }
    }

    /// Undoes the kernel's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var characters = Array(field.utf8)[...]
        while let byte = characters.popFirst() {
            if byte == UInt8(ascii: "\\"), characters.count >= 3,
               let value = UInt8(String(decoding: characters.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                characters = characters.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
