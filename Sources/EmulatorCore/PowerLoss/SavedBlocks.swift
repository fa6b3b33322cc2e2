/// The blocks of one file that the power-loss journal saved before their first change since the file
/// was last durable, each with its slot in the journal's blocks file.
///
/// Every write asks about each 4 KiB block it covers: 256 of them for a 1 MiB write. With one hash
/// lookup per block that was 6% of an efs server's `perf` samples under fio's 1 MiB overwrites of a
/// closed file, where after the first pass every block is already saved. So the table also counts the
/// saved blocks of each aligned chunk of 256 blocks, and a chunk that is all saved (or has nothing
/// saved) is passed over with one lookup.
struct SavedBlocks {
    struct Saved: Equatable {
        /// Where the old contents are in the blocks file, in blocks.
        var slot: UInt64
        /// How many bytes of the block were saved: less than a block only for a file's last block.
        var length: Int
    }

    /// Blocks per chunk: the 1 MiB of the largest write the kernel sends here (`max_write`).
    static let chunkBlocks: UInt64 = 256

    private(set) var blocks: [UInt64: Saved] = [:]
    private var savedInChunk: [UInt64: UInt64] = [:]

    /// The slots of every saved block, to be given back.
    var slots: [UInt64] { blocks.values.map(\.slot) }

    mutating func insert(_ saved: Saved, at block: UInt64) {
        if blocks.updateValue(saved, forKey: block) == nil {
            savedInChunk[block / Self.chunkBlocks, default: 0] += 1
        }
    }

    /// Forgets `block`; what it held, if it was saved.
    @discardableResult
    mutating func remove(at block: UInt64) -> Saved? {
        guard let saved = blocks.removeValue(forKey: block) else { return nil }
        let chunk = block / Self.chunkBlocks
        if let count = savedInChunk[chunk], count > 1 { savedInChunk[chunk] = count - 1 } else { savedInChunk[chunk] = nil }
        return saved
    }

    /// The first block from `first` through `last` that is not saved, or nil when all of them are.
    func firstUnsaved(from first: UInt64, through last: UInt64) -> UInt64? {
        var block = first
        while block <= last {
            let chunk = block / Self.chunkBlocks
            let chunkLast = min(last, chunk * Self.chunkBlocks + (Self.chunkBlocks - 1))
            switch savedInChunk[chunk] {
            case nil:
                return block
            case Self.chunkBlocks?:
                break
            default:
                while block <= chunkLast {
                    if blocks[block] == nil { return block }
                    block += 1
                }
            }
            block = chunkLast + 1
        }
        return nil
    }

    /// How many blocks from `first`, which is not saved, through `last` follow one another unsaved,
    /// at most `limit`.
    func unsavedRun(from first: UInt64, through last: UInt64, limit: UInt64) -> UInt64 {
        let end = min(last - first + 1, limit)
        var count: UInt64 = 1
        while count < end {
            let block = first + count
            let chunk = block / Self.chunkBlocks
            if savedInChunk[chunk] == nil {
                count = min(end, (chunk + 1) * Self.chunkBlocks - first)
                continue
            }
            if blocks[block] != nil { break }
            count += 1
        }
        return count
    }
}
