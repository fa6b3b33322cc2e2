#if os(Linux)
import Glibc
import Synchronization

/// A few 64-bit words in a file, mapped shared into every process that opens it and updated with
/// atomic instructions: how mounts of one volume in different `berth` processes share counters
/// without talking to each other. The file is created and initialised under an exclusive `flock`, so
/// exactly one opener computes the initial values (e.g. by scanning the backing directory) and every
/// other opener waits for it and then sees them.
final class SharedWords: Sendable {
    /// 'BERTHSW1': written last during initialisation, so a file whose initialiser died is redone.
    static let magic: UInt64 = 0x4245_5254_4853_5731
    static let headerWords = 2
    /// One page: the file's size and the mapping's.
    static let byteCount = 4096

    let path: String
    let count: Int
    // The mapping's address; stable for the object's lifetime, and atomics are the only access.
    private nonisolated(unsafe) let words: UnsafeMutablePointer<Atomic<UInt64>>

    /// Opens (creating if needed) the file at `path` with `count` words. When the file is new or was
    /// never completely initialised, `initialValues` (run under the file's exclusive flock) provides them.
    init(path: String, count: Int, layout: UInt64, initialValues: () throws(SharedStateError) -> [UInt64]) throws(SharedStateError) {
        precondition(count > 0 && count + Self.headerWords <= Self.byteCount / 8, "SharedWords holds at most one page")
        self.path = path
        self.count = count
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw .system(operation: "flock", path: path, errno: errno) }
        defer { flock(fd, LOCK_UN) }

        var header = [UInt64](repeating: 0, count: Self.headerWords)
        let got = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        if got != Self.headerWords * 8 || header[0] != Self.magic || header[1] != layout {
            var values = try initialValues()
            guard values.count == count else { throw .system(operation: "initialise", path: path, errno: EINVAL) }
            values.insert(contentsOf: [0, layout], at: 0)
            guard ftruncate(fd, off_t(Self.byteCount)) == 0 else {
                throw .system(operation: "ftruncate", path: path, errno: errno)
            }
            let body = values.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard body == values.count * 8 else { throw .system(operation: "write", path: path, errno: errno) }
            var magic = Self.magic
            guard pwrite(fd, &magic, 8, 0) == 8, fsync(fd) == 0 else {
                throw .system(operation: "write", path: path, errno: errno)
            }
        }
        let address = mmap(nil, Self.byteCount, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let address, address != MAP_FAILED else { throw .system(operation: "mmap", path: path, errno: errno) }
        words = address.bindMemory(to: Atomic<UInt64>.self, capacity: Self.byteCount / 8)
    }

    deinit { munmap(UnsafeMutableRawPointer(words), Self.byteCount) }

    func load(_ index: Int) -> UInt64 {
        words[Self.headerWords + index].load(ordering: .acquiring)
    }

    func store(_ index: Int, _ value: UInt64) {
        words[Self.headerWords + index].store(value, ordering: .releasing)
    }

    /// Sequentially consistent: for the handshakes where one side stores then loads what the other side
    /// stored (the write freeze's "request, then check changes in flight").
    func loadInOrder(_ index: Int) -> UInt64 {
        words[Self.headerWords + index].load(ordering: .sequentiallyConsistent)
    }

    func storeInOrder(_ index: Int, _ value: UInt64) {
        words[Self.headerWords + index].store(value, ordering: .sequentiallyConsistent)
    }

    /// Sets the word to `desired` if it holds `expected`; true when it did.
    func compareExchange(_ index: Int, expected: UInt64, desired: UInt64) -> Bool {
        words[Self.headerWords + index].compareExchange(
            expected: expected, desired: desired, ordering: .sequentiallyConsistent).exchanged
    }

    @discardableResult
    func add(_ index: Int, _ delta: UInt64) -> UInt64 {
        words[Self.headerWords + index].wrappingAdd(delta, ordering: .acquiringAndReleasing).newValue
    }

    /// Subtracts at most the current value (never wraps below zero); returns what was subtracted.
    @discardableResult
    func saturatingSubtract(_ index: Int, _ delta: UInt64) -> UInt64 {
        let word = words + Self.headerWords + index
        var current = word.pointee.load(ordering: .relaxed)
        while true {
            let taken = min(current, delta)
            let (exchanged, original) = word.pointee.compareExchange(
                expected: current, desired: current - taken, ordering: .acquiringAndReleasing)
            if exchanged { return taken }
            current = original
        }
    }

    /// Adds as much of `delta` as keeps the word at or below `limit`; returns what was added.
    func addUpTo(_ index: Int, _ delta: UInt64, limit: UInt64) -> UInt64 {
        let word = words + Self.headerWords + index
        var current = word.pointee.load(ordering: .relaxed)
        while true {
            let room = current >= limit ? 0 : limit - current
            let granted = min(room, delta)
            if granted == 0 { return 0 }
            let (exchanged, original) = word.pointee.compareExchange(
                expected: current, desired: current + granted, ordering: .acquiringAndReleasing)
            if exchanged { return granted }
            current = original
        }
    }
}

/// Why shared state could not be opened or initialised.
public enum SharedStateError: Error, Equatable, Sendable, CustomStringConvertible {
    case system(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .system(let operation, let path, let code):
            "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }
}
#endif
