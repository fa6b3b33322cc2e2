import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `takeSnapshot` did.
public struct SnapshotTaken: Sendable {
    public var snapshot: Snapshot
    public var copy: TreeCopier.Report
    /// How long changes were held back on the volume's mounts: from the freeze request until they resumed.
    public var pausedSeconds: Double
    /// How the point in time was preserved: `copyBeforeWrite` (writers held back only while the names
    /// were captured), or `frozenCopy` (writers held back for the whole copy: reflinks, which take
    /// about as long as capturing names, or a backing file system that cannot reopen files by handle).
    public var mode: Mode

    public enum Mode: String, Sendable {
        case copyBeforeWrite, frozenCopy
    }
}

extension StateStore {
    /// Takes a crash-consistent snapshot of a volume, mounted or not. Its point in time is this call:
    /// changes on every mount of the volume are held back (`WriteFreeze`) only while the tree's names and
    /// metadata are captured (`PointInTimeCapture`: proportional to the number of names, not to bytes);
    /// then, while the snapshot is `pending`, the copy proceeds with the mounts writing, each mount first
    /// preserving what a change would overwrite that the copy has not reached (`SnapshotPreservation`,
    /// copy before write), and the snapshot is recorded `completed`. Files unchanged since the volume's
    /// previous snapshot are linked from it (`SnapshotManifest`). Where the backing file system shares
    /// extents (reflinks), the copy is made during the freeze instead, by reflinks. On any failure nothing
    /// is left behind.
    ///
    /// `progress` is told the bytes copied and the total; `whilePending` runs once the mounts are
    /// released and before the copy (tests use it to write during a pending snapshot).
    /// `atPointInTime` is told the snapshot's record once its point in time is captured and the mounts
    /// are released (before the copy, or after it where the copy was made under the freeze): what
    /// `berth snapshot create` returns at. With `failureLeavesError`, a failure after that point leaves
    /// the record in state `error` (as EC2 keeps a snapshot that failed) instead of removing it.
    public func takeSnapshot(of volumeID: VolumeID, name: String? = nil, allowReflink: Bool = true,
                             progress: ((UInt64, UInt64) -> Void)? = nil,
                             whilePending: (() -> Void)? = nil,
                             atPointInTime: ((Snapshot) -> Void)? = nil,
                             failureLeavesError: Bool = false) throws(StateError) -> SnapshotTaken {
        // The copy reads the volume's own data directory, never through a link planted in its place.
        try directory.checkVolumeDirectories(volumeID)
        let baseline = try incrementalBaseline(of: volumeID)
        let (pending, attachments) = try beginSnapshot(of: volumeID, name: name)
        let destination = directory.snapshotDirectory(pending.id)
        let source = directory.dataDirectory(volumeID)
        let shared = directory.sharedDirectory(volumeID)
        var announced = false
        do {
            try makeStateDirectory(destination, mode: 0o700)
            try StateMetadata.write(SnapshotMetadata(snapshot: pending), to: StateMetadata.snapshotPath(directory, pending.id))
            // Snapshots of one volume take turns, from here until the copy is done.
            let publication = try SnapshotPreservation.Publication(sharedStateDirectory: shared)
            defer {
                publication.end()
                Self.emptyHold(destination)
            }
            try makeStateDirectory(destination + "/objects", mode: 0o700)
            try makeStateDirectory(destination + "/hold", mode: 0o700)
            let reflinks = allowReflink && Self.sharesExtents(destination)
            let tablePath = publication.nextTablePath()
            var pausedAt = Date()
            var frozenReport: TreeCopier.Report?
            var capture: PointInTimeCapture?
            let freezeStarted = Date()
            try WriteFreeze.whileFrozen(sharedStateDirectory: shared, servers: attachments.map(\.server.pid)) {
                pausedAt = Date()
                if !reflinks {
                    do {
                        let captured = try PointInTimeCapture.capture(root: source)
                        try PendingSnapshotTable.create(
                            path: tablePath, device: captured.device, objectsPath: destination,
                            files: captured.files.map { ($0.inode, UInt64(max($0.info.st_size, 0))) })
                        publication.publish()
                        capture = captured
                        return
                    } catch is PointInTimeCapture.HandlesUnsupported {
                        // Copied under the freeze below.
                    }
                }
                frozenReport = try TreeCopier(allowReflink: allowReflink, baseline: baseline?.1).copyTree(
                    from: source, to: destination + "/data")
            }
            let paused = Date().timeIntervalSince(freezeStarted)
            let report: TreeCopier.Report
            announced = true
            atPointInTime?(pending)
            if let capture {
                whilePending?()
                let table = try PendingSnapshotTable(path: tablePath)
                report = try PointInTimeCopier(capture: capture, table: table, snapshotPath: destination,
                                               volumeRoot: source, baseline: baseline?.1).run(progress: progress ?? { _, _ in })
            } else {
                report = frozenReport ?? TreeCopier.Report()
            }
            _ = rmdir(destination + "/objects")
            let written = report.manifest.write(path: destination + "/" + SnapshotManifest.fileName)
            guard written == 0 else {
                throw StateError.storage("cannot write the manifest of \(pending.id): \(String(cString: strerror(written)))")
            }
            let snapshot = try completeSnapshot(pending.id, pausedAt: pausedAt, copy: report,
                                                durationSeconds: paused,
                                                incrementalFrom: report.sharedFiles > 0 ? baseline?.0 : nil)
            return SnapshotTaken(snapshot: snapshot, copy: report, pausedSeconds: paused,
                                 mode: capture == nil ? .frozenCopy : .copyBeforeWrite)
        } catch {
            // Nothing is left behind, or the message says what is.
            var leftBehind = ""
            do {
                if failureLeavesError && announced {
                    try failSnapshot(pending.id, reason: "the copy failed: " + ((error as? StateError)?.message ?? "\(error)"))
                } else {
                    try deleteSnapshot(pending.id, evenIfPending: true)
                }
            } catch let cleanup {
                leftBehind = "; \(cleanup.message)"
            }
            if let error = error as? StateError, leftBehind.isEmpty { throw error }
            let reason = (error as? StateError)?.message ?? "\(error)"
            throw .storage("snapshot of \(volumeID) failed: \(reason)\(leftBehind)")
        }
    }

    /// Whether files in `directory` can share extents (FICLONE works there: XFS with reflink, Btrfs).
    static func sharesExtents(_ directory: String) -> Bool {
        let first = directory + "/.reflink-probe-a", second = directory + "/.reflink-probe-b"
        defer {
            unlink(first)
            unlink(second)
        }
        let a = open(first, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard a >= 0 else { return false }
        defer { close(a) }
        var byte: UInt8 = 1
        guard Glibc.write(a, &byte, 1) == 1, fsync(a) == 0 else { return false }
        let b = open(second, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard b >= 0 else { return false }
        defer { close(b) }
        return ioctl(b, 0x4004_9409, a) == 0  // FICLONE
    }

    /// Drops the links mounts made to keep removed files for the copy, and the directory.
    static func emptyHold(_ snapshot: String) {
        let path = snapshot + "/hold"
        guard let stream = opendir(path) else { return }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if UInt64(name) != nil { names.append(name) }
        }
        closedir(stream)
        for name in names { unlink(path + "/" + name) }
        rmdir(path)
    }
}
