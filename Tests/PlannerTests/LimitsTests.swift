import Testing
import StorageCatalog
import StoragePlanner
import Workloads

/// The catalogue's table of sizes and tiers, as the configurator and `volume create` read it.
@Suite struct LimitsTests {
    @Test func lustreSizesAreTheStepsAWSAccepts() {
        #expect(Limits.refusal(sizeGiB: 1_200, .fsxLustre, lustre: (.persistent, .ssd)) == nil)
        #expect(Limits.refusal(sizeGiB: 4_800, .fsxLustre, lustre: (.persistent, .ssd)) == nil)
        let refused = Limits.refusal(sizeGiB: 1_300, .fsxLustre, lustre: (.persistent, .ssd))
        #expect(refused?.contains("1,200 GiB, then a multiple of 2,400 GiB") == true)
        #expect(refused?.contains("the nearest larger size is 2400 GiB") == true)
        // HDD: multiples of 1,800 (40 MB/s/TiB) or 6,000 (12 MB/s/TiB); 2,400 is neither.
        #expect(Limits.refusal(sizeGiB: 3_600, .fsxLustre, lustre: (.persistent, .hdd)) == nil)
        #expect(Limits.refusal(sizeGiB: 12_000, .fsxLustre, lustre: (.persistent, .hdd)) == nil)
        #expect(Limits.refusal(sizeGiB: 2_400, .fsxLustre, lustre: (.persistent, .hdd)) != nil)
        #expect(Limits.smallestSize(.fsxLustre, lustre: (.persistent, .hdd)) == 1_800)
        #expect(Limits.refusal(sizeGiB: 31, .fsxWindows)?.contains("32 to 65,536 GiB") == true)
        #expect(Limits.refusal(sizeGiB: 5, .efs) == nil)
    }

    @Test func sizeStepsRoundUpToAnAcceptedSize() {
        let ssd = SizeSteps(first: [1_200], step: 2_400, range: 1_200...100_000)
        #expect(ssd.smallest(atLeast: 1) == 1_200)
        #expect(ssd.smallest(atLeast: 1_201) == 2_400)
        #expect(ssd.smallest(atLeast: 2_401) == 4_800)
        #expect(ssd.smallest(atLeast: 100_001) == nil)
        #expect(ssd.smallest(atLeast: Int.max) == nil)
    }

    @Test func everyRowCitesAnAWSPageAndItsDate() {
        for row in Limits.rows {
            #expect(row.source.urls.contains { $0.hasPrefix("https://docs.aws.amazon.com/") }, "\(row.subject)")
            #expect(row.checked == "2026-11-26")
        }
    }

    /// The issue's case: 1,200 MiB/s on 1,300 GiB of large sequential I/O used to get PERSISTENT_1 HDD at
    /// 2,400 GiB and 40 MB/s/TiB (about 94 MB/s, and a size AWS refuses).
    @Test func lustreMeetsTheThroughputWithASizeAWSAccepts() throws {
        let profile = Fixtures.minimal {
            $0.performance.ioPattern = .sequentialLarge
            $0.performance.throughputMiBps = 1_200
            $0.capacity.sizeGiB = 1_300
        }
        let configuration = Configurator.configure(.fsxLustre, for: profile)
        guard case .lustre(let lustre) = configuration.service else {
            Issue.record("not a Lustre configuration")
            return
        }
        let perUnit = try #require(lustre.tier.perUnitMBpsPerTiB)
        #expect(lustre.tier.sizesGiB.accepts(lustre.storageCapacityGiB))
        #expect(lustre.storageCapacityGiB * perUnit / 1_024 >= 1_259)  // 1,200 MiB/s = 1,258.3 MB/s
        #expect(lustre.storageCapacityGiB >= 1_300)
        #expect(configuration.shortfall == nil)
        #expect(lustre.storageCapacityGiB == 2_400 && perUnit == 1_000)
    }

    @Test(arguments: [0, 64, 900, 5_000, 20_000, 200_000])
    func everyFSxConfigurationIsAcceptedByTheTable(throughput: Int) {
        for service in [ServiceID.fsxLustre, .fsxWindows, .fsxOpenZFS, .fsxONTAP] {
            for multiAZ in [false, true] {
                let profile = Fixtures.minimal {
                    $0.performance.throughputMiBps = throughput == 0 ? nil : throughput
                    $0.availability.multiAZ = multiAZ
                    $0.capacity.sizeGiB = 1_000
                }
                let c = Configurator.configure(service, for: profile)
                switch c.service {
                case .lustre(let l): #expect(l.tier.sizesGiB.accepts(l.storageCapacityGiB))
                case .windows(let w):
                    #expect(Limits.windowsSizes(w.storageType).accepts(w.storageCapacityGiB))
                    #expect(Limits.windowsThroughputMBps.contains(w.throughputCapacity))
                case .openZFS(let z):
                    #expect(Limits.openZFSSizes.accepts(z.storageCapacityGiB))
                    #expect(Limits.openZFSThroughputMBps(z.deploymentType).contains(z.throughputCapacity))
                case .ontap(let o):
                    #expect(Limits.ontapSizes.accepts(o.storageCapacityGiB))
                    #expect(Limits.ontapThroughputMBps(o.deploymentType).contains(o.throughputCapacity))
                default: Issue.record("unexpected configuration for \(service)")
                }
                // Either it meets the throughput or it says what it lacks.
                let meets: Bool = switch c.service {
                case .lustre(let l): l.throughputMBps * 1 >= Int((Double(throughput) * 1.048_576).rounded(.up))
                case .windows(let w): w.throughputCapacity >= Int((Double(throughput) * 1.048_576).rounded(.up))
                case .openZFS(let z): z.throughputCapacity >= Int((Double(throughput) * 1.048_576).rounded(.up))
                case .ontap(let o): o.throughputCapacity >= Int((Double(throughput) * 1.048_576).rounded(.up))
                default: false
                }
                #expect(meets == (c.shortfall == nil), "\(service) \(throughput) MiB/s: \(c.shortfall ?? "no shortfall")")
            }
        }
    }

    @Test func ebsSizeAndIOPSFollowTheRatios() {
        // gp3: at most 500 IOPS per GiB, 0.25 MiB/s per IOPS.
        let gp3 = Configurator.configure(.ebs, for: Fixtures.minimal {
            $0.performance.iops = 10_000
            $0.capacity.sizeGiB = 10
        })
        #expect(gp3["volumeType"] == "gp3")
        #expect(gp3["sizeInGiB"] == 20)
        let fast = Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.throughputMiBps = 1_000 })
        #expect(fast["iops"] == 4_000)
        // io2 says why not gp3.
        let io2 = Configurator.configure(.ebs, for: Fixtures.minimal {
            $0.performance.iops = 8_000
            $0.performance.latency = .subMillisecond
        })
        #expect(io2["volumeType"] == "io2")
        #expect(io2.notes.contains { $0.hasPrefix("io2, not gp3: sub-millisecond latency") })
        // 20,000 IOPS: gp3 since the 2025 increase (up to 80,000), 40 GiB for 500 IOPS per GiB, with a note
        // that ECS's own reference still lists 16,000.
        let many = Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.iops = 20_000 })
        #expect(many["volumeType"] == "gp3")
        #expect(many["iops"] == 20_000)
        #expect(many["sizeInGiB"] == 40)
        #expect(many.shortfall == nil)
        #expect(many.notes.contains { $0.hasPrefix("ECS's TaskManagedEBSVolumeConfiguration reference still lists gp3 up to 16,000 IOPS") })
        // Within ECS's older figures, no such note.
        #expect(!gp3.notes.contains { $0.contains("TaskManagedEBSVolumeConfiguration") })
        // Beyond 80,000 IOPS: io2, saying why not gp3.
        let more = Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.iops = 90_000 })
        #expect(more["volumeType"] == "io2")
        #expect(more.notes.contains { $0.contains("90,000 IOPS is more than the 80,000 IOPS a gp3 volume takes") })
        // 1,500 MiB/s: gp3 (up to 2,000), IOPS raised to 6,000 for 0.25 MiB/s per IOPS.
        let wide = Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.throughputMiBps = 1_500 })
        #expect(wide["volumeType"] == "gp3")
        #expect(wide["throughput"] == 1_500)
        #expect(wide["iops"] == 6_000)
        #expect(wide.notes.contains { $0.contains("1,000 MiB/s") && $0.contains("TaskManagedEBSVolumeConfiguration") })
    }

    @Test func gp3LimitsAreCreateVolumes2025Figures() {
        #expect(Limits.gp3.iops == 3_000...80_000)
        #expect(Limits.gp3.throughputMiBps == 125...2_000)
        #expect(Limits.gp3.sizesGiB.range == 1...65_536)
        #expect(Limits.gp3.source.urls.contains("https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html"))
        #expect(Limits.gp3ECSReference.iops.upperBound == 16_000)
        // volume create reads the same table: 64 TiB is accepted, one GiB more is not.
        #expect(Limits.refusal(sizeGiB: 65_536, .ebs) == nil)
        #expect(Limits.refusal(sizeGiB: 65_537, .ebs)?.contains("1 to 65,536 GiB") == true)
        // A profile at 60 TiB gets gp3, not a shortfall.
        let big = Configurator.configure(.ebs, for: Fixtures.minimal { $0.capacity.sizeGiB = 60_000 })
        #expect(big["sizeInGiB"] == 60_000 && big.shortfall == nil)
    }

    @Test func windowsThroughputFollowsThePerformancePage() {
        #expect(Limits.windowsThroughputMBps.last == 12_288)
        #expect(Limits.windowsThroughputMBps.contains(4_608))
        // 3,000 MiB/s = 3,146 MB/s: 4,608 MB/s, with the Regions that offer it.
        let c = Configurator.configure(.fsxWindows, for: Fixtures.minimal {
            $0.performance.throughputMiBps = 3_000
        })
        #expect(c["throughputCapacity"] == 4_608)
        #expect(c.shortfall == nil)
        #expect(c.notes.contains { $0.contains("only in US East (N. Virginia)") })
        // 2,000 MiB/s = 2,098 MB/s: also above 2,048, so 4,608; 1,900 MiB/s = 1,993 MB/s fits 2,048 without a Region note.
        let every = Configurator.configure(.fsxWindows, for: Fixtures.minimal { $0.performance.throughputMiBps = 1_900 })
        #expect(every["throughputCapacity"] == 2_048)
        #expect(!every.notes.contains { $0.contains("only in") })
        // Beyond 12,288 MB/s: a shortfall naming the largest.
        let over = Configurator.configure(.fsxWindows, for: Fixtures.minimal { $0.performance.throughputMiBps = 12_000 })
        #expect(over.shortfall?.contains("12,288 MB/s") == true)
    }

    @Test func fsxIOPSTablesComeFromTheDocumentedFigures() {
        #expect(Limits.windowsSSDIOPS.diskIOPS(atThroughputMBps: 512)?.iops == 20_000)
        #expect(Limits.windowsSSDIOPS.diskIOPS(atThroughputMBps: 512)?.stated == true)
        #expect(Limits.openZFSSSDIOPS(.singleAZ1).diskIOPS(atThroughputMBps: 256)?.iops == 10_000)
        #expect(Limits.openZFSSSDIOPS(.singleAZ2).diskIOPS(atThroughputMBps: 640) == nil)
        #expect(Limits.openZFSSSDIOPS(.multiAZ1).maxPerFileSystem == 400_000)
        #expect(Limits.ontapSSDIOPS(.singleAZ1).diskIOPS(atThroughputMBps: 4_096)?.iops == 160_000)
        // A throughput capacity with no figure is bounded below by the largest smaller one, flagged as such.
        let bound = Limits.ontapSSDIOPS(.singleAZ1).diskIOPS(atThroughputMBps: 3_000)
        #expect(bound?.iops == 80_000 && bound?.stated == false)
    }

    /// IOPS asked of FSx: the SSD IOPS are provisioned (USER_PROVISIONED above 3 per GiB) and the throughput
    /// capacity is one whose file server sustains them.
    @Test func fsxConfigurationsProvisionTheIOPSAsked() throws {
        // Windows, 50,000 IOPS on 100 GiB: 2,048 MB/s (1,024 sustains 40,000), USER_PROVISIONED 50,000 on
        // 100 GiB (500 per GiB allows 50,000).
        let windows = Configurator.configure(.fsxWindows, for: Fixtures.minimal {
            $0.performance.iops = 50_000
            $0.capacity.sizeGiB = 100
        })
        guard case .windows(let w) = windows.service else { Issue.record("not windows"); return }
        #expect(w.throughputCapacity == 2_048)
        #expect(w.diskIops == DiskIOPSConfiguration(mode: .userProvisioned, iops: 50_000))
        #expect(w.storageCapacityGiB == 100)
        #expect(windows.shortfall == nil)
        #expect(windows.notes.contains { $0.contains("sustains 80,000 disk IOPS") })
        // 100,000 IOPS on 100 GiB: storage raised to 200 GiB (500 IOPS per GiB).
        let dense = Configurator.configure(.fsxWindows, for: Fixtures.minimal {
            $0.performance.iops = 100_000
            $0.capacity.sizeGiB = 100
        })
        #expect(dense["storageCapacityGiB"] == 200)
        #expect(dense.notes.contains { $0.contains("at most 500 SSD IOPS per GiB") })
        // Without IOPS asked: AUTOMATIC, 3 per GiB.
        let plain = Configurator.configure(.fsxWindows, for: Fixtures.minimal { $0.capacity.sizeGiB = 1_000 })
        #expect(plain["diskIopsConfiguration"] == .object([("mode", "AUTOMATIC"), ("iops", 3_000)]))
        // HDD would be chosen for cheap sequential data, but 5,000 IOPS needs SSD.
        let cheap = Configurator.configure(.fsxWindows, for: Fixtures.minimal {
            $0.cost = .lowest
            $0.performance.ioPattern = .sequentialLarge
            $0.performance.iops = 5_000
        })
        #expect(cheap["storageType"] == "SSD")
        #expect(cheap.notes.contains { $0.hasPrefix("SSD, not HDD") })

        // OpenZFS, 10,000 IOPS single-AZ (the issue's workload): SINGLE_AZ_1 at 256 MB/s, whose table states
        // 10,000 disk IOPS; SINGLE_AZ_2 has no per-throughput figure in the catalogue.
        let zfs = Configurator.configure(.fsxOpenZFS, for: Fixtures.minimal {
            $0.performance.iops = 10_000
            $0.capacity.sizeGiB = 500
        })
        guard case .openZFS(let z) = zfs.service else { Issue.record("not openzfs"); return }
        #expect(z.deploymentType == .singleAZ1 && z.throughputCapacity == 256)
        #expect(z.diskIops == DiskIOPSConfiguration(mode: .userProvisioned, iops: 10_000))
        #expect(zfs.shortfall == nil)
        // Multi-AZ: MULTI_AZ_1, whose per-throughput figures the catalogue lacks: it says so.
        let zfsMulti = Configurator.configure(.fsxOpenZFS, for: Fixtures.minimal {
            $0.performance.iops = 10_000
            $0.availability.multiAZ = true
        })
        #expect(zfsMulti["deploymentType"] == "MULTI_AZ_1")
        #expect(zfsMulti.notes.contains { $0.hasPrefix("the catalogue has no disk-IOPS figure for MULTI_AZ_1") })
        // Beyond what any OpenZFS file system takes: a shortfall.
        let zfsOver = Configurator.configure(.fsxOpenZFS, for: Fixtures.minimal { $0.performance.iops = 500_000 })
        #expect(zfsOver.shortfall?.contains("500,000 IOPS is more than FSx for OpenZFS delivers") == true)

        // ONTAP multi-AZ, 10,000 IOPS: MULTI_AZ_1 at 256 MB/s (12,000 stated) rather than MULTI_AZ_2 at 6,144.
        let ontap = Configurator.configure(.fsxONTAP, for: Fixtures.minimal {
            $0.performance.iops = 10_000
            $0.availability.multiAZ = true
        })
        #expect(ontap["deploymentType"] == "MULTI_AZ_1")
        #expect(ontap["throughputCapacity"] == 256)
        // AUTOMATIC already covers it on 4,096 GiB (12,288 IOPS).
        let roomy = Configurator.configure(.fsxONTAP, for: Fixtures.minimal {
            $0.performance.iops = 10_000
            $0.capacity.sizeGiB = 4_096
        })
        #expect(roomy["diskIopsConfiguration"] == .object([("mode", "AUTOMATIC"), ("iops", 12_288)]))
        // 180,000 IOPS single-AZ: beyond the first generation's 160,000, SINGLE_AZ_2 at 6,144 MB/s (200,000).
        let big = Configurator.configure(.fsxONTAP, for: Fixtures.minimal { $0.performance.iops = 180_000 })
        #expect(big["deploymentType"] == "SINGLE_AZ_2" && big["throughputCapacity"] == 6_144)
        #expect(big.shortfall == nil)
        let tooBig = Configurator.configure(.fsxONTAP, for: Fixtures.minimal { $0.performance.iops = 250_000 })
        #expect(tooBig.shortfall != nil)
    }
}
