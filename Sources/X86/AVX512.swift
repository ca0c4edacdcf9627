// AVX-512 (EVEX) groundwork for issue 9: the EVEX prefix fields and the element semantics
// of the forms glibc 2.36's EVEX/AVX-512 string and memory functions use (vpcmp[u]b/d into
// an opmask, vptestm/vptestnm, vpminub/vpminud, vpternlogd, broadcasts, merge/zero masking,
// kortest/ktest/kunpck). These are pure functions over vector values; they are not yet
// wired into `Machine` (the register file has no ZMM16-31, no bits 511:256 and no opmask
// registers yet), so the decoder still refuses EVEX forms with a located error.

/// The fields of a 4-byte EVEX prefix (62h P0 P1 P2), SDM Vol. 2, 2.7.1, with the
/// inverted fields (R, X, B, R', vvvv, V') already un-inverted.
public struct EVEXPrefix: Equatable, Sendable {
    /// ModRM.reg extension bit 3 (EVEX.R) and bit 4 (EVEX.R').
    public var r: Bool, rPrime: Bool
    /// SIB.index / ModRM.rm extension bits (EVEX.X also extends rm to 16-31 for registers).
    public var x: Bool, b: Bool
    /// Opcode map: 1 = 0F, 2 = 0F38, 3 = 0F3A.
    public var map: UInt8
    /// EVEX.W.
    public var w: Bool
    /// The second-source register, 0-31 (vvvv plus V').
    public var vvvv: UInt8
    /// Implied legacy prefix: 0 none, 1 = 66h, 2 = F3h, 3 = F2h.
    public var pp: UInt8
    /// Zeroing (true) or merging (false) masking.
    public var zeroing: Bool
    /// EVEX.L'L: 0 = 128, 1 = 256, 2 = 512 bits (3 is reserved).
    public var lengthBits: UInt8
    /// EVEX.b: broadcast, rounding control or SAE depending on the form.
    public var broadcast: Bool
    /// The writemask register k0-k7 (0 means no masking).
    public var mask: UInt8
    /// Bytes of the prefix including legacy prefixes before 62h.
    public var prefixLength: Int

    /// Vector length in bytes (16, 32, 64), nil for the reserved L'L = 3.
    public var vectorBytes: Int? { lengthBits < 3 ? 16 << Int(lengthBits) : nil }

    /// Parses the EVEX prefix at the start of `bytes` (after legacy prefixes). Nil when the
    /// bytes do not start an EVEX prefix or the fixed bits are wrong (P0 bits 3:2 must be 0,
    /// P1 bit 2 must be 1). Cost: O(prefix length).
    public static func parse(_ bytes: [UInt8]) -> EVEXPrefix? {
        var i = 0
        while i < bytes.count, [0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65].contains(bytes[i]) { i += 1 }
        guard i + 4 <= bytes.count, bytes[i] == 0x62 else { return nil }
        let p0 = bytes[i + 1], p1 = bytes[i + 2], p2 = bytes[i + 3]
        guard p0 & 0x0C == 0, p1 & 0x04 != 0, p0 & 3 != 0 else { return nil }
        return EVEXPrefix(
            r: p0 & 0x80 == 0, rPrime: p0 & 0x10 == 0, x: p0 & 0x40 == 0, b: p0 & 0x20 == 0,
            map: p0 & 3, w: p1 & 0x80 != 0,
            vvvv: (~p1 >> 3) & 0xF | (p2 & 0x08 == 0 ? 16 : 0), pp: p1 & 3,
            zeroing: p2 & 0x80 != 0, lengthBits: (p2 >> 5) & 3, broadcast: p2 & 0x10 != 0,
            mask: p2 & 7, prefixLength: i + 4)
    }
}

/// Element semantics of the AVX-512 integer forms glibc's string functions use. Vectors are
/// byte arrays of the vector length (16, 32 or 64), little-endian elements; masks are one
/// bit per element, bit i for element i (SDM Vol. 2, chapter 5, VPCMP/VPTESTM/VPMINU/
/// VPTERNLOGD/VPBROADCAST, and 15.6 for opmask instructions).
public enum AVX512Semantics {
    /// The 3-bit comparison predicate of VPCMP[U]B/W/D/Q (imm8 bits 2:0).
    public enum Predicate: UInt8, Sendable, CaseIterable {
        case eq = 0, lt = 1, le = 2, alwaysFalse = 3, ne = 4, nlt = 5, nle = 6, alwaysTrue = 7
    }

    @inline(__always)
    static func element(_ v: [UInt8], _ i: Int, _ size: Int) -> UInt64 {
        var x: UInt64 = 0
        for j in 0..<size { x |= UInt64(v[i * size + j]) << (8 * j) }
        return x
    }

    @inline(__always)
    static func signExtend(_ x: UInt64, _ size: Int) -> Int64 {
        let shift = UInt64(64 - 8 * size)
        return Int64(bitPattern: x << shift) >> Int64(shift)
    }

    /// Bits 0..<count set.
    public static func lowBits(_ count: Int) -> UInt64 { count >= 64 ? ~0 : (1 << UInt64(count)) - 1 }

    /// VPCMP[U]{B,W,D,Q} k1 {k2}, a, b, imm8: bit i = predicate(a[i], b[i]) and writemask
    /// bit i; bits above the element count are zero. `elementBytes` is 1, 2, 4 or 8.
    public static func compare(_ a: [UInt8], _ b: [UInt8], elementBytes: Int, signed: Bool,
                               predicate: Predicate, writemask: UInt64 = ~0) -> UInt64 {
        let count = a.count / elementBytes
        var result: UInt64 = 0
        for i in 0..<count {
            let x = element(a, i, elementBytes), y = element(b, i, elementBytes)
            let less = signed ? signExtend(x, elementBytes) < signExtend(y, elementBytes) : x < y
            let bit: Bool
            switch predicate {
            case .eq: bit = x == y
            case .lt: bit = less
            case .le: bit = less || x == y
            case .alwaysFalse: bit = false
            case .ne: bit = x != y
            case .nlt: bit = !less
            case .nle: bit = !(less || x == y)
            case .alwaysTrue: bit = true
            }
            if bit { result |= 1 << UInt64(i) }
        }
        return result & writemask & lowBits(count)
    }

    /// VPTESTM (negate false) / VPTESTNM (negate true): bit i = (a[i] AND b[i]) != 0
    /// (resp. == 0), and writemask bit i.
    public static func test(_ a: [UInt8], _ b: [UInt8], elementBytes: Int, negate: Bool, writemask: UInt64 = ~0) -> UInt64 {
        let count = a.count / elementBytes
        var result: UInt64 = 0
        for i in 0..<count where (element(a, i, elementBytes) & element(b, i, elementBytes) != 0) != negate {
            result |= 1 << UInt64(i)
        }
        return result & writemask & lowBits(count)
    }

    /// VPMINU{B,D}: the unsigned minimum of each element, before masking.
    public static func minUnsigned(_ a: [UInt8], _ b: [UInt8], elementBytes: Int) -> [UInt8] {
        var out = a
        for i in 0..<(a.count / elementBytes) where element(b, i, elementBytes) < element(a, i, elementBytes) {
            for j in 0..<elementBytes { out[i * elementBytes + j] = b[i * elementBytes + j] }
        }
        return out
    }

    /// VPTERNLOGD/Q dst, b, c, imm8: each result bit is imm8 bit (dst<<2 | b<<1 | c),
    /// before masking.
    public static func ternaryLogic(_ a: [UInt8], _ b: [UInt8], _ c: [UInt8], imm: UInt8) -> [UInt8] {
        var out = a
        for i in 0..<a.count {
            var r: UInt8 = 0
            for bit in 0..<8 {
                let index = ((a[i] >> bit) & 1) << 2 | ((b[i] >> bit) & 1) << 1 | ((c[i] >> bit) & 1)
                r |= ((imm >> index) & 1) << bit
            }
            out[i] = r
        }
        return out
    }

    /// VPBROADCASTB/W/D/Q from a general register or memory: the low `elementBytes` of
    /// `value` repeated over `vectorBytes`, before masking.
    public static func broadcast(_ value: UInt64, elementBytes: Int, vectorBytes: Int) -> [UInt8] {
        (0..<vectorBytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0 % elementBytes))) }
    }

    /// Applies a writemask to a register destination: element i is `result[i]` where mask
    /// bit i is set, else zero (`zeroing`) or the old `destination[i]` (merging). The
    /// register bits above the vector length are zeroed by the caller (EVEX rule).
    public static func applyMask(result: [UInt8], destination: [UInt8], mask: UInt64, elementBytes: Int, zeroing: Bool) -> [UInt8] {
        var out = result
        for i in 0..<(result.count / elementBytes) where mask >> UInt64(i) & 1 == 0 {
            for j in 0..<elementBytes { out[i * elementBytes + j] = zeroing ? 0 : destination[i * elementBytes + j] }
        }
        return out
    }

    /// KORTEST{B,W,D,Q} a, b over `bits` bits: (ZF, CF) = (a|b == 0, a|b all ones).
    public static func kortest(_ a: UInt64, _ b: UInt64, bits: Int) -> (zf: Bool, cf: Bool) {
        let m = lowBits(bits), v = (a | b) & m
        return (v == 0, v == m)
    }

    /// KTEST{B,W,D,Q} a, b over `bits` bits: (ZF, CF) = (a&b == 0, ~a&b == 0).
    public static func ktest(_ a: UInt64, _ b: UInt64, bits: Int) -> (zf: Bool, cf: Bool) {
        let m = lowBits(bits)
        return (a & b & m == 0, ~a & b & m == 0)
    }

    /// KUNPCKBW/WD/DQ k1, k2, k3 with `halfBits` 8, 16 or 32: k3's low half in the low
    /// half, k2's low half above it; bits above 2*halfBits zero.
    public static func kunpack(_ k2: UInt64, _ k3: UInt64, halfBits: Int) -> UInt64 {
        let m = lowBits(halfBits)
        return (k2 & m) << UInt64(halfBits) | (k3 & m)
    }
}
