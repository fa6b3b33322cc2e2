import StorageCatalog
import Workloads

/// The planner's rules, one row each. Exclusions come from the seed and the AWS documentation and are
/// exact; favours and disfavours carry a weight that ranks what remains. docs/RULES.md is generated
/// from this table (`berth rules --format markdown`).
public enum RuleTable {
    public static let rules: [Rule] = [
        // MARK: Exclusions: what a service cannot do for this task at all
        Rule(
            "platform-support", looksAt: "platform.os, platform.launchType",
            when: "the service has no ECS volume or host mount for the task's OS and launch type",
            effects: "exclude each service the catalogue marks unsupported on that platform",
            source: Catalog.ecsStorageOptions,
            perService: { profile, facts in
                let support = Catalog.support(facts.id, on: profile.platform.platform)
                guard case .unsupported(let why) = support.value else { return nil }
                return (.exclude, "\(why) (the task runs on \(profile.platform.platform))", support.source)
            }),
        Rule(
            "ebs-single-attach", looksAt: "access.sharing",
            when: "several tasks read and write the same data at once (sharing: shared)",
            effects: [.ebs: .exclude], source: Catalog.seedEBS,
            applies: { $0.access.sharing == .shared },
            message: { p, _ in
                "\(Words.tasks(p.access.tasks)) read and write the same data at once; Amazon EBS does not support concurrent access to a volume"
            }),
        Rule(
            "dotnet-framework-needs-windows", looksAt: "platform.runtime",
            when: "the application is .NET Framework, which runs only in Windows containers",
            effects: "exclude services that no Windows task can mount", source: Catalog.seedFargate,
            perService: { profile, facts in
                guard profile.platform.runtime == .dotnetFramework else { return nil }
                let windowsCapable = Catalog.platforms(supporting: facts.id).contains { $0.os == .windows }
                guard !windowsCapable else { return nil }
                return (.exclude, ".NET Framework needs Windows containers, and \(facts.name) is mounted by Linux tasks only",
                        Catalog.seedFargate)
            }),
        Rule(
            "required-protocol", looksAt: "protocols",
            when: "the application itself speaks a protocol the service does not serve (iSCSI: only ONTAP)",
            effects: "exclude each service lacking a listed protocol",
            source: Catalog.seedOthers,
            perService: { profile, facts in
                let missing = profile.protocols.filter { !serves(facts, $0) }
                guard !missing.isEmpty else { return nil }
                let names = missing.map { $0.rawValue.uppercased() }.joined(separator: ", ")
                let only = missing.count == 1 ? servedBy(missing[0]) : ""
                return (.exclude, "the application speaks \(names), which \(facts.name) does not serve\(only)",
                        facts.protocols.source)
            }),
        Rule(
            "required-feature", looksAt: "features",
            when: "a feature the profile asks for is not one the service offers",
            effects: "exclude each service lacking a listed feature",
            source: Source("the catalogue's feature list of each service"),
            perService: { profile, facts in
                let missing = profile.features.filter { !facts.features.value.contains($0) }
                guard !missing.isEmpty else { return nil }
                return (.exclude, "\(facts.name) does not offer \(missing.map(\.rawValue).joined(separator: ", "))",
                        facts.features.source)
            }),
        Rule(
            "fargate-ebs-performance-cap", looksAt: "platform.launchType, performance.iops, performance.throughputMiBps",
            when: "a Fargate task needs more IOPS or throughput than Fargate gives an EBS volume (15,000 IOPS, 500 MiB/s at 16 vCPU)",
            effects: "exclude ebs", source: Catalog.ecsManagedEBS,
            perService: { profile, facts in
                guard profile.platform.launchType == .fargate, let limits = facts.fargateLimits else { return nil }
                let iops = profile.performance.iops ?? 0, throughput = profile.performance.throughputMiBps ?? 0
                guard iops > limits.value.maxIOPS || throughput > limits.value.maxThroughputMiBps else { return nil }
                return (.exclude,
                        "Fargate caps an EBS volume at \(limits.value.maxIOPS) IOPS and \(limits.value.maxThroughputMiBps) MiB/s; the profile needs \(iops) IOPS and \(throughput) MiB/s",
                        limits.source)
            }),
        Rule(
            "performance-envelope", looksAt: "performance.iops, performance.throughputMiBps",
            when: "the sustained IOPS or throughput asked for is beyond what one file system or volume of the service delivers",
            effects: "exclude each service whose maximum is lower", source: Source("the catalogue's performance figures"),
            perService: { profile, facts in
                if let iops = profile.performance.iops, iops > facts.maxIOPS.value {
                    return (.exclude, "\(iops) IOPS is more than \(facts.name)'s maximum of \(facts.maxIOPS.value)", facts.maxIOPS.source)
                }
                if let mibps = profile.performance.throughputMiBps, mibps > facts.maxThroughputMiBps.value {
                    return (.exclude, "\(mibps) MiB/s is more than \(facts.name)'s maximum of \(facts.maxThroughputMiBps.value) MiB/s",
                            facts.maxThroughputMiBps.source)
                }
                return nil
            }),
        Rule(
            "capacity-limit", looksAt: "capacity.sizeGiB",
            when: "the expected size is larger than the service's largest volume or file system",
            effects: "exclude each service whose maximum size is smaller", source: Source("the catalogue's capacity ranges"),
            perService: { profile, facts in
                guard let size = profile.capacity.sizeGiB, let range = facts.capacityGiB, size > range.value.upperBound else { return nil }
                return (.exclude, "\(size) GiB is more than \(facts.name)'s maximum of \(range.value.upperBound) GiB", range.source)
            }),

        // MARK: Preferences: what ranks the services that remain
        Rule(
            "shared-access-needs-shared-filesystem", looksAt: "access.sharing",
            when: "several tasks read and write the same files at once",
            effects: [.efs: .favor(10), .fsxLustre: .favor(10), .fsxWindows: .favor(10), .fsxOpenZFS: .favor(10), .fsxONTAP: .favor(10)],
            source: Catalog.seedEBS + Catalog.seedEFS,
            applies: { $0.access.sharing == .shared },
            message: { p, s in "\(Words.tasks(p.access.tasks)) read and write the same files at once; \(Catalog.facts(s).name) is a shared file system" }),
        Rule(
            "exclusive-block-storage", looksAt: "access.sharing",
            when: "one task at a time reads and writes the data (a database or general file system of one task)",
            effects: [.ebs: .favor(15)], source: Catalog.seedEBS,
            applies: { $0.access.sharing == .exclusive },
            message: { _, _ in "one task at a time uses the data: EBS gives it fast, low-latency block storage in its AZ" }),
        Rule(
            "read-only-fan-out-from-snapshot", looksAt: "access.sharing",
            when: "several tasks read the same data and nobody writes it at run time",
            effects: [.ebs: .favor(15)], source: Catalog.seedEBS,
            applies: { $0.access.sharing == .readOnlyShared },
            message: { p, _ in
                "read-only data: one snapshot creates a volume for each task\(p.availability.multiAZ ? " in every AZ" : ""), so nothing is shared at run time"
            }),
        Rule(
            "multi-az-data-at-risk", looksAt: "availability.multiAZ, access.sharing",
            when: "writable data must survive the loss of an AZ, and the service keeps it in one AZ",
            effects: [.ebs: .disfavor(25), .fsxLustre: .disfavor(25)],
            source: Catalog.seedEBS + Catalog.lustreDeployment,
            applies: { $0.availability.multiAZ && $0.access.sharing != .readOnlyShared },
            message: { _, s in
                s == .ebs
                    ? "an EBS volume lives in one AZ; after losing it, only the last snapshot can be restored elsewhere (writes since then are lost)"
                    : "every FSx for Lustre deployment is single-AZ; after losing the AZ, only a backup can be restored"
            }),
        Rule(
            "multi-az-by-default", looksAt: "availability.multiAZ",
            when: "the data must survive the loss of an AZ",
            effects: [.efs: .favor(5)], source: Catalog.seedEFS,
            applies: { $0.availability.multiAZ },
            message: { _, _ in "EFS Standard stores data in several AZs of the region by default" }),
        Rule(
            "sub-millisecond-latency", looksAt: "performance.latency",
            when: "the application needs sub-millisecond latency",
            effects: [.efs: .disfavor(15), .fsxLustre: .favor(10)],
            source: Catalog.seedLustre + Catalog.efsPerformance,
            applies: { $0.performance.latency == .subMillisecond },
            message: { _, s in
                s == .efs
                    ? "EFS writes take from about 2.7 ms (reads from about 250 µs): not sub-millisecond"
                    : "FSx for Lustre is built for sub-millisecond latency"
            }),
        Rule(
            "throughput-heavy-sequential", looksAt: "performance.ioPattern, performance.throughputMiBps",
            when: "large sequential I/O or 1,000 MiB/s and more (ML, HPC, video, financial modelling)",
            effects: [.fsxLustre: .favor(15)], source: Catalog.seedLustre,
            applies: { $0.performance.ioPattern == .sequentialLarge || ($0.performance.throughputMiBps ?? 0) >= 1_000 },
            message: { _, _ in "FSx for Lustre is built for throughput-heavy, large sequential workloads (ML, HPC, video)" }),
        Rule(
            "elastic-growth", looksAt: "capacity.growth",
            when: "the data grows and shrinks without anyone provisioning capacity",
            effects: [.efs: .favor(15)], source: Catalog.seedEFS,
            applies: { $0.capacity.growth == .elastic },
            message: { _, _ in "EFS grows and shrinks with the data; the others are provisioned at a size" }),
        Rule(
            "below-minimum-size", looksAt: "capacity.sizeGiB",
            when: "the expected size is below the smallest file system the service provisions",
            effects: "disfavor −10 each service whose minimum is larger", source: Source("the catalogue's capacity ranges"),
            perService: { profile, facts in
                guard let size = profile.capacity.sizeGiB, let range = facts.capacityGiB, size < range.value.lowerBound else { return nil }
                return (.disfavor(10), "\(facts.name) provisions at least \(range.value.lowerBound) GiB; you pay for it even for \(size) GiB",
                        range.source)
            }),
        Rule(
            "infrequent-access-classes", looksAt: "capacity.accessFrequency",
            when: "the data is rarely read",
            effects: [.efs: .favor(5)], source: Catalog.seedEFS,
            applies: { $0.capacity.accessFrequency == .infrequent },
            message: { _, _ in "EFS Infrequent Access storage classes cut the cost of rarely read data" }),
        Rule(
            "windows-containers-share-fsx-windows", looksAt: "platform.os, access.sharing",
            when: "Windows containers share data",
            effects: [.fsxWindows: .favor(10)], source: Catalog.windowsContainerStorage,
            applies: { $0.platform.os == .windows && $0.access.sharing != .exclusive },
            message: { _, _ in "for Windows containers, FSx for Windows File Server is the storage for persistence and sharing" }),
        Rule(
            "sql-server-without-enterprise", looksAt: "features",
            when: "the workload runs SQL Server",
            effects: [.fsxWindows: .favor(10)], source: Catalog.seedWindows,
            applies: { $0.features.contains(.sqlServer) },
            message: { _, _ in "FSx for Windows File Server runs SQL Server workloads without an SQL Server Enterprise licence" }),
        Rule(
            "locking-across-tasks", looksAt: "access.locking",
            when: "the tasks coordinate through file locks",
            effects: [.efs: .favor(5), .fsxLustre: .favor(5)], source: Catalog.seedEFS + Catalog.seedLustre,
            applies: { $0.access.locking && $0.access.sharing != .exclusive },
            message: { _, s in "\(Catalog.facts(s).name) keeps read/write consistency and file locks across tasks" }),
        Rule(
            "migrate-windows-file-server", looksAt: "migration",
            when: "the data comes from Windows file servers",
            effects: [.fsxWindows: .favor(25)], source: Catalog.seedWindows,
            applies: { $0.migration == .windowsFileServer },
            message: { _, _ in "FSx for Windows File Server suits moving Windows file servers to the cloud" }),
        Rule(
            "migrate-linux-file-server", looksAt: "migration",
            when: "the data comes from Linux file servers",
            effects: [.fsxOpenZFS: .favor(25)], source: Catalog.seedOthers,
            applies: { $0.migration == .linuxFileServer },
            message: { _, _ in "FSx for OpenZFS serves NFS and makes moving Linux file servers simple" }),
        Rule(
            "migrate-netapp-ontap", looksAt: "migration",
            when: "the data comes from NetApp ONTAP systems",
            effects: [.fsxONTAP: .favor(30)], source: Catalog.seedOthers + Source.aws("fsx/latest/ONTAPGuide/migrating-fsx-ontap.html"),
            applies: { $0.migration == .netappONTAP },
            message: { _, _ in "FSx for NetApp ONTAP runs ONTAP itself: volumes, protocols and SnapMirror replication carry over" }),
        Rule(
            "lowest-cost", looksAt: "cost",
            when: "cost matters most",
            effects: [.efs: .favor(5)], source: Catalog.seedEFS,
            applies: { $0.cost == .lowest },
            message: { p, _ in
                "EFS bills only the storage used\(p.availability.multiAZ ? "" : ", and One Zone costs less still")"
            }),
        Rule(
            "performance-first", looksAt: "cost",
            when: "performance matters more than cost",
            effects: [.efs: .disfavor(5), .fsxLustre: .favor(5)], source: Catalog.seedLustre + Catalog.efsPerformance,
            applies: { $0.cost == .performance },
            message: { _, s in
                s == .efs ? "EFS trades latency for elasticity" : "FSx for Lustre delivers the highest throughput and IOPS per file system"
            }),
    ]

    public static func rule(id: String) -> Rule? { rules.first { $0.id == id } }

    static func serves(_ facts: ServiceFacts, _ need: ProtocolNeed) -> Bool {
        let offered = facts.protocols.value
        switch need {
        case .block: return offered.contains(.block) || offered.contains(.iscsi)  // an iSCSI LUN is a block device
        case .nfs: return offered.contains(.nfs)
        case .smb: return offered.contains(.smb)
        case .iscsi: return offered.contains(.iscsi)
        }
    }

    static func servedBy(_ need: ProtocolNeed) -> String {
        let names = Catalog.all.filter { serves($0, need) }.map(\.id.rawValue)
        return names.isEmpty ? "" : " (served by \(names.joined(separator: ", ")))"
    }
}

enum Words {
    static func tasks(_ n: Int) -> String {
        let words = ["no tasks", "one task", "two tasks", "three tasks", "four tasks", "five tasks", "six tasks",
                     "seven tasks", "eight tasks", "nine tasks", "ten tasks"]
        return n >= 0 && n < words.count ? words[n] : "\(n) tasks"
    }
}
