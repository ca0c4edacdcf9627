// SHA-256 for the frame chain, blob names and the root commitment, from swift-crypto
// (BoringSSL's implementation, which uses the SHA extensions where the CPU has them).

import Crypto
import Foundation

/// SHA-256 of `bytes`: 32 bytes. Cost: one pass over the input (about 1 GB/s here with SHA-NI,
/// 7x the hand-written Swift it replaced; docs/ARCHITECTURE.md, "Trace format").
public func sha256<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
    var hasher = Crypto.SHA256()
    hasher.update(bytes)
    return Array(hasher.finalize())
}

/// SHA-256 of the bytes `raw` points at: 32 bytes.
public func sha256(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
    var hasher = Crypto.SHA256()
    hasher.update(bufferPointer: raw)
    return Array(hasher.finalize())
}

/// What hashing cost a trace writer: the bytes it hashed and the time that took, for the
/// record summary (`magprov record --json`) and the benchmark harness. Measured with one
/// monotonic clock read before and one after each hash — a frame of up to 256 KiB or a blob
/// chunk of up to 1 MiB — never per event or syscall.
public struct HashingCost: Sendable, Equatable {
    public var bytes: UInt64 = 0
    public var nanoseconds: UInt64 = 0

    public init() {}

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public static func + (a: HashingCost, b: HashingCost) -> HashingCost {
        var sum = a
        sum.bytes += b.bytes
        sum.nanoseconds += b.nanoseconds
        return sum
    }

    /// Runs `hash`, which hashes `count` bytes, and adds its bytes and time.
    @inline(__always)
    mutating func measure<T>(_ count: Int, _ hash: () throws -> T) rethrows -> T {
        let start = monotonicNanoseconds()
        defer { nanoseconds += monotonicNanoseconds() &- start; bytes += UInt64(count) }
        return try hash()
    }
}

/// CLOCK_MONOTONIC in nanoseconds (clock_gettime(2); a vDSO call in the recorder itself).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

extension Crypto.SHA256 {
    /// Feeds any byte collection; contiguous ones (arrays, slices) without a copy.
    mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(bufferPointer: UnsafeRawBufferPointer($0)) }
        if done == nil { update(data: Array(bytes)) }
    }
}

extension Array where Element == UInt8 {
    /// Lowercase hexadecimal.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(count * 2)
        for b in self { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes a hexadecimal string spells (either case), or nil if it is not hex.
    public init?(hexString: String) {
        let digits = Array(hexString.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let high = value(digits[i]), let low = value(digits[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        self = out
    }
}
