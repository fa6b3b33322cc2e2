#if canImport(Glibc)
import CBerthShims
import Glibc

/// A copy of a byte range between two files at given offsets, used to save blocks before they change
/// (`PowerLossJournal`). (In this directory rather than beside the journal: a file that imports
/// CBerthShims before Semantics/ is compiled makes the C types in DirectoryStore's public signatures
/// count as imported from it.)
enum RangeCopy {
    /// Copies up to `length` bytes at `from` of `input` to `at` of `output`; the bytes copied (fewer at
    /// the end of the file), or -1. In the kernel where it can (copy_file_range: no buffer in the
    /// server, and on XFS and Btrfs the saved blocks share extents with the file, which then copies
    /// on write), else by pread and pwrite. Saving 1 MiB this way is one pass over it instead of
    /// three (zeroing a buffer, reading, writing).
    static func copy(_ input: Int32, from: Int, to output: Int32, at: Int, length: Int) -> Int {
        var done = 0
        while done < length {
            let copied = berth_copy_file_range_at(input, Int64(from + done), output, Int64(at + done), length - done)
            if copied > 0 {
                done += copied
                continue
            }
            if copied == 0 { break }  // the end of the file
            if errno == EINTR { continue }
            if done == 0, errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL {
                return readWrite(input, from: from, to: output, at: at, length: length)
            }
            return done > 0 ? done : -1
        }
        return done
    }

    private static func readWrite(_ input: Int32, from: Int, to output: Int32, at: Int, length: Int) -> Int {
        var buffer = [UInt8](repeating: 0, count: length)
        let got = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress, length, off_t(from)) }
        guard got > 0 else { return -1 }
        let put = buffer.withUnsafeBytes { pwrite(output, $0.baseAddress, got, off_t(at)) }
        return put == got ? got : -1
    }
}
#endif
