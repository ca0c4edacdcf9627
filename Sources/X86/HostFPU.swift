// Instructions whose results the architecture leaves to the CPU model (x87 transcendental
// functions, SSE reciprocal estimates) run on the host's own FPU through CSupport: exact
// for a trace recorded on this CPU model, approximate otherwise, and said so
// (docs/ARCHITECTURE.md, "Host FPU").
import CSupport

/// Instruction families whose results differ between CPU models and that the interpreter
/// therefore computes on the host's FPU. A replay whose trace was recorded on another CPU
/// model (`CPUIDTable.sameModel(as:)`) reports the families it ran as approximate.
public struct HostComputedInstructions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// f2xm1, fyl2x, fyl2xp1, fpatan, fptan, fsin, fcos, fsincos: the SDM bounds their error
    /// (about 1 ulp) but not their bits.
    public static let x87Transcendental = HostComputedInstructions(rawValue: 1)
    /// rcpps, rcpss, rsqrtps, rsqrtss: 12-bit estimates whose tables differ by vendor.
    public static let sseReciprocalEstimate = HostComputedInstructions(rawValue: 2)

    /// Mnemonic families, for reports: "x87 transcendental (f2xm1, fyl2x, …)".
    public var names: [String] {
        var out: [String] = []
        if contains(.x87Transcendental) { out.append("x87 transcendental (f2xm1, fyl2x, fyl2xp1, fpatan, fptan, fsin, fcos, fsincos)") }
        if contains(.sseReciprocalEstimate) { out.append("SSE reciprocal estimates (rcpps, rcpss, rsqrtps, rsqrtss)") }
        return out
    }
}

extension CPUIDTable {
    /// The CPU this process runs on (leaves 0 and 1 only: vendor and signature).
    public static let hostModel: CPUIDTable = {
        var t = CPUIDTable()
        for leaf: UInt32 in [0, 1] {
            var r: [UInt32] = [0, 0, 0, 0]
            mp_cpuid(leaf, 0, &r)
            t.entries[Key(leaf: leaf, subleaf: 0)] = Result(eax: r[0], ebx: r[1], ecx: r[2], edx: r[3])
        }
        return t
    }()

    /// The vendor string of leaf 0 ("AuthenticAMD", "GenuineIntel").
    public var vendor: String {
        let r = lookup(leaf: 0, subleaf: 0)
        let bytes = [r.ebx, r.edx, r.ecx].flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) } }
        return String(decoding: bytes.filter { $0 != 0 }, as: UTF8.self)
    }

    /// Leaf 1's processor signature (EAX: stepping, model, family and their extensions).
    public var signature: UInt32 { lookup(leaf: 1, subleaf: 0).eax }

    /// Whether both tables name the same vendor and processor signature: the condition
    /// under which host-computed results (`HostComputedInstructions`) are the recording
    /// CPU's own, bit for bit.
    public func sameModel(as other: CPUIDTable) -> Bool {
        lookup(leaf: 0, subleaf: 0) == other.lookup(leaf: 0, subleaf: 0) && signature == other.signature
    }

    /// "AuthenticAMD family 0x19 model 0x1 stepping 1" for reports.
    public var modelDescription: String {
        let s = signature
        let baseFamily = (s >> 8) & 0xF, baseModel = (s >> 4) & 0xF
        let family = baseFamily == 0xF ? baseFamily + ((s >> 20) & 0xFF) : baseFamily
        let model = baseFamily == 0xF || baseFamily == 6 ? baseModel | (((s >> 16) & 0xF) << 4) : baseModel
        return "\(vendor) family 0x\(String(family, radix: 16)) model 0x\(String(model, radix: 16)) stepping \(s & 0xF)"
    }
}

extension Machine {
    /// Runs one D9 F0-FF instruction (`secondByte`) on the host FPU over the guest's x87
    /// stack: results, exception flags, C0-C3 (partial remainders, out-of-range operands),
    /// stack faults and tags as this CPU computes them. Exceptions are treated as masked.
    /// Cost: two FXSAVE/FXRSTOR pairs (~100 ns).
    func hostX87(_ secondByte: UInt8) {
        switch secondByte {
        case 0xF0...0xF3, 0xF9, 0xFB, 0xFE, 0xFF: hostComputed.insert(.x87Transcendental)
        default: break  // fxtract, fprem, fprem1, fsqrt, frndint, fscale: exact by definition
        }
        var state = mp_x87_state()
        let x = cpu.pointee.x87
        state.control = x.controlWord
        state.status = x.fullStatusWord
        var abridged: UInt8 = 0
        for r in 0..<8 where (x.tagWord >> UInt16(r * 2)) & 3 != 3 { abridged |= 1 << UInt8(r) }
        state.tags = abridged
        withUnsafeMutableBytes(of: &state.st) { raw in
            let st = raw.bindMemory(to: Float80.self)
            for i in 0..<8 { st[i] = self.st(i) }
        }
        mp_x87_execute(secondByte, &state)
        cpu.pointee.x87.top = UInt8((state.status >> 11) & 7)
        cpu.pointee.x87.statusWord = state.status & ~0x3800
        withUnsafeBytes(of: state.st) { raw in
            let st = raw.bindMemory(to: Float80.self)
            for i in 0..<8 { x87Registers[physical(i)] = st[i] }
        }
        var tags: UInt16 = 0
        for r in 0..<8 {
            let tag: UInt16 = (state.tags >> UInt8(r)) & 1 == 0 ? 3 : Self.tag(for: x87Registers[r])
            tags |= tag << UInt16(r * 2)
        }
        cpu.pointee.x87.tagWord = tags
    }

    /// rcpps/rsqrtps of four singles as this CPU estimates them, under the guest's MXCSR.
    func hostReciprocalEstimate(squareRoot: Bool, _ v: V128) -> V128 {
        hostComputed.insert(.sseReciprocalEstimate)
        let input = v
        var output = V128()
        withUnsafeBytes(of: input) { i in
            withUnsafeMutableBytes(of: &output) { o in
                // Both buffers are 16 bytes: four singles.
                mp_sse_reciprocal_estimate(squareRoot ? 1 : 0, cpu.pointee.mxcsr,
                                           i.baseAddress!.assumingMemoryBound(to: UInt32.self),
                                           o.baseAddress!.assumingMemoryBound(to: UInt32.self))
            }
        }
        return output
    }
}
