// Benchmarks that print figures (never timed assertions in tests).
//   berth-bench recommend [--profiles DIR] [--berth PATH] [--runs N]
// Prints: profiles ranked per second in-process, and the wall time of one `berth recommend` process.
import Foundation
import StoragePlanner
import Workloads

struct Options {
    var profilesDirectory = "Profiles"
    var berthPath = ".build/release/berth"
    var processRuns = 30

    init(_ arguments: [String]) {
        var i = 0
        while i < arguments.count {
            let value = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--profiles": profilesDirectory = value; i += 1
            case "--berth": berthPath = value; i += 1
            case "--runs": processRuns = Int(value) ?? processRuns; i += 1
            default: break
            }
            i += 1
        }
    }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.first == "recommend" else {
    print("usage: berth-bench recommend [--profiles DIR] [--berth PATH] [--runs N]")
    exit(64)
}
let options = Options(Array(arguments.dropFirst()))
let files = ((try? FileManager.default.contentsOfDirectory(atPath: options.profilesDirectory)) ?? [])
    .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }.sorted()
    .map { "\(options.profilesDirectory)/\($0)" }
let profiles = files.compactMap { try? ProfileLoader.load(path: $0) }
guard !profiles.isEmpty else {
    print("no profiles found in \(options.profilesDirectory)")
    exit(1)
}

// In-process: rank every example profile over and over for about two seconds, three rounds.
let planner = Planner()
var rates: [Double] = []
var checksum = 0
for _ in 0..<3 {
    var ranked = 0
    let start = now()
    while now() - start < 2 {
        for profile in profiles {
            checksum &+= planner.recommend(profile).candidates[0].score
            ranked += 1
        }
    }
    rates.append(Double(ranked) / (now() - start))
}

// Parsing included: load + rank, the whole in-process job of one profile.
var parseRanked = 0
let parseStart = now()
while now() - parseStart < 2 {
    for file in files {
        if let profile = try? ProfileLoader.load(path: file) { checksum &+= planner.recommend(profile).candidates[0].score }
        parseRanked += 1
    }
}
let parseRate = Double(parseRanked) / (now() - parseStart)

// Whole process: `berth recommend PROFILE` start to exit, spawned with posix_spawn and reaped with
// waitpid (Foundation's Process adds tens of milliseconds of its own to each run).
func runProcess(_ path: String, _ args: [String]) -> Double? {
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var pid: pid_t = 0
    let start = now()
    guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { return nil }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return now() - start
}

var processTimes: [Double] = []
if FileManager.default.isExecutableFile(atPath: options.berthPath) {
    for run in 0..<options.processRuns {
        guard let seconds = runProcess(options.berthPath, ["recommend", files[run % files.count], "--format", "json"]) else { break }
        processTimes.append(seconds)
    }
}

print("berth recommend benchmark (\(profiles.count) example profiles, checksum \(checksum % 1000))")
print(String(format: "  in-process ranking:          %10.0f profiles/s (median of 3 rounds of 2 s; target > 50,000)", median(rates)))
print(String(format: "  in-process load + rank:      %10.0f profiles/s (YAML/JSON parsing included)", parseRate))
if processTimes.isEmpty {
    print("  whole process:               not measured (\(options.berthPath) missing: swift build -c release)")
} else {
    print(String(format: "  whole process, median:       %10.1f ms (%d runs of `berth recommend --format json`; target < 50 ms)",
                 median(processTimes) * 1000, processTimes.count))
    print(String(format: "  whole process, min / max:    %6.1f / %.1f ms", (processTimes.min() ?? 0) * 1000, (processTimes.max() ?? 0) * 1000))
}
