/// The drill writer's record: one fixed-size line, numbered, time-stamped and checksummed, so that a
/// reader can tell a record that was written whole from one that is missing, torn or corrupt.
///
///     000000000000002a 0000018c2f1e3a10 payload-of-fixed-width........ 7c1a2b3d\n
///     sequence (hex)   unix ms (hex)    payload (32 bytes)             CRC-32 of what precedes
public struct DrillRecord: Hashable, Sendable {
    public static let size = 16 + 1 + 16 + 1 + 32 + 1 + 8 + 1  // 76 bytes, newline included
    public var sequence: UInt64
    public var unixMilliseconds: UInt64

    public init(sequence: UInt64, unixMilliseconds: UInt64) {
        self.sequence = sequence
        self.unixMilliseconds = unixMilliseconds
    }

    /// The record's bytes; the payload is derived from the sequence so a reader can check it too.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.size)
        bytes += Self.hex(sequence, width: 16)
        bytes.append(0x20)
        bytes += Self.hex(unixMilliseconds, width: 16)
        bytes.append(0x20)
        bytes += Self.payload(for: sequence)
        bytes.append(0x20)
        bytes += Self.hex(UInt64(CRC32.checksum(bytes)), width: 8)
        bytes.append(0x0A)
        return bytes
    }

    public enum DecodeResult: Equatable, Sendable {
        case record(DrillRecord)
        /// The bytes do not form a whole, consistent record.
        case corrupt
    }

    public static func decode(_ bytes: ArraySlice<UInt8>) -> DecodeResult {
        guard bytes.count == size, bytes.last == 0x0A else { return .corrupt }
        let b = Array(bytes)
        guard let sequence = parseHex(b[0..<16]), b[16] == 0x20,
              let millis = parseHex(b[17..<33]), b[33] == 0x20,
              b[66] == 0x20, let crc = parseHex(b[67..<75])
        else { return .corrupt }
        guard UInt64(CRC32.checksum(b[0..<67])) == crc, Array(b[34..<66]) == payload(for: sequence) else { return .corrupt }
        return .record(DrillRecord(sequence: sequence, unixMilliseconds: millis))
    }

    static func payload(for sequence: UInt64) -> [UInt8] {
        // 32 printable bytes that change with every record, so a record copied to the wrong place fails.
        var state = sequence &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<32).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(0x61 + state % 26)
        }
    }

    static func hex(_ value: UInt64, width: Int) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return (0..<width).reversed().map { digits[Int((value >> (UInt64($0) * 4)) & 0xF)] }
    }

    static func parseHex(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for byte in bytes {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }
}

/// What a reader found in a drill log.
public struct DrillLogScan: Equatable, Sendable {
    /// Whole, valid records in order.
    public var records: [DrillRecord] = []
    /// Records that are present but fail their checksum or sequence, and a torn tail.
    public var corruptRecords = 0
    /// Sequence numbers missing between valid records (a gap that is not at the end).
    public var gaps = 0

    public var lastSequence: UInt64? { records.last?.sequence }

    /// Reads a whole log. A trailing partial record counts as corrupt: after an fsynced write the file
    /// holds whole records only, so a torn tail means the storage lost or tore a write.
    public static func scan(_ bytes: [UInt8]) -> DrillLogScan {
        var result = DrillLogScan()
        var offset = 0
        var expected: UInt64 = 0
        while offset < bytes.count {
            let end = min(offset + DrillRecord.size, bytes.count)
            switch DrillRecord.decode(bytes[offset..<end]) {
            case .record(let record):
                if record.sequence != expected {
                    if record.sequence > expected { result.gaps += Int(record.sequence - expected) } else { result.corruptRecords += 1 }
                }
                result.records.append(record)
                expected = record.sequence + 1
            case .corrupt:
                result.corruptRecords += 1
            }
            offset = end
        }
        return result
    }
}

/// CRC-32 (IEEE 802.3, as zlib), table-driven.
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
