import SemanticsModel
import Testing
@testable import EmulatorCore

/// The power-loss journal's table of saved blocks answers as a plain set of block numbers would,
/// whatever mix of saves and removals came before, across and within its 256-block chunks.
@Suite struct SavedBlocksTests {
    /// A reference answer: the first block in `first...last` missing from `saved`.
    static func firstMissing(_ saved: Set<UInt64>, _ first: UInt64, _ last: UInt64) -> UInt64? {
        (first...last).first { !saved.contains($0) }
    }

    static func missingRun(_ saved: Set<UInt64>, _ first: UInt64, _ last: UInt64, _ limit: UInt64) -> UInt64 {
        var count: UInt64 = 1
        while count < limit, first + count <= last, !saved.contains(first + count) { count += 1 }
        return count
    }

    @Test func answersAsASetOfBlocksWouldAfterRandomSavesAndRemovals() {
        var generator = SplitMix64(seed: 0x5EED)
        var table = SavedBlocks()
        var reference: Set<UInt64> = []
        let span: UInt64 = 4 * SavedBlocks.chunkBlocks
        for step in 0..<4_000 {
            let first = generator.next() % span
            let length = 1 + generator.next() % 300
            let last = min(span - 1, first + length - 1)
            if generator.next() % 4 == 0 {
                for block in first...last where generator.next() % 2 == 0 {
                    #expect(table.remove(at: block)?.slot == (reference.remove(block) == nil ? nil : block))
                }
            } else {
                for block in first...last where generator.next() % 3 != 0 {
                    table.insert(.init(slot: block, length: 4096), at: block)
                    reference.insert(block)
                }
            }
            let probe = generator.next() % span
            let probeLast = min(span - 1, probe + generator.next() % 600)
            let expected = Self.firstMissing(reference, probe, probeLast)
            #expect(table.firstUnsaved(from: probe, through: probeLast) == expected, "step \(step)")
            if let missing = expected {
                #expect(table.unsavedRun(from: missing, through: probeLast, limit: 256)
                    == Self.missingRun(reference, missing, probeLast, 256), "step \(step)")
            }
        }
        #expect(Set(table.blocks.keys) == reference)
    }

    @Test func wholeChunksAreAnsweredAtTheirEdges() {
        var table = SavedBlocks()
        let chunk = SavedBlocks.chunkBlocks
        for block in chunk..<(2 * chunk) { table.insert(.init(slot: block, length: 4096), at: block) }
        // All saved: a write over the chunk saves nothing.
        #expect(table.firstUnsaved(from: chunk, through: 2 * chunk - 1) == nil)
        // The blocks on either side are not saved.
        #expect(table.firstUnsaved(from: chunk - 1, through: 2 * chunk) == chunk - 1)
        #expect(table.firstUnsaved(from: chunk, through: 2 * chunk) == 2 * chunk)
        // A run of unsaved blocks stops at the saved chunk and at the limit.
        #expect(table.unsavedRun(from: 0, through: 3 * chunk, limit: 1_000) == chunk)
        #expect(table.unsavedRun(from: 2 * chunk, through: 4 * chunk, limit: 300) == 300)
        #expect(table.unsavedRun(from: 2 * chunk, through: 2 * chunk + 9, limit: 300) == 10)
        // Taking one block out of the full chunk makes it the first unsaved one.
        #expect(table.remove(at: chunk + 17)?.slot == chunk + 17)
        #expect(table.remove(at: chunk + 17) == nil)
        #expect(table.firstUnsaved(from: chunk, through: 2 * chunk - 1) == chunk + 17)
        #expect(table.unsavedRun(from: chunk + 17, through: 2 * chunk - 1, limit: 256) == 1)
    }
}

