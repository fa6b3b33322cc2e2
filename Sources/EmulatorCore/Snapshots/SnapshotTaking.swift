import Foundation

/// What `takeSnapshot` did.
public struct SnapshotTaken: Sendable {
    public var snapshot: Snapshot
    public var copy: TreeCopier.Report
    /// From the freeze request until changes resumed.
    public var pausedSeconds: Double
}

extension StateStore {
    /// Takes a crash-consistent snapshot of a volume, mounted or not: pauses changes on every mount of it
    /// (`WriteFreeze`), copies its data (reflinks where the backing file system has them, else a copy;
    /// files unchanged since the volume's previous snapshot are linked from it, `SnapshotManifest`),
    /// resumes them, and records the snapshot `completed`. On any failure nothing is left behind.
    public func takeSnapshot(of volumeID: VolumeID, name: String? = nil, allowReflink: Bool = true) throws(StateError) -> SnapshotTaken {
        // The copy reads the volume's own data directory, never through a link planted in its place.
        try directory.checkVolumeDirectories(volumeID)
        let baseline = try incrementalBaseline(of: volumeID)
        let (pending, attachments) = try beginSnapshot(of: volumeID, name: name)
        let destination = directory.snapshotDirectory(pending.id)
        let started = Date()
        do {
            try makeStateDirectory(destination, mode: 0o700)
            try StateMetadata.write(SnapshotMetadata(snapshot: pending), to: StateMetadata.snapshotPath(directory, pending.id))
            var pausedAt = Date()
            let report = try WriteFreeze.whileFrozen(
                sharedStateDirectory: directory.sharedDirectory(volumeID), servers: attachments.map(\.server.pid)
            ) {
                pausedAt = Date()
                return try TreeCopier(allowReflink: allowReflink, baseline: baseline?.1).copyTree(
                    from: directory.dataDirectory(volumeID), to: destination + "/data")
            }
            let paused = Date().timeIntervalSince(started)
            let written = report.manifest.write(path: destination + "/" + SnapshotManifest.fileName)
            guard written == 0 else {
                throw StateError.storage("cannot write the manifest of \(pending.id): \(String(cString: strerror(written)))")
            }
            let snapshot = try completeSnapshot(pending.id, pausedAt: pausedAt, copy: report, durationSeconds: paused,
                                                incrementalFrom: report.sharedFiles > 0 ? baseline?.0 : nil)
            return SnapshotTaken(snapshot: snapshot, copy: report, pausedSeconds: paused)
        } catch {
            // Nothing is left behind, or the message says what is.
            var leftBehind = ""
            do {
                try deleteSnapshot(pending.id, evenIfPending: true)
            } catch let cleanup {
                leftBehind = "; \(cleanup.message)"
            }
            if let error = error as? StateError, leftBehind.isEmpty { throw error }
            let reason = (error as? StateError)?.message ?? "\(error)"
            throw .storage("snapshot of \(volumeID) failed: \(reason)\(leftBehind)")
        }
    }
}
