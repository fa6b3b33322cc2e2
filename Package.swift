// swift-tools-version: 6.0
// Berth: choose and test persistent storage for containers on Amazon ECS and AWS Fargate.
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Berth",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "berth", targets: ["berth"]),
        .library(name: "StorageCatalog", targets: ["StorageCatalog"]),
        .library(name: "Workloads", targets: ["Workloads"]),
        .library(name: "StoragePlanner", targets: ["StoragePlanner"]),
        .library(name: "EmulatorCore", targets: ["EmulatorCore"]),
        .library(name: "BerthJSON", targets: ["BerthJSON"]),
        .library(name: "StorageLint", targets: ["StorageLint"]),
        .library(name: "TaskRunner", targets: ["TaskRunner"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // JSON with its keys in the order written: the one value type every JSON output is built from.
        .target(name: "BerthJSON", swiftSettings: strictSwift),
        // The service facts, each with its source: the one table the planner and the emulator share.
        .target(name: "StorageCatalog", swiftSettings: strictSwift),
        // The workload-profile contract: model, YAML/JSON loading, located diagnostics.
        .target(
            name: "Workloads",
            dependencies: ["StorageCatalog", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSwift),
        // The rules table, the ranking engine, reports and task definitions.
        .target(name: "StoragePlanner", dependencies: ["StorageCatalog", "Workloads", "BerthJSON"], swiftSettings: strictSwift),
        // `berth lint`: task definitions and templates read with their locations, the lint rules as data,
        // findings and their text, JSON and SARIF forms.
        .target(
            name: "StorageLint",
            dependencies: ["StoragePlanner", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSwift),
        // libfuse3, through a shim header that fixes FUSE_USE_VERSION before the include.
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        // Linux calls Swift's Glibc module does not import (copy_file_range, xattrs).
        .target(name: "CBerthShims"),
        // The mount server's transport on /dev/fuse: libfuse's custom I/O, and FUSE over io_uring.
        .target(name: "CFuseTransport", dependencies: ["CFuse3"]),
        // Emulator semantics in plain Swift: state, attachments, AZs, capacity, locks, naming, faults.
        .target(
            name: "EmulatorCore",
            dependencies: [
                "StorageCatalog", "CBerthShims", "BerthJSON",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSwift),
        // The thin FUSE layer that applies EmulatorCore's rules to real mounts.
        .target(
            name: "EmulatorFUSE",
            dependencies: ["CFuse3", "CBerthShims", "CFuseTransport", "EmulatorCore"],
            swiftSettings: strictSwift),
        // `berth run`: task definitions read with located errors, ECS's storage refusals, volume planning,
        // container engine command lines, and running a task definition's containers against emulated volumes.
        .target(name: "TaskRunner", dependencies: ["EmulatorCore", "StorageCatalog", "CBerthShims"], swiftSettings: strictSwift),
        .executableTarget(
            name: "berth",
            dependencies: [
                "StorageCatalog", "Workloads", "StoragePlanner", "StorageLint", "EmulatorCore", "EmulatorFUSE", "CBerthShims",
                "TaskRunner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift),
        .executableTarget(
            name: "berth-bench",
            dependencies: ["StorageCatalog", "Workloads", "StoragePlanner"],
            swiftSettings: strictSwift),
        .testTarget(name: "PlannerTests", dependencies: ["StorageCatalog", "Workloads", "StoragePlanner"], swiftSettings: strictSwift),
        .testTarget(
            name: "EmulatorCoreTests",
            dependencies: ["EmulatorCore", "StorageCatalog", "CBerthShims", "BerthTestSupport", "SemanticsModel",
                           .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSwift),
        .testTarget(
            name: "MountTests", dependencies: ["EmulatorCore", "StorageCatalog", "CBerthShims", "BerthTestSupport", "SemanticsModel"],
            exclude: ["Scripts"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "RunTests", dependencies: ["TaskRunner", "EmulatorCore", "BerthTestSupport"], swiftSettings: strictSwift),
        .testTarget(
            name: "LintTests", dependencies: ["StorageLint", "StoragePlanner", "Workloads", "StorageCatalog"],
            swiftSettings: strictSwift),
        .testTarget(
            name: "CLITests", dependencies: ["StoragePlanner", "BerthTestSupport"], exclude: ["Fixtures"], swiftSettings: strictSwift),
        // What the test targets share: finding the built binary.
        .target(name: "BerthTestSupport", path: "Tests/BerthTestSupport", swiftSettings: strictSwift),
        // The reference model of docs/SEMANTICS.md, seeded operation sequences, the shrinker and the path driver.
        .target(name: "SemanticsModel", path: "Tests/SemanticsModel", swiftSettings: strictSwift),
        .testTarget(name: "ModelTests", dependencies: ["SemanticsModel"], swiftSettings: strictSwift),
    ],
    swiftLanguageModes: [.v6]
)
