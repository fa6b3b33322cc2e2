#if canImport(Glibc)
import CBerthShims
import Glibc
import Synchronization

/// What a `pending` snapshot still has to preserve, shared between the process copying it and every
/// mount server of the volume (a file mapped shared, updated with atomics, as `SharedWords`): for each
/// regular file the snapshot's point in time saw, by inode number, its length then and which of its
/// chunks (`chunkSize` bytes each) are already in the snapshot's copy of it, plus a lock per file.
///
/// The rule both sides follow: a chunk whose bit is clear holds, on the volume, exactly what it held at
/// the point in time. A mount server, before changing a file's data (write, truncate, fallocate, O_TRUNC)
/// copies the chunks the change touches that are not done yet into the snapshot's copy of the file
/// (`preserve`), then changes it; the snapshot's copier copies every chunk not done yet. Both copy a
/// chunk and set its bit under the file's lock, so a chunk is copied once, before any change, and never
/// from data written after the point in time. (Copy before write, as EBS snapshots preserve the blocks
/// of their point in time while `pending`: https://docs.aws.amazon.com/ebs/latest/userguide/ebs-snapshots.html.)
///
/// The snapshot's copy of each file is `<snapshot>/objects/<inode>`, made sparse: holes stay holes.
/// Layout (64-bit words): header (`Header`), the objects directory's path, the slots, the bitmap.
final class PendingSnapshotTable: Sendable {
    /// 'BSNPEND1'
    static let magic: UInt64 = 0x4253_4E50_454E_4431
    static let chunkShift: UInt64 = 20  // 1 MiB
    static var chunkSize: Int { 1 << Int(chunkShift) }
    static let pathWords = 512
    static let slotWords = 5

    enum Header: Int {
        case magic = 0, device, slotCount, bitmapStart, pathLength, failure, fileCount
        static let count = 8
    }

    enum Slot: Int {
        case key = 0, size, firstBit, lock, complete
    }

    let device: UInt64
    let slotCount: Int
    let objectsPath: String
    private let byteCount: Int
    private nonisolated(unsafe) let words: UnsafeMutablePointer<Atomic<UInt64>>

    /// Writes a new table for `files` (inode number and length at the point in time) at `path`.
    static func create(path: String, device: UInt64, objectsPath: String,
                       files: [(inode: UInt64, size: UInt64)]) throws(SharedStateError) {
        var slotCount = 16
        while slotCount < files.count * 2 { slotCount *= 2 }
        let pathBytes = Array(objectsPath.utf8)
        guard pathBytes.count <= pathWords * 8 else { throw .system(operation: "create", path: path, errno: ENAMETOOLONG) }
        let slotsStart = Header.count + pathWords
        let bitmapStart = slotsStart + slotCount * slotWords
        var bits = 0
        var slots = [UInt64](repeating: 0, count: slotCount * slotWords)
        for file in files {
            var index = Int(truncatingIfNeeded: hash(file.inode) & UInt64(slotCount - 1))
            while slots[index * slotWords] != 0 { index = (index + 1) & (slotCount - 1) }
            slots[index * slotWords + Slot.key.rawValue] = file.inode &+ 1
            slots[index * slotWords + Slot.size.rawValue] = file.size
            slots[index * slotWords + Slot.firstBit.rawValue] = UInt64(bits)
            let chunks = Int((file.size + UInt64(chunkSize) - 1) >> chunkShift)
            bits += chunks
            if chunks == 0 { slots[index * slotWords + Slot.complete.rawValue] = 1 }
        }
        var header = [UInt64](repeating: 0, count: Header.count + pathWords)
        header[Header.device.rawValue] = device
        header[Header.slotCount.rawValue] = UInt64(slotCount)
        header[Header.bitmapStart.rawValue] = UInt64(bitmapStart)
        header[Header.pathLength.rawValue] = UInt64(pathBytes.count)
        header[Header.fileCount.rawValue] = UInt64(files.count)
        header.withUnsafeMutableBytes { raw in
            for (offset, byte) in pathBytes.enumerated() { raw[Header.count * 8 + offset] = byte }
        }
        let total = (bitmapStart + (bits + 63) / 64 + 1) * 8
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(total)) == 0 else { throw .system(operation: "ftruncate", path: path, errno: errno) }
        let written = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        let slotBytes = slots.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(slotsStart * 8)) }
        guard written == header.count * 8, slotBytes == slots.count * 8 else {
            throw .system(operation: "write", path: path, errno: errno)
        }
        var magic = Self.magic
        guard pwrite(fd, &magic, 8, 0) == 8 else { throw .system(operation: "write", path: path, errno: errno) }
    }

    /// Maps an existing table.
    init(path: String) throws(SharedStateError) {
        let fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) >= (Header.count + Self.pathWords) * 8 else {
            throw .system(operation: "open", path: path, errno: EINVAL)
        }
        byteCount = Int(info.st_size)
        let address = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let address, address != MAP_FAILED else { throw .system(operation: "mmap", path: path, errno: errno) }
        words = address.bindMemory(to: Atomic<UInt64>.self, capacity: byteCount / 8)
        let count = Int(words[Header.slotCount.rawValue].load(ordering: .acquiring))
        let bitmap = Int(words[Header.bitmapStart.rawValue].load(ordering: .acquiring))
        let length = Int(words[Header.pathLength.rawValue].load(ordering: .acquiring))
        guard words[Header.magic.rawValue].load(ordering: .acquiring) == Self.magic, count > 0, count & (count - 1) == 0,
              bitmap == Header.count + Self.pathWords + count * Self.slotWords, bitmap * 8 <= byteCount,
              length <= Self.pathWords * 8 else {
            munmap(address, byteCount)
            throw .system(operation: "open", path: path, errno: EINVAL)
        }
        slotCount = count
        device = words[Header.device.rawValue].load(ordering: .acquiring)
        let bytes = UnsafeRawPointer(words + Header.count).assumingMemoryBound(to: UInt8.self)
        objectsPath = String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }

    deinit { munmap(UnsafeMutableRawPointer(words), byteCount) }

    private static func hash(_ inode: UInt64) -> UInt64 { (inode &* 0x9E37_79B9_7F4A_7C15) >> 7 }

    private func word(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { words + index }

    private func slotWord(_ slot: Int, _ field: Slot) -> UnsafeMutablePointer<Atomic<UInt64>> {
        words + Header.count + Self.pathWords + slot * Self.slotWords + field.rawValue
    }

    /// The slot of `inode`, or nil when the point in time did not see it.
    func slot(of inode: UInt64) -> Int? {
        var index = Int(truncatingIfNeeded: Self.hash(inode) & UInt64(slotCount - 1))
        for _ in 0..<slotCount {
            let key = slotWord(index, .key).pointee.load(ordering: .relaxed)
            if key == 0 { return nil }
            if key == inode &+ 1 { return index }
            index = (index + 1) & (slotCount - 1)
        }
        return nil
    }

    func size(_ slot: Int) -> UInt64 { slotWord(slot, .size).pointee.load(ordering: .relaxed) }

    func isComplete(_ slot: Int) -> Bool { slotWord(slot, .complete).pointee.load(ordering: .acquiring) != 0 }

    func markComplete(_ slot: Int) { slotWord(slot, .complete).pointee.store(1, ordering: .releasing) }

    /// The first errno a preservation met (then the snapshot fails and nothing waits on it), or 0.
    var failure: Int32 { Int32(truncatingIfNeeded: word(Header.failure.rawValue).pointee.load(ordering: .acquiring)) }

    func fail(_ code: Int32) {
        _ = word(Header.failure.rawValue).pointee.compareExchange(
            expected: 0, desired: UInt64(max(code, 1)), ordering: .acquiringAndReleasing)
    }

    private func bitWord(_ bit: Int) -> (UnsafeMutablePointer<Atomic<UInt64>>, UInt64) {
        let start = Int(word(Header.bitmapStart.rawValue).pointee.load(ordering: .relaxed))
        return (words + start + bit / 64, UInt64(1) << UInt64(bit % 64))
    }

    func isDone(_ slot: Int, chunk: Int) -> Bool {
        let first = Int(slotWord(slot, .firstBit).pointee.load(ordering: .relaxed))
        let (word, mask) = bitWord(first + chunk)
        return word.pointee.load(ordering: .acquiring) & mask != 0
    }

    private func setDone(_ slot: Int, chunk: Int) {
        let first = Int(slotWord(slot, .firstBit).pointee.load(ordering: .relaxed))
        let (word, mask) = bitWord(first + chunk)
        word.pointee.bitwiseOr(mask, ordering: .acquiringAndReleasing)
    }

    /// Takes the file's lock: the word holds the holder's pid; a holder that died is replaced.
    private func lock(_ slot: Int) {
        let word = slotWord(slot, .lock)
        let me = UInt64(UInt32(bitPattern: getpid()))
        var spins = 0
        while true {
            let (exchanged, holder) = word.pointee.compareExchange(expected: 0, desired: me, ordering: .acquiringAndReleasing)
            if exchanged { return }
            spins += 1
            if spins % 64 == 0, holder != me, kill(pid_t(truncatingIfNeeded: holder), 0) != 0, errno == ESRCH {
                _ = word.pointee.compareExchange(expected: holder, desired: 0, ordering: .acquiringAndReleasing)
                continue
            }
            if spins > 16 { usleep(50) }
        }
    }

    private func unlock(_ slot: Int) { slotWord(slot, .lock).pointee.store(0, ordering: .releasing) }

    /// Copies into the snapshot's copy of the file in `slot` the chunks overlapping `range` (clamped to the
    /// file's length at the point in time) that are not there yet, reading them from `source` (a
    /// descriptor that reads the file; opened only when a chunk is copied). Returns 0 or an errno.
    func preserve(_ slot: Int, from lower: UInt64, to upper: UInt64, objects: Int32, inode: UInt64,
                  source: () -> Int32) -> Int32 {
        if isComplete(slot) { return 0 }
        let size = size(slot)
        let end = min(upper, size)
        guard lower < end else { return 0 }
        let first = Int(lower >> Self.chunkShift), last = Int((end - 1) >> Self.chunkShift)
        var pending = false
        for chunk in first...last where !isDone(slot, chunk: chunk) {
            pending = true
            break
        }
        guard pending else { return 0 }
        lock(slot)
        defer { unlock(slot) }
        var input: Int32 = -1
        var output: Int32 = -1
        defer {
            if output >= 0 { close(output) }
        }
        for chunk in first...last where !isDone(slot, chunk: chunk) {
            if input < 0 {
                input = source()
                guard input >= 0 else { return errno == 0 ? EIO : errno }
            }
            if output < 0 {
                output = openat(objects, String(inode), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
                guard output >= 0 else { return errno }
            }
            let start = chunk << Int(Self.chunkShift)
            let code = Self.copyRange(input, output, from: start, to: min(start + Self.chunkSize, Int(size)))
            guard code == 0 else { return code }
            setDone(slot, chunk: chunk)
        }
        if first == 0 && last == Int((size - 1) >> Self.chunkShift) { markComplete(slot) }
        return 0
    }

    /// Whether every chunk of the file in `slot` is done.
    func allDone(_ slot: Int) -> Bool {
        if isComplete(slot) { return true }
        let size = size(slot)
        guard size > 0 else { return true }
        for chunk in 0...Int((size - 1) >> Self.chunkShift) where !isDone(slot, chunk: chunk) { return false }
        return true
    }

    /// Marks every chunk of the file in `slot` done without copying (its copy came from elsewhere,
    /// e.g. the previous snapshot), if none was copied yet; false when one was.
    func adoptWhole(_ slot: Int, _ body: () -> Bool) -> Bool {
        lock(slot)
        defer { unlock(slot) }
        let size = size(slot)
        if size > 0 {
            for chunk in 0...Int((size - 1) >> Self.chunkShift) where isDone(slot, chunk: chunk) { return false }
        }
        guard body() else { return false }
        if size > 0 { for chunk in 0...Int((size - 1) >> Self.chunkShift) { setDone(slot, chunk: chunk) } }
        markComplete(slot)
        return true
    }

    /// Copies the bytes of `input` in `[start, end)` that hold data to the same offsets of `output`:
    /// holes stay holes. 0 or an errno.
    static func copyRange(_ input: Int32, _ output: Int32, from start: Int, to end: Int) -> Int32 {
        let code = copyDataRanges(input, output, from: start, to: end)
        // Start writing the copy out now, without waiting. A mount server preserving chunks for a
        // writer otherwise leaves them dirty, and the copier's next fdatasync of that object, an ext4
        // journal commit in data=ordered mode, then writes them all at once while every writer's
        // fdatasync waits for the commit: measured 176 ms for a 64 MiB file a writer had touched all
        // over (scripts/bench-snapshot.sh, BENCH_PARTS=stall).
        if code == 0 { _ = berth_start_writeback(output, Int64(start), Int64(max(end - start, 0))) }
        return code
    }

    private static func copyDataRanges(_ input: Int32, _ output: Int32, from start: Int, to end: Int) -> Int32 {
        var position = start
        var buffer = [UInt8](repeating: 0, count: min(chunkSize, max(end - start, 0)))
        while position < end {
            let data = lseek(input, off_t(position), berth_SEEK_DATA)
            if data < 0 {
                if errno == ENXIO { return 0 }
                return errno
            }
            if Int(data) >= end { return 0 }
            var hole = lseek(input, data, berth_SEEK_HOLE)
            if hole < 0 { hole = off_t(end) }
            let stop = min(Int(hole), end)
            var offset = Int(data)
            while offset < stop {
                let n = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress, min($0.count, stop - offset), off_t(offset)) }
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { return 0 }  // shorter than it was: only after a change, which waits for this copy
                var done = 0
                while done < n {
                    let w = buffer.withUnsafeBytes { pwrite(output, $0.baseAddress.map { $0 + done }, n - done, off_t(offset + done)) }
                    if w < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    done += w
                }
                offset += n
            }
            position = max(stop, Int(data) + 1)
        }
        return 0
    }
}
#endif
