#if os(Linux)
public import Glibc

/// What a file holds of a provisioned volume, as the services' own file systems count it (ext4/XFS on
/// EBS, NTFS, ZFS, Lustre, WAFL): its allocated blocks, not its length. A sparse file's holes cost
/// nothing; a regular file counts once whatever its number of links, and nothing once its last name
/// is gone (an unlinked file still open is the opener's, not the volume's).
public struct Allocation: Sendable, Equatable {
    /// Allocated bytes (`st_blocks * 512`).
    public var allocated: UInt64
    /// Length (`st_size`).
    public var size: UInt64
    public var links: UInt64
    /// The backing file system's allocation unit (`st_blksize`, 512 bytes to 1 MiB).
    public var blockSize: UInt64
    public var isRegular: Bool

    public init(allocated: UInt64, size: UInt64, links: UInt64 = 1, blockSize: UInt64 = 4096, isRegular: Bool = true) {
        self.allocated = allocated
        self.size = size
        self.links = links
        self.blockSize = min(max(blockSize, 512), 1 << 20)
        self.isRegular = isRegular
    }

    /// From the backing file's attributes.
    public init(_ st: stat) {
        self.init(allocated: UInt64(max(0, st.st_blocks)) * 512, size: UInt64(max(0, st.st_size)),
                  links: UInt64(st.st_nlink), blockSize: UInt64(max(0, st.st_blksize)),
                  isRegular: st.st_mode & S_IFMT == S_IFREG)
    }

    /// Of the file `fd` refers to (O_PATH descriptors included); nil with errno set when it cannot be read.
    public init?(fd: Int32) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        self.init(st)
    }

    /// What the volume counts for this file now.
    public var charged: UInt64 { isRegular && links > 0 ? allocated : 0 }

    /// What removing one of its names frees: everything on the last one, else nothing.
    public var freedByRemovingAName: UInt64 { isRegular && links == 1 ? allocated : 0 }

    func alignDown(_ value: UInt64) -> UInt64 { value - value % blockSize }
    func alignUp(_ value: UInt64) -> UInt64 {
        let (sum, overflow) = value.addingReportingOverflow(blockSize - 1)
        return overflow ? UInt64.max - UInt64.max % blockSize : alignDown(sum)
    }

    /// Where the blocks the file certainly has end: a file with no hole (as many blocks as its length
    /// needs, or more) has every block up to its end.
    var denseEnd: UInt64 {
        let end = alignUp(size)
        return allocated >= end ? end : 0
    }

    /// Whether the file may have holes: fewer blocks than its length needs.
    public var isSparse: Bool { allocated < alignUp(size) }

    /// How many bytes of blocks a change of `length` bytes at `offset` touches.
    func touchedBytes(offset: UInt64, length: UInt64) -> UInt64 {
        let range = touched(offset: offset, length: length)
        return range.upperBound - range.lowerBound
    }

    /// The blocks a change of `length` bytes at `offset` touches.
    func touched(offset: UInt64, length: UInt64) -> Range<UInt64> {
        let end = offset.addingReportingOverflow(length).overflow ? UInt64.max : offset + length
        return alignDown(offset)..<alignUp(end)
    }

    /// The holes of the file `fd` (this file, measured) among the blocks a change of `length` bytes at
    /// `offset` touches, by SEEK_HOLE/SEEK_DATA, past the end of file included; nil when the file has
    /// none (not `isSparse`), where the blocks up to its end are all there. A file system that reports
    /// preallocated blocks as holes (ext4's unwritten extents) only makes the bound higher.
    public func holes(fd: Int32, offset: UInt64, length: UInt64) -> [Range<UInt64>]? {
        guard isSparse, length > 0 else { return nil }
        let range = touched(offset: offset, length: length)
        // SEEK_DATA and SEEK_HOLE (unistd.h, _GNU_SOURCE), which Swift does not import.
        let seekData: Int32 = 3, seekHole: Int32 = 4
        var found: [Range<UInt64>] = []
        var position = range.lowerBound
        while position < range.upperBound, position <= UInt64(Int64.max) {
            let hole = lseek(fd, off_t(position), seekHole)
            if hole < 0 {
                if errno == ENXIO { found.append(position..<range.upperBound) }  // at or past the end
                else { return nil }
                break
            }
            let holeStart = UInt64(hole)
            if holeStart >= range.upperBound { break }
            let data = lseek(fd, hole, seekData)
            let holeEnd = data < 0 ? range.upperBound : min(UInt64(data), range.upperBound)
            found.append(holeStart..<holeEnd)
            if data < 0 { break }
            position = UInt64(data)
        }
        return found
    }

    /// The parts of the blocks a change of `length` bytes at `offset` touches that may need new blocks,
    /// in order: the `holes` when known, else all past the blocks the file certainly has.
    func unallocated(offset: UInt64, length: UInt64, holes: [Range<UInt64>]?) -> [Range<UInt64>] {
        guard length > 0 else { return [] }
        let range = touched(offset: offset, length: length)
        guard let holes else {
            let start = max(range.lowerBound, denseEnd)
            return start < range.upperBound ? [start..<range.upperBound] : []
        }
        return holes.compactMap { hole in
            // A hole starting inside a block (at the end of file) leaves that block allocated.
            let lower = max(alignUp(hole.lowerBound), range.lowerBound)
            let upper = min(hole.upperBound == range.upperBound ? hole.upperBound : alignDown(hole.upperBound),
                            range.upperBound)
            return lower < upper ? lower..<upper : nil
        }
    }

    /// At most how many bytes of new blocks writing or allocating `length` bytes at `offset` needs.
    public func newBlocksBound(offset: UInt64, length: UInt64, holes: [Range<UInt64>]? = nil) -> UInt64 {
        unallocated(offset: offset, length: length, holes: holes).reduce(0) { $0 + UInt64($1.count) }
    }

    /// The longest prefix of `length` bytes at `offset` whose new blocks fit in `granted` bytes.
    public func fittingLength(offset: UInt64, length: UInt64, granted: UInt64, holes: [Range<UInt64>]? = nil) -> UInt64 {
        var budget = alignDown(granted)
        for part in unallocated(offset: offset, length: length, holes: holes) {
            let cost = UInt64(part.count)
            if cost <= budget {
                budget -= cost
                continue
            }
            let limit = part.lowerBound + budget
            return limit <= offset ? 0 : min(length, limit - offset)
        }
        return length
    }
}

/// Bytes taken from a volume for one change of one file, and that file's charge before it: what
/// `VolumeUsage.settle` turns into the file's real change once the change is done.
public struct CapacityReservation: Sendable, Equatable {
    /// The file's charge (`Allocation.charged`) before the change.
    public let before: UInt64
    /// Bytes taken from the volume ahead of the change.
    public let reserved: UInt64
    /// How many bytes a write may write (shortened to what fits); the whole request otherwise.
    public let length: UInt64
    /// For a write: the most its file's allocation can grow by, the blocks it touches. A write never
    /// frees blocks and never takes blocks outside its range; a measurement saying otherwise was taken
    /// while the backing file system changed the file's blocks on its own (on ext4 a 432 KiB file once
    /// measured 0 bytes between two writes that saw it whole, likely while its delayed allocation was
    /// written back), and `settle` keeps to these bounds.
    /// nil for changes that may free blocks (truncate, fallocate).
    public let growthLimit: UInt64?

    init(before: UInt64, reserved: UInt64, length: UInt64, growthLimit: UInt64? = nil) {
        self.before = before
        self.reserved = reserved
        self.length = length
        self.growthLimit = growthLimit
    }
}

/// The capacity rules, each written once. Every change of a file's blocks follows one pattern, under
/// a lock that keeps other changes of that file out (the server's per-inode size lock): measure the file
/// (`Allocation`), reserve what the change may need (`reserveWrite`, `reserveAllocation`, or
/// `unreserved` for a change that allocates nothing), make the change, measure again and `settle`. The
/// counter then moves by exactly what the backing file's allocation moved by, so it stays equal to a
/// rescan (`UsageScanner`), and a reservation never takes it past capacity.
extension VolumeUsage {
    /// A write: takes the new blocks it may need. When only some fit, the write is shortened to the
    /// bytes whose blocks fit (POSIX write(2): fewer bytes "if there is insufficient space"); nil
    /// (ENOSPC) when not one byte fits. Writes into blocks the file has cost nothing, on a full volume too.
    /// `holes`: `Allocation.holes` of the file, for a sparse one.
    public func reserveWrite(_ file: Allocation, offset: UInt64, length: UInt64,
                             holes: [Range<UInt64>]? = nil) -> CapacityReservation? {
        let bound = file.newBlocksBound(offset: offset, length: length, holes: holes)
        let granted = reserve(upTo: bound)
        if granted == bound {
            return CapacityReservation(before: file.charged, reserved: granted, length: length,
                                       growthLimit: file.touchedBytes(offset: offset, length: length))
        }
        let fits = file.fittingLength(offset: offset, length: length, granted: granted, holes: holes)
        guard fits > 0 else {
            release(granted)
            return nil
        }
        return CapacityReservation(before: file.charged, reserved: granted, length: fits,
                                   growthLimit: file.touchedBytes(offset: offset, length: fits))
    }

    /// An allocation (fallocate without PUNCH_HOLE or COLLAPSE_RANGE): all of its new blocks, or nil
    /// (ENOSPC) and nothing taken. `insert`: FALLOC_FL_INSERT_RANGE, which adds `length` bytes of blocks
    /// wherever it inserts them.
    public func reserveAllocation(_ file: Allocation, offset: UInt64, length: UInt64, insert: Bool = false,
                                  holes: [Range<UInt64>]? = nil) -> CapacityReservation? {
        let bound = insert ? file.alignUp(length) : file.newBlocksBound(offset: offset, length: length, holes: holes)
        guard reserveAll(bound) else { return nil }
        return CapacityReservation(before: file.charged, reserved: bound, length: length)
    }

    /// A change that allocates nothing and may free blocks: a truncate (a growing one makes a hole),
    /// an open with O_TRUNC, a punched hole.
    public func unreserved(_ file: Allocation) -> CapacityReservation {
        CapacityReservation(before: file.charged, reserved: 0, length: 0)
    }

    /// After the change (done or failed): the counter moves by the file's real change instead of the
    /// reservation. `after` nil (the file could not be measured): only the reservation is returned.
    /// Blocks the backing file system allocated beyond the reservation are counted all the same, since
    /// they are there (the counter follows the backing store), but a write's change is kept between
    /// nothing and the blocks it touched (`growthLimit`): what the file system does beyond that on its
    /// own, and blocks it is moving while it is measured, are seen at the next scan.
    public func settle(_ reservation: CapacityReservation, after: Allocation?) {
        var now = after?.charged ?? reservation.before
        if let limit = reservation.growthLimit {
            let (most, overflow) = reservation.before.addingReportingOverflow(limit)
            now = min(max(now, reservation.before), overflow ? UInt64.max : most)
        }
        let target = now >= reservation.before ? now - reservation.before : 0
        let freed = now < reservation.before ? reservation.before - now : 0
        if target > reservation.reserved {
            add(target - reservation.reserved)
        } else {
            release(reservation.reserved - target + freed)
        }
    }

    /// A name removed (unlink, rename over it) from the file measured as `victim` just before, under
    /// its size lock: the last name frees its blocks, any other frees nothing.
    public func removedName(of victim: Allocation) {
        release(victim.freedByRemovingAName)
    }
}
#endif
