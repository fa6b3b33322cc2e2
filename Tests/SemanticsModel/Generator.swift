/// SplitMix64 (Steele, Lea, Flood 2014): the same seed gives the same numbers on every run and machine.
public struct SplitMix64: Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<bound.
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }

    public mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// Random sequences of operations over a small alphabet of names, so that names collide often: `a` and
/// `A`, `q` and `Q` are one name on fsx-windows; a few names Windows refuses appear there too.
public struct OperationGenerator: Sendable {
    public let configuration: ModelConfiguration
    public var names: [String]
    public var refusedNames: [String]
    /// Whether sequences cut the mounts off and reconnect them (AZ outages).
    public var outages = false

    public init(_ configuration: ModelConfiguration) {
        self.configuration = configuration
        names = ["a", "A", "b", "q", "Q", "d", "x"]
        refusedNames = configuration.service == .fsxWindows ? ["con", "b.", "x:", "Nul.txt", "a "] : []
    }

    static let offsets = [0, 1, 100, 4095, 4096, 5000, 8192, 12_000, 16_384, 20_000]
    static let lengths = [1, 10, 100, 4096, 5000, 8192]
    static let truncateLengths = [0, 1, 100, 4096, 5000, 10_000, 30_000, 100_000]
    static let modes = [0o700, 0o711, 0o750, 0o755, 0o775]

    mutating func name(_ random: inout SplitMix64) -> String {
        if !refusedNames.isEmpty, random.chance(6) { return random.pick(refusedNames) }
        return random.pick(names)
    }

    mutating func path(_ random: inout SplitMix64) -> String {
        let depth = random.chance(70) ? 1 : random.chance(85) ? 2 : 3
        return (0..<depth).map { _ in name(&random) }.joined(separator: "/")
    }

    /// `count` operations from `seed`.
    public mutating func sequence(seed: UInt64, count: Int) -> [FileOperation] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in operation(&random) }
    }

    mutating func operation(_ random: inout SplitMix64) -> FileOperation {
        let on = configuration.mounts > 1 ? random.below(configuration.mounts) : 0
        let weights: [(Int, String)] = [
            (12, "create"), (12, "write"), (6, "read"), (5, "truncate"), (3, "fallocate"), (10, "lstat"),
            (6, "unlink"), (8, "mkdir"), (4, "rmdir"), (9, "rename"), (4, "link"), (4, "symlink"),
            (3, "readlink"), (5, "readdir"), (3, "chmod"), (4, "lock"), (2, "unlock"), (2, "fsync"),
            (configuration.capacityBytes == nil ? 0 : 3, "statfs"), (outages ? 4 : 0, "cutOff"),
        ]
        var roll = random.below(weights.reduce(0) { $0 + $1.0 })
        var kind = "lstat"
        for (weight, name) in weights {
            if roll < weight {
                kind = name
                break
            }
            roll -= weight
        }
        let p = path(&random)
        switch kind {
        case "create": return .create(p, random.pick(FileOperation.CreateMode.allCases), on: on)
        case "write": return .write(p, offset: random.pick(Self.offsets), length: random.pick(Self.lengths), on: on)
        case "read": return .read(p, on: on)
        case "truncate": return .truncate(p, length: random.pick(Self.truncateLengths), on: on)
        case "fallocate": return .fallocate(p, offset: random.pick(Self.offsets), length: random.pick(Self.lengths), on: on)
        case "unlink": return .unlink(p, on: on)
        case "mkdir": return .mkdir(p, on: on)
        case "rmdir": return .rmdir(p, on: on)
        case "rename": return .rename(p, path(&random), noReplace: random.chance(15), on: on)
        case "link": return .link(p, path(&random), on: on)
        case "symlink": return .symlink(random.chance(20) ? "zz" : random.chance(20) ? "d/a" : name(&random), p, on: on)
        case "readlink": return .readlink(p, on: on)
        case "readdir": return .readdir(random.chance(40) ? "" : p, on: on)
        case "chmod": return .chmod(p, mode: random.pick(Self.modes), on: on)
        case "lock": return .lock(p, holder: random.below(2), on: on)
        case "unlock": return .unlock(holder: random.below(2))
        case "fsync": return .fsync(p, on: on)
        case "statfs": return .statfs(on: on)
        case "cutOff": return .cutOff(random.chance(50))
        default: return .lstat(p, on: on)
        }
    }
}
