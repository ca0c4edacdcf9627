// Compact binary encoding for trace events: LEB128 varints, zigzag for signed values,
// length-prefixed byte strings. Decoding never traps: malformed input throws.

/// Appends encoded values to a growing byte array.
public struct ByteWriter {
    public internal(set) var bytes: [UInt8] = []
    /// Where memory writes too large to inline go (event streams); nil keeps all inline.
    public var blobSink: BlobStore?
    /// Inline write bytes the current event may still carry.
    var inlineBudget = Int.max
    public init(blobSink: BlobStore? = nil) { self.blobSink = blobSink }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    public mutating func varint(_ v: Int) { varint(UInt64(bitPattern: Int64(v))) }
    public mutating func signed(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }
    public mutating func fixed64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (UInt64(i) * 8))) } }
    public mutating func data(_ d: [UInt8]) { varint(UInt64(d.count)); bytes += d }
    public mutating func string(_ s: String) { data(Array(s.utf8)) }
    public mutating func bool(_ b: Bool) { bytes.append(b ? 1 : 0) }
    public mutating func optional<T>(_ v: T?, _ write: (inout ByteWriter, T) -> Void) {
        if let v { bytes.append(1); write(&self, v) } else { bytes.append(0) }
    }
    public mutating func array<T>(_ items: [T], _ write: (inout ByteWriter, T) -> Void) {
        varint(UInt64(items.count))
        for item in items { write(&self, item) }
    }
    public mutating func reset() { bytes.removeAll(keepingCapacity: true) }
}

/// Reads values written by `ByteWriter`; every read checks bounds and throws on overrun.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    /// Where memory writes stored as blobs are read from (event streams).
    public var blobSource: BlobStore?

    public struct Malformed: Error, CustomStringConvertible {
        public let offset: Int
        public let what: String
        public var description: String { "malformed \(what) at byte \(offset)" }
    }

    public init(_ bytes: [UInt8], offset: Int = 0) { self.bytes = bytes; self.offset = offset }

    public var isAtEnd: Bool { offset >= bytes.count }

    public mutating func u8() throws -> UInt8 {
        guard offset < bytes.count else { throw Malformed(offset: offset, what: "byte (end of data)") }
        defer { offset += 1 }
        return bytes[offset]
    }
    public mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            guard shift < 64 else { throw Malformed(offset: offset, what: "varint (too long)") }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }
    public mutating func int() throws -> Int { Int(truncatingIfNeeded: try varint()) }
    /// A count or length, bounded by the bytes that remain so corrupt input cannot allocate wildly.
    public mutating func count(elementSize: Int = 1) throws -> Int {
        let v = try varint()
        guard v <= UInt64(bytes.count - offset) / UInt64(max(elementSize, 1)) + 1 else {
            throw Malformed(offset: offset, what: "length \(v)")
        }
        return Int(v)
    }
    public mutating func signed() throws -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }
    public mutating func fixed64() throws -> UInt64 {
        guard offset + 8 <= bytes.count else { throw Malformed(offset: offset, what: "u64 (end of data)") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (UInt64(i) * 8) }
        offset += 8
        return v
    }
    public mutating func data() throws -> [UInt8] {
        let n = try count()
        guard offset + n <= bytes.count else { throw Malformed(offset: offset, what: "byte string of \(n)") }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
    /// Exactly `n` bytes, with no length prefix.
    public mutating func raw(count n: Int) throws -> [UInt8] {
        guard n >= 0, offset + n <= bytes.count else { throw Malformed(offset: offset, what: "\(n) bytes (end of data)") }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
    public mutating func string() throws -> String { String(decoding: try data(), as: UTF8.self) }
    public mutating func bool() throws -> Bool { try u8() != 0 }
    public mutating func optional<T>(_ read: (inout ByteReader) throws -> T) throws -> T? {
        try u8() != 0 ? try read(&self) : nil
    }
    public mutating func array<T>(_ read: (inout ByteReader) throws -> T) throws -> [T] {
        let n = try count()
        var items: [T] = []
        items.reserveCapacity(n)
        for _ in 0..<n { items.append(try read(&self)) }
        return items
    }
}
