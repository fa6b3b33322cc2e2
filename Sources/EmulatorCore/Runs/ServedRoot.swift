#if canImport(Glibc)
import Glibc
#endif

/// A directory of a volume that a mount serves as its root: an EFS access point's root directory, or an
/// ECS `efsVolumeConfiguration.rootDirectory` / `fsxWindowsFileServerVolumeConfiguration.rootDirectory`.
///
/// EFS (efs/latest/ug/API_RootDirectory.html, API_CreationInfo.html, checked 2026-11-26): when the path does
/// not exist, EFS creates it with the creation info's owner and permissions when a client connects; without
/// creation info the mount fails. Berth applies the creation info to every directory of the path it has to
/// make (EFS documents only the last one), and answers ENOENT when a directory is missing and there is no
/// creation info, so the mount fails as it would on EFS.
public struct ServedRoot: Sendable, Equatable {
    /// Absolute, within the volume (`/app/data`).
    public var path: String
    public var creation: CreationInfo?

    public init(path: String, creation: CreationInfo? = nil) {
        self.path = path
        self.creation = creation
    }

    /// The path's components; nil when one is `.` or `..` (a served root never leaves the volume).
    public var components: [String]? {
        let parts = path.split(separator: "/").map(String.init)
        if parts.contains(where: { $0 == "." || $0 == ".." }) { return nil }
        return parts
    }
}

/// Linux's O_PATH (010000000 on every architecture Berth builds for), which Glibc's Swift module does
/// not export (it is behind _GNU_SOURCE); the FUSE layer has the same value as BERTH_O_PATH.
let servedRootOPath: Int32 = 0o10000000

extension MountConfiguration {
    /// Where the mount's root lives on disk, for messages.
    public var servedDirectoryPath: String {
        guard let components = servedRoot?.components, !components.isEmpty else { return backingDirectory }
        return backingDirectory + "/" + components.joined(separator: "/")
    }

    /// Opens the directory the mount serves as its root (`O_PATH`): the backing directory, or its
    /// `servedRoot`, walked one component at a time without following symbolic links (a link a task
    /// planted in the volume cannot lead the mount out of it), made where missing when there is creation
    /// info. Returns the descriptor, or -errno.
    public func openServedRoot() -> Int32 {
        let flags = servedRootOPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        var fd = open(backingDirectory, flags)
        guard fd >= 0 else { return -errno }
        guard let servedRoot else { return fd }
        guard let components = servedRoot.components else {
            close(fd)
            return -EINVAL
        }
        for component in components {
            var next = openat(fd, component, flags)
            if next < 0, errno == ENOENT, let creation = servedRoot.creation {
                if mkdirat(fd, component, mode_t(creation.permissions & 0o777)) == 0 {
                    // Owner first: chown clears the set-id bits, which the mode then sets again.
                    _ = fchownat(fd, component, creation.ownerUID, creation.ownerGID, AT_SYMLINK_NOFOLLOW)
                    _ = fchmodat(fd, component, mode_t(creation.permissions & 0o7777), 0)
                }
                next = openat(fd, component, flags)
            }
            let code = errno
            close(fd)
            guard next >= 0 else { return -code }
            fd = next
        }
        return fd
    }
}
