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
            source: Catalog.ecsStorageOptions + Catalog.openZFSWhatIs + Catalog.ontapWhatIs,
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
                var over: [String] = []
                if iops > limits.value.maxIOPS { over.append("\(Words.number(iops)) IOPS") }
                if throughput > limits.value.maxThroughputMiBps { over.append("\(Words.number(throughput)) MiB/s") }
                return (.exclude,
                        "Fargate caps an EBS volume at \(Words.number(limits.value.maxIOPS)) IOPS and \(Words.number(limits.value.maxThroughputMiBps)) MiB/s; the profile asks for \(over.joined(separator: " and "))",
                        limits.source)
            }),
        Rule(
            "performance-envelope", looksAt: "performance.iops, performance.throughputMiBps",
            when: "the sustained IOPS or throughput asked for is beyond what one file system or volume of the service delivers",
            effects: "exclude each service whose maximum is lower", source: Catalog.ebsVolumeTypes + Catalog.efsPerformance + Source.aws("fsx/latest/LustreGuide/performance.html"),
            perService: { profile, facts in
                if let iops = profile.performance.iops, iops > facts.maxIOPS.value {
                    return (.exclude, "\(Words.number(iops)) IOPS is more than \(facts.name)'s maximum of \(Words.number(facts.maxIOPS.value))", facts.maxIOPS.source)
                }
                if let mibps = profile.performance.throughputMiBps, mibps > facts.maxThroughputMiBps.value {
                    return (.exclude, "\(Words.number(mibps)) MiB/s is more than \(facts.name)'s maximum of \(Words.number(facts.maxThroughputMiBps.value)) MiB/s",
                            facts.maxThroughputMiBps.source)
                }
                return nil
            }),
        Rule(
            "capacity-limit", looksAt: "capacity.sizeGiB",
            when: "the expected size is larger than the service's largest volume or file system",
            effects: "exclude each service whose maximum size is smaller", source: Limits.fsxCreate + Limits.ecsManagedEBSAPI,
            perService: { profile, facts in
                guard let size = profile.capacity.sizeGiB, let range = facts.capacityGiB, size > range.value.upperBound else { return nil }
                return (.exclude, "\(Words.number(size)) GiB is more than \(facts.name)'s maximum of \(Words.number(range.value.upperBound)) GiB", range.source)
            }),

        Rule(
            "no-configuration-meets", looksAt: "performance.iops, performance.throughputMiBps, capacity.sizeGiB",
            when: "no size and throughput tier AWS accepts for the service meets the profile (the catalogue's limits table)",
            effects: "exclude each service whose largest configuration falls short", source: Limits.fsxCreate + Limits.ec2CreateVolume,
            perService: { profile, facts in
                guard let shortfall = Configurator.configure(facts.id, for: profile).shortfall else { return nil }
                let source: Source = switch facts.id {
                case .ebs: Limits.gp3.source
                case .fsxWindows: Limits.windowsSSDIOPS.source
                case .fsxOpenZFS: Limits.openZFSCreating + Limits.openZFSPerformance
                case .fsxONTAP: Limits.ontapHAPairs + Limits.ontapPerformance
                default: Limits.fsxCreate
                }
                return (.exclude, shortfall, source)
            }),
        Rule(
            "smb-only-for-linux-posix", looksAt: "platform.os, protocols",
            when: "a Linux task expects a POSIX file system and the profile does not say the application works over SMB (protocols: [smb])",
            effects: [.fsxWindows: .exclude], source: Catalog.seedWindows + Catalog.ecsStorageOptions,
            applies: { $0.platform.os == .linux && !$0.protocols.contains(.smb) },
            message: { _, _ in
                "FSx for Windows File Server serves only SMB: a Linux task would see a CIFS mount without POSIX permissions or POSIX locks; list smb under protocols if the application works over SMB"
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
            effects: "favor +10 each service the catalogue rates sub-millisecond; disfavor -15 efs",
            source: Catalog.efsPerformance + Catalog.ebsVolumeTypes + Catalog.seedLustre,
            perService: { profile, facts in
                guard profile.performance.latency == .subMillisecond else { return nil }
                if facts.id == .efs {
                    return (.disfavor(15), "EFS writes take from about 2.7 ms (reads from about 250 µs): not sub-millisecond", Catalog.efsPerformance)
                }
                guard facts.latency.value == .subMillisecond else { return nil }
                let how: String = switch facts.id {
                case .ebs: "an io2 volume gives sub-millisecond latency to its one task"
                case .fsxLustre: "FSx for Lustre is built for sub-millisecond latency"
                case .fsxWindows: "FSx for Windows File Server answers in under a millisecond from SSD storage"
                case .fsxOpenZFS: "FSx for OpenZFS answers in under a millisecond, from its SSD storage and in-memory cache"
                case .fsxONTAP: "FSx for ONTAP answers in under a millisecond from its SSD tier"
                case .efs: ""
                }
                return (.favor(10), how, facts.latency.source)
            }),
        Rule(
            "meets-performance", looksAt: "performance.iops, performance.throughputMiBps",
            when: "the profile states the IOPS or throughput it needs, and the service's configuration delivers it",
            effects: "favor +5 each service whose configuration meets the figures, saying with what",
            source: Limits.fsxCreate + Limits.ec2CreateVolume + Catalog.efsPerformance,
            perService: { profile, facts in
                let iops = profile.performance.iops, mibps = profile.performance.throughputMiBps
                guard iops != nil || mibps != nil else { return nil }
                let configuration = Configurator.configure(facts.id, for: profile)
                guard configuration.shortfall == nil else { return nil }
                let asked = [iops.map { "\(Words.number($0)) IOPS" }, mibps.map { "\(Words.number($0)) MiB/s" }].compactMap { $0 }
                    .joined(separator: " and ")
                // Lustre's IOPS follow its storage in ways the catalogue does not model: only the file system's
                // maximum is claimed for it. The other FSx types provision SSD IOPS (Limits.*SSDIOPS).
                let iopsNote = iops.map { _ in " (IOPS: within its \(Words.number(facts.maxIOPS.value)) per file system)" } ?? ""
                func ssd(_ d: DiskIOPSConfiguration?) -> String {
                    d.map { " and \(Words.number($0.iops)) SSD IOPS (\($0.mode.rawValue))" } ?? ""
                }
                let how: String = switch configuration.service {
                case .ebs(let c): "\(c.volumeType.rawValue) at \(Words.number(c.iops)) IOPS\(c.throughput.map { " and \(Words.number($0)) MiB/s" } ?? "") on \(Words.number(c.sizeInGiB)) GiB"
                case .efs: "elastic throughput, up to \(Words.number(facts.maxThroughputMiBps.value)) MiB/s and \(Words.number(facts.maxIOPS.value)) IOPS per file system"
                case .lustre(let c): "\(Words.number(c.storageCapacityGiB)) GiB at \(Words.number(c.tier.perUnitMBpsPerTiB ?? 0)) MB/s per TiB (\(Words.number(c.throughputMBps)) MB/s)\(iopsNote)"
                case .windows(let c): "\(Words.number(c.throughputCapacity)) MB/s of throughput capacity\(ssd(c.diskIops))"
                case .openZFS(let c): "\(c.deploymentType.rawValue) at \(Words.number(c.throughputCapacity)) MB/s of throughput capacity\(ssd(c.diskIops))"
                case .ontap(let c): "\(c.deploymentType.rawValue) at \(Words.number(c.throughputCapacity)) MB/s of throughput capacity\(ssd(c.diskIops))"
                }
                return (.favor(5), "it meets the \(asked) asked for: \(how)", facts.id == .efs ? Catalog.efsPerformance : facts.maxThroughputMiBps.source)
            }),
        Rule(
            "native-ecs-volume", looksAt: "platform.os, platform.launchType",
            when: "ECS itself mounts the service for the task's platform (no host mount to set up on every instance)",
            effects: "favor +5 each service with an ECS volume type on that platform", source: Catalog.ecsStorageOptions,
            perService: { profile, facts in
                let support = Catalog.support(facts.id, on: profile.platform.platform)
                guard case .native = support.value else { return nil }
                return (.favor(5), "ECS mounts it from the task definition on \(profile.platform.platform): nothing to set up on the hosts", support.source)
            }),
        Rule(
            "offers-asked-features", looksAt: "features",
            when: "the profile asks for features, and the service offers them",
            effects: "favor +0 (explains, does not rank): each service offering every listed feature",
            source: Catalog.ecsStorageOptions + Catalog.openZFSWhatIs + Catalog.ontapWhatIs,
            perService: { profile, facts in
                guard !profile.features.isEmpty, profile.features.allSatisfy(facts.features.value.contains) else { return nil }
                return (.favor(0), "offers \(profile.features.map(\.rawValue).joined(separator: ", ")), as asked", facts.features.source)
            }),
        Rule(
            "throughput-heavy-sequential", looksAt: "performance.ioPattern, performance.throughputMiBps",
            when: "large sequential I/O or 1,000 MiB/s and more (ML, HPC, video, financial modelling)",
            effects: [.fsxLustre: .favor(15)], source: Catalog.seedLustre,
            applies: { $0.performance.ioPattern == .sequentialLarge || ($0.performance.throughputMiBps ?? 0) >= 1_000 },
            message: { _, _ in "FSx for Lustre is built for throughput-heavy, large sequential workloads (ML, HPC, video)" }),
        Rule(
            "small-random-io-file-server", looksAt: "performance.ioPattern, access.sharing",
            when: "several tasks share files with small random I/O (a POSIX file server, not a stream of large files)",
            effects: [.fsxOpenZFS: .favor(5)], source: Source.aws("fsx/latest/OpenZFSGuide/performance.html"),
            applies: { $0.performance.ioPattern == .randomSmall && $0.access.sharing == .shared },
            message: { _, _ in "FSx for OpenZFS serves small random reads from its in-memory (ARC) and NVMe (L2ARC) caches" }),
        Rule(
            "elastic-growth", looksAt: "capacity.growth",
            when: "the data grows and shrinks without anyone provisioning capacity",
            effects: [.efs: .favor(15)], source: Catalog.seedEFS,
            applies: { $0.capacity.growth == .elastic },
            message: { _, _ in "EFS grows and shrinks with the data; the others are provisioned at a size" }),
        Rule(
            "below-minimum-size", looksAt: "capacity.sizeGiB",
            when: "the expected size is below the smallest file system the service provisions",
            effects: "disfavor -10 each service whose minimum is larger", source: Limits.fsxCreate,
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
            effects: [.efs: .favor(5), .fsxLustre: .favor(5), .fsxOpenZFS: .favor(5), .fsxONTAP: .favor(5)],
            source: Catalog.seedEFS + Catalog.seedLustre + Source.aws("fsx/latest/OpenZFSGuide/supported-fsx-clients.html")
                + Source.aws("fsx/latest/ONTAPGuide/supported-fsx-clients.html"),
            applies: { $0.access.locking && $0.access.sharing != .exclusive },
            message: { _, s in
                switch s {
                case .fsxOpenZFS, .fsxONTAP: "\(Catalog.facts(s).name) serves NFS, whose locks (NFSv4, or NLM for NFSv3) hold across the tasks' hosts"
                default: "\(Catalog.facts(s).name) keeps read/write consistency and file locks across tasks"
                }
            }),
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
        Rule(
            "service-role", looksAt: "(nothing: always applies)",
            when: "always: what each service is for, so every ranked service says what it would do",
            effects: "favor +0 (explains, does not rank) every service", source: Catalog.ecsStorageOptions,
            perService: { _, facts in
                let role: (String, Source) = switch facts.id {
                case .ebs: ("block storage for one task at a time, in one AZ, with snapshots to move or copy the data", Catalog.seedEBS)
                case .efs: ("an elastic NFS file system that many Linux tasks share, its data in several AZs (Standard) or one (One Zone)", Catalog.seedEFS)
                case .fsxLustre: ("a parallel file system for throughput-heavy work (ML, HPC, video), which can link an S3 bucket", Catalog.seedLustre)
                case .fsxWindows: ("a Windows file server over SMB, with Active Directory, ACLs, quotas and shadow copies", Catalog.seedWindows)
                case .fsxOpenZFS: ("an NFS file server with snapshots and writable clones, for Linux file-server workloads", Catalog.openZFSWhatIs)
                case .fsxONTAP: ("NetApp ONTAP over NFS, SMB and iSCSI, with snapshots, clones and SnapMirror replication", Catalog.ontapWhatIs)
                }
                return (.favor(0), role.0, role.1)
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
    /// 20000 → "20,000".
    static func number(_ n: Int) -> String { SizeSteps.number(n) }

    static func tasks(_ n: Int) -> String {
        let words = ["no tasks", "one task", "two tasks", "three tasks", "four tasks", "five tasks", "six tasks",
                     "seven tasks", "eight tasks", "nine tasks", "ten tasks"]
        return n >= 0 && n < words.count ? words[n] : "\(n) tasks"
    }
}
