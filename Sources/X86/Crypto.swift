// Legacy-encoded checksum and cipher instructions: pclmulqdq (CLMUL, liblzma's CRC64),
// crc32 (SSE4.2, CRC-32C), SHA-1 and SHA-256 (SHA-NI, OpenSSL's libcrypto) and AES-NI rounds (SDM Vol. 2; FIPS-197 for the AES steps).

extension Machine {
    func executeCrypto(_ p: UnsafePointer<Instruction>) -> ExecStatus {
        let op = p.pointee.op
        let o0 = p.pointee.o0, o1 = p.pointee.o1
        switch op {
        case .crc32:
            // crc32 r32/r64, r/m8/16/32/64: CRC-32C (reflected polynomial 0x82F63B78) of the
            // source's bytes, starting from the destination's low 32 bits, no inversions;
            // the result zero-extends into the destination.
            let sourceSize = o1.size
            guard let v = read(o1, size: sourceSize) else { return memoryFault(p) }
            let destination = location(o0, size: o0.size)
            loadDerive(to: destination, from: destination, location(o1, size: sourceSize), address: o1)
            var crc = UInt32(truncatingIfNeeded: gprs[Int(o0.reg)])
            for k in 0..<Int(sourceSize) {
                crc ^= UInt32(truncatingIfNeeded: v >> UInt64(8 * k)) & 0xFF
                for _ in 0..<8 { crc = (crc >> 1) ^ (0x82F6_3B78 & (0 &- (crc & 1))) }
            }
            gprs[Int(o0.reg)] = UInt64(crc)
            return .next

        case .pclmulqdq:
            // pclmulqdq xmm1, xmm2/m128, imm8: imm bit 0 picks xmm1's quadword, bit 4 the
            // source's; their carry-less product is 128 bits.
            guard let b = readVector(o1) else { return memoryFault(p) }
            let imm = p.pointee.o2.value
            let a = vector(o0.reg)
            let x = a[Int(imm & 1)], y = b[Int((imm >> 4) & 1)]
            var low: UInt64 = 0, high: UInt64 = 0
            for i in 0..<64 as Range<UInt64> where (y >> i) & 1 != 0 {
                low ^= x << i
                if i > 0 { high ^= x >> (64 - i) }
            }
            tracker.derive(to: xmmLocation(o0.reg), from: xmmLocation(o0.reg), location(o1, size: 16))
            loadDependency(xmmLocation(o0.reg), o1)
            setVector(o0.reg, V128(low, high))
            return .next

        case .aesenc, .aesenclast, .aesdec, .aesdeclast:
            guard let key = readVector(o1) else { return memoryFault(p) }
            var state = AESRound.bytes(vector(o0.reg))
            switch op {
            case .aesenc, .aesenclast:
                state = AESRound.subBytes(AESRound.shiftRows(state), AESRound.sbox)
                if op == .aesenc { state = AESRound.mixColumns(state) }
            default:
                state = AESRound.subBytes(AESRound.inverseShiftRows(state), AESRound.inverseSbox)
                if op == .aesdec { state = AESRound.inverseMixColumns(state) }
            }
            tracker.derive(to: xmmLocation(o0.reg), from: xmmLocation(o0.reg), location(o1, size: 16))
            loadDependency(xmmLocation(o0.reg), o1)
            setVector(o0.reg, AESRound.vector(state) ^ key)
            return .next

        case .aesimc:
            guard let v = readVector(o1) else { return memoryFault(p) }
            deriveVector(p)
            setVector(o0.reg, AESRound.vector(AESRound.inverseMixColumns(AESRound.bytes(v))))
            return .next

        case .aeskeygenassist:
            // Dwords: SubWord(X1), RotWord(SubWord(X1)) ^ rcon, SubWord(X3), RotWord(SubWord(X3)) ^ rcon,
            // where X1, X3 are the source's dwords 1 and 3 and RotWord rotates right by 8.
            guard let v = readVector(o1) else { return memoryFault(p) }
            let rcon = UInt32(truncatingIfNeeded: p.pointee.o2.value & 0xFF)
            func subWord(_ w: UInt32) -> UInt32 {
                var r: UInt32 = 0
                for k in 0..<4 { r |= UInt32(AESRound.sbox[Int((w >> UInt32(8 * k)) & 0xFF)]) << UInt32(8 * k) }
                return r
            }
            func rotWord(_ w: UInt32) -> UInt32 { (w >> 8) | (w << 24) }
            let x1 = subWord(UInt32(truncatingIfNeeded: v[0] >> 32)), x3 = subWord(UInt32(truncatingIfNeeded: v[1] >> 32))
            deriveVector(p)
            setVector(o0.reg, V128(UInt64(x1) | UInt64(rotWord(x1) ^ rcon) << 32, UInt64(x3) | UInt64(rotWord(x3) ^ rcon) << 32))
            return .next

        case .sha256rnds2, .sha256msg1, .sha256msg2:
            // SHA-NI (SDM Vol. 2, SHA256RNDS2/MSG1/MSG2; FIPS 180-4 §4.1.2 for the functions).
            guard let b = readVector(o1) else { return memoryFault(p) }
            let x = Self.lanes(vector(o0.reg), as: SIMD4<UInt32>.self), y = Self.lanes(b, as: SIMD4<UInt32>.self)
            func ror(_ v: UInt32, _ n: UInt32) -> UInt32 { (v >> n) | (v << (32 - n)) }
            var r = SIMD4<UInt32>()
            switch op {
            case .sha256msg1:
                func sigma0(_ w: UInt32) -> UInt32 { ror(w, 7) ^ ror(w, 18) ^ (w >> 3) }
                r = SIMD4(x[0] &+ sigma0(x[1]), x[1] &+ sigma0(x[2]), x[2] &+ sigma0(x[3]), x[3] &+ sigma0(y[0]))
            case .sha256msg2:
                func sigma1(_ w: UInt32) -> UInt32 { ror(w, 17) ^ ror(w, 19) ^ (w >> 10) }
                let w16 = x[0] &+ sigma1(y[2]), w17 = x[1] &+ sigma1(y[3])
                r = SIMD4(w16, w17, x[2] &+ sigma1(w16), x[3] &+ sigma1(w17))
            default:
                // Two rounds: A B E F from the source, C D G H from the destination, the
                // message-plus-constant words from XMM0's low quadword.
                let wk = Self.lanes(vector(0), as: SIMD4<UInt32>.self)
                var a = y[3], bb = y[2], c = x[3], d = x[2], e = y[1], f = y[0], g = x[1], h = x[0]
                for i in 0..<2 {
                    let ch = (e & f) ^ (~e & g), maj = (a & bb) ^ (a & c) ^ (bb & c)
                    let s1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25), s0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)
                    let t = ch &+ s1 &+ wk[i] &+ h
                    (h, g, f, e) = (g, f, e, t &+ d)
                    (d, c, bb, a) = (c, bb, a, t &+ maj &+ s0)
                }
                r = SIMD4(f, e, bb, a)
            }
            tracker.derive(to: xmmLocation(o0.reg), from: xmmLocation(o0.reg), location(o1, size: 16))
            if op == .sha256rnds2 { tracker.combine(into: xmmLocation(o0.reg), from: xmmLocation(0, offset: 0, size: 8)) }
            loadDependency(xmmLocation(o0.reg), o1)
            setVector(o0.reg, Self.quad(r))
            return .next

        case .sha1rnds4, .sha1nexte, .sha1msg1, .sha1msg2:
            // SHA-NI (SDM Vol. 2, SHA1RNDS4/NEXTE/MSG1/MSG2; FIPS 180-4 §4.1.1, §6.1.2).
            // Lane 3 (bits 127:96) is A, or the earliest message word.
            guard let b = readVector(o1) else { return memoryFault(p) }
            let x = Self.lanes(vector(o0.reg), as: SIMD4<UInt32>.self), y = Self.lanes(b, as: SIMD4<UInt32>.self)
            func rol(_ v: UInt32, _ n: UInt32) -> UInt32 { (v << n) | (v >> (32 - n)) }
            var r = SIMD4<UInt32>()
            switch op {
            case .sha1nexte:
                r = SIMD4(y[0], y[1], y[2], y[3] &+ rol(x[3], 30))
            case .sha1msg1:
                r = SIMD4(y[2] ^ x[0], y[3] ^ x[1], x[0] ^ x[2], x[1] ^ x[3])
            case .sha1msg2:
                let w16 = rol(x[3] ^ y[2], 1), w17 = rol(x[2] ^ y[1], 1), w18 = rol(x[1] ^ y[0], 1), w19 = rol(x[0] ^ w16, 1)
                r = SIMD4(w19, w18, w17, w16)
            default:
                // Four rounds with the function and constant of imm8[1:0]; the first
                // round's message word already holds E (sha1nexte).
                let selector = p.pointee.o2.value & 3
                let k: UInt32 = [0x5A82_7999, 0x6ED9_EBA1, 0x8F1B_BCDC, 0xCA62_C1D6][Int(selector)]
                func f(_ b: UInt32, _ c: UInt32, _ d: UInt32) -> UInt32 {
                    switch selector {
                    case 0: return (b & c) ^ (~b & d)
                    case 2: return (b & c) ^ (b & d) ^ (c & d)
                    default: return b ^ c ^ d
                    }
                }
                var a = x[3], bb = x[2], c = x[1], d = x[0], e: UInt32 = 0
                for i in 0..<4 {
                    let t = f(bb, c, d) &+ rol(a, 5) &+ y[3 - i] &+ e &+ k
                    (e, d, c, bb, a) = (d, c, rol(bb, 30), a, t)
                }
                r = SIMD4(d, c, bb, a)
            }
            tracker.derive(to: xmmLocation(o0.reg), from: xmmLocation(o0.reg), location(o1, size: 16))
            loadDependency(xmmLocation(o0.reg), o1)
            setVector(o0.reg, Self.quad(r))
            return .next

        default:
            return unsupported(p)
        }
    }
}

/// The steps of one AES round on a 16-byte state (FIPS-197 §5.1, §5.3); byte 4c + r is
/// row r of column c, byte 0 the low byte of the XMM register.
enum AESRound {
    typealias State = SIMD16<UInt8>

    @inline(__always) static func bytes(_ v: V128) -> State { unsafeBitCast(v, to: State.self) }
    @inline(__always) static func vector(_ s: State) -> V128 { unsafeBitCast(s, to: V128.self) }

    /// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a, b = b, r: UInt8 = 0
        while b != 0 {
            if b & 1 != 0 { r ^= a }
            a = (a << 1) ^ (a & 0x80 != 0 ? 0x1B : 0)
            b >>= 1
        }
        return r
    }

    /// The S-box, computed (multiplicative inverse, then the affine map) rather than typed in.
    static let sbox: [UInt8] = (0..<256).map { x in
        var inverse: UInt8 = 0
        if x != 0 {
            // x^254 = x^-1 in GF(2^8).
            var power = UInt8(x), result: UInt8 = 1, e = 254
            while e > 0 {
                if e & 1 != 0 { result = multiply(result, power) }
                power = multiply(power, power)
                e >>= 1
            }
            inverse = result
        }
        func rotl(_ v: UInt8, _ n: UInt8) -> UInt8 { (v << n) | (v >> (8 - n)) }
        return inverse ^ rotl(inverse, 1) ^ rotl(inverse, 2) ^ rotl(inverse, 3) ^ rotl(inverse, 4) ^ 0x63
    }

    static let inverseSbox: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 256)
        for (i, v) in sbox.enumerated() { t[Int(v)] = UInt8(i) }
        return t
    }()

    static func subBytes(_ s: State, _ table: [UInt8]) -> State {
        var r = State()
        for i in 0..<16 { r[i] = table[Int(s[i])] }
        return r
    }

    /// Row r moves left by r columns.
    static func shiftRows(_ s: State) -> State {
        var r = State()
        for c in 0..<4 { for row in 0..<4 { r[row + 4 * c] = s[row + 4 * ((c + row) & 3)] } }
        return r
    }

    static func inverseShiftRows(_ s: State) -> State {
        var r = State()
        for c in 0..<4 { for row in 0..<4 { r[row + 4 * ((c + row) & 3)] = s[row + 4 * c] } }
        return r
    }

    static func mixColumns(_ s: State) -> State { mix(s, [2, 3, 1, 1]) }
    static func inverseMixColumns(_ s: State) -> State { mix(s, [14, 11, 13, 9]) }

    /// Each column times the circulant matrix whose first row is `row`.
    static func mix(_ s: State, _ row: [UInt8]) -> State {
        var r = State()
        for c in 0..<4 {
            for i in 0..<4 {
                var v: UInt8 = 0
                for j in 0..<4 { v ^= multiply(row[(j - i + 4) & 3], s[4 * c + j]) }
                r[4 * c + i] = v
            }
        }
        return r
    }
}
