import Testing
@testable import EmulatorCore

@Suite struct DrillRecordTests {
    @Test func recordsRoundTripAtTheirFixedSize() {
        let record = DrillRecord(sequence: 42, unixMilliseconds: 1_764_000_000_000)
        #expect(record.encoded.count == DrillRecord.size)
        #expect(DrillRecord.decode(record.encoded[...]) == .record(record))
    }

    @Test func everyFlippedByteIsCaught() {
        let bytes = DrillRecord(sequence: 7, unixMilliseconds: 99).encoded
        for index in bytes.indices {
            var damaged = bytes
            damaged[index] ^= 0x01
            #expect(DrillRecord.decode(damaged[...]) == .corrupt, "byte \(index)")
        }
    }

    @Test func scanCountsGapsAndATornTail() {
        var log: [UInt8] = []
        for n in [0, 1, 2, 4] as [UInt64] { log += DrillRecord(sequence: n, unixMilliseconds: n).encoded }
        log += DrillRecord(sequence: 5, unixMilliseconds: 5).encoded.prefix(30)
        let scan = DrillLogScan.scan(log)
        #expect(scan.records.map(\.sequence) == [0, 1, 2, 4])
        #expect(scan.gaps == 1)
        #expect(scan.corruptRecords == 1)
    }

    @Test func crc32MatchesZlib() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test(arguments: [("500ms", 500), ("2s", 2_000), ("5m", 300_000), ("1h", 3_600_000), ("0s", 0)])
    func durationsParse(text: String, millis: Int64) throws {
        #expect(try DurationText.parse(text) == .milliseconds(millis))
    }

    @Test(arguments: ["", "5", "s", "-1s", "1.5s", "2 s", "3d", "ms", "99999999999999999999h"])
    func badDurationsAreRefusedWithTheAcceptedForms(text: String) {
        let error = #expect(throws: DurationText.ParseError.self) { try DurationText.parse(text) }
        #expect(error?.description.contains("500ms, 2s, 5m or 1h") == true)
    }

    @Test func durationsFormatInTheShortestExactUnit() {
        #expect(DurationText.format(.milliseconds(500)) == "500ms")
        #expect(DurationText.format(.seconds(2)) == "2s")
        #expect(DurationText.format(.seconds(300)) == "5m")
        #expect(DurationText.format(.seconds(3_600)) == "1h")
        #expect(DurationText.format(.milliseconds(1_250)) == "1.25s")
    }
}
