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
        let many = Configurator.configure(.ebs, for: Fixtures.minimal { $0.performance.iops = 20_000 })
        #expect(many.notes.contains { $0.contains("20000 IOPS is more than the 16,000 IOPS") })
        #expect(many["sizeInGiB"] == 20)
    }
}
