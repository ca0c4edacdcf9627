// Every instruction the interpreter implements reports its data movement, opcode by
// opcode: each probe below runs one instruction under `HookLog`, and every register-file
// or memory byte it changed must have been named as a hook's destination; a load must
// report its address registers; branches must report the flags (or the transfer) reaching
// control. Every opcode the decoder can produce needs a probe here, so an instruction
// added later cannot skip the hooks: the sweep fails and lists it.
@testable import X86
import XCTest

final class DataFlowCoverageTests: XCTestCase {
    /// What a probe must report besides the bytes it changes.
    enum Expectation {
        case data
        /// flagsReachControl or controlTransfer (conditional branches, cmov, setcc ...).
        case control
        /// controlTransfer: the target came from a register or memory.
        case transfer
    }

    struct Probe {
        var instruction: String
        /// Runs first, untracked by the checks (puts values on the x87 stack, sets flags ...).
        var setup = ""
        var expectation = Expectation.data
    }

    /// Opcodes that move no data, and why. They are probed like the others and must change
    /// nothing but RIP, so a data-moving instruction cannot hide here.
    static let exceptions: [Opcode: String] = [
        .nop: "no operation (endbr64 and the prefetch hints decode to it too)",
        .pause: "spin-wait hint",
        .fwait: "checks for pending x87 exceptions: all masked here, so it does nothing",
        .mfence: "memory ordering only", .lfence: "memory ordering only", .sfence: "memory ordering only",
        .clflush: "cache-line hint (clflushopt too)",
        .ud2: "raises SIGILL before doing anything",
        .int3: "raises SIGTRAP before doing anything",
        .hlt: "ends the run",
        .emms: "tags the x87 registers empty: the tag word is not in the data-flow register file, and no value moves",
    ]

    // Guest layout and initial registers (the probes rely on these values).
    static let code: UInt64 = 0x1_0000
    static let data: UInt64 = 0x2_0000
    static let dataSize = 0x1_0000
    static let rbx = data + 0x1000   // memory operands: [rbx ...], 64-byte aligned
    static let x87Inputs = rbx + 0x300  // doubles 2.5, -1.75; int32 7; int16 3; int64 -9

    static func initialState() -> CPUState {
        var s = CPUState()
        s.rax = 0x41
        s.rcx = 3
        s.rdx = 0
        s.rbx = rbx
        s.rsp = data + 0xF000
        s.rbp = data + 0xE000
        s.rsi = data + 0x2000
        s.rdi = data + 0x3000
        let high: [UInt64] = [0x8877_6655_4433_2211, 0x0123_4567_89AB_CDEF, 0x0810, 0xFEDC_BA98_7654_3210,
                              5, 0x7FFF_FFFF, 0xDEAD_BEEF_CAFE_F00D, 2]
        for (i, v) in high.enumerated() { s[GPR(rawValue: 8 + i)!] = v }
        for i in 0..<16 {
            s[xmm: i] = XMMRegister(low: (Double(i + 1) * 1.5).bitPattern, high: (-Double(i + 2) * 0.75).bitPattern)
        }
        s.fsBase = data
        s.gsBase = data + 0x100
        s.rflags = 0x202
        return s
    }

    static func initialData() -> [UInt8] {
        var bytes = (0..<dataSize).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        func put<T>(_ v: T, _ address: UInt64) {
            withUnsafeBytes(of: v) { bytes.replaceSubrange(Int(address - data)..<Int(address - data) + $0.count, with: $0) }
        }
        put(2.5, x87Inputs)
        put(-1.75, x87Inputs + 8)
        put(Int32(7), x87Inputs + 16)
        put(Int16(3), x87Inputs + 24)
        put(Int64(-9), x87Inputs + 32)
        return bytes
    }

    // MARK: Probes

    static func probes() -> [Probe] {
        var p: [Probe] = []
        func add(_ instruction: String, setup: String = "", _ expectation: Expectation = .data) {
            p.append(Probe(instruction: instruction, setup: setup, expectation: expectation))
        }
        // Data movement.
        for s in ["mov rax, qword ptr [rbx + r10*2 + 8]", "mov qword ptr [rbx], r8", "mov eax, 0x12345678", "mov r9, r8",
                  "movabs rax, 0x1122334455667788", "movnti qword ptr [rbx], r8",
                  "movzx eax, byte ptr [rbx]", "movzx ecx, r8w", "movsx rax, byte ptr [rbx]", "movsx ecx, r8w",
                  "movsxd rax, dword ptr [rbx]", "movsxd r9, r8d", "lea rax, [rbx + r10*4 + 16]", "lea ecx, [rip + 8]",
                  "xchg rax, r8", "xchg qword ptr [rbx], r9", "xchg rbx, qword ptr [rbx]", "xchg cx, r9w", "bswap r8", "bswap r9d",
                  "movbe rax, qword ptr [rbx]", "movbe qword ptr [rbx], r8", "movbe cx, word ptr [rbx]",
                  "push r8", "push qword ptr [rbx + 8]", "push 0x12", "pop rax", "pop qword ptr [rbx]",
                  "xlatb", "leave", "enter 32, 0", "enter 16, 1", "pushfq",
                  // 66h enter: word frames (enter 16, 3).
                  ".byte 0x66, 0xC8, 16, 0, 3",
                  // High bytes, and loads into their own address register (staged through
                  // RegisterFile.scratch).
                  "mov ah, byte ptr [rbx]", "mov byte ptr [rbx + 1], ah", "add ah, bl", "movzx ecx, ah",
                  "mov rbx, qword ptr [rbx]", "movzx ebx, byte ptr [rbx + 1]", "cmove rbx, qword ptr [rbx]",
                  "cvttsd2si rbx, qword ptr [rbx + 0x300]", "popcnt r10, qword ptr [rbx + r10]"] { add(s) }
        for s in ["cbw", "cwde", "cdqe", "cwd", "cdq", "cqo"] { add(s, setup: "mov rax, r8") }
        add("popfq", setup: "push 0x8d5")
        add("lahf", setup: "stc")
        add("sahf", setup: "mov ah, 0xd5")
        add("cmovb rax, r8", setup: "stc", .control)
        add("cmovb eax, r8d", setup: "clc", .control)
        add("cmove rcx, qword ptr [rbx]", setup: "cmp rax, rax", .control)
        add("sete al", setup: "cmp rax, rax", .control)
        add("setb byte ptr [rbx]", setup: "stc", .control)

        // Integer arithmetic and logic.
        for s in ["add rax, r8", "add qword ptr [rbx], r9", "add eax, dword ptr [rbx + r10]", "add r9, 7",
                  "sub rax, qword ptr [rbx]", "sub r8d, r8d", "cmp rax, qword ptr [rbx + 8]", "cmp byte ptr [rbx], 3",
                  "and rax, r8", "or qword ptr [rbx], rax", "xor eax, eax", "xor r8, qword ptr [rbx]",
                  "test r8, r9", "test byte ptr [rbx], 1", "not r8", "not qword ptr [rbx]", "neg r8",
                  "neg dword ptr [rbx]", "inc r8", "inc byte ptr [rbx]", "dec r9d", "dec word ptr [rbx]",
                  "cmpxchg qword ptr [rbx], r8", "cmpxchg8b qword ptr [rbx]", "cmpxchg16b xmmword ptr [rbx]",
                  "xadd qword ptr [rbx], r8", "xadd r8, r9", "xadd r8, r8", "xadd ah, ah",
                  "andn rax, r8, r9", "bextr rax, r8, r10", "bextr rcx, qword ptr [rbx], r10", "blsi rax, r8",
                  "blsmsk rax, qword ptr [rbx]", "blsr eax, r9d", "bzhi rax, r8, r10", "pdep rax, r8, r9",
                  "pext rax, r8, qword ptr [rbx]", "mulx rax, r11, r8", "adox r9, qword ptr [rbx]"] { add(s) }
        add("adc rax, r8", setup: "stc")
        add("adc qword ptr [rbx], 1", setup: "stc")
        add("sbb r8, r9", setup: "stc")
        add("sbb eax, eax", setup: "stc")
        add("cmpxchg r9, r8", setup: "mov rax, r9")
        add("cmpxchg8b qword ptr [rbx]", setup: "mov rax, qword ptr [rbx]\nmov rdx, rax\nshr rdx, 32")
        add("adcx rax, r8", setup: "stc")

        // Bit tests and scans.
        for s in ["bt r8, 3", "bt qword ptr [rbx], r10", "bts r8, 60", "bts qword ptr [rbx], rcx", "btr qword ptr [rbx], 1",
                  "btc r9, r10", "bsf rax, r8", "bsf rax, rdx", "bsr eax, dword ptr [rbx]", "tzcnt rax, r8",
                  "lzcnt r9, r8", "popcnt rax, qword ptr [rbx]"] { add(s) }

        // Shifts and rotates.
        for s in ["shl r8, 4", "shl qword ptr [rbx], cl", "sal eax, 1", "shl eax, cl", "shr r8, cl", "sar r9d, 3",
                  "rol r8, cl", "ror qword ptr [rbx], 5", "rcr r9, cl", "shld rax, r8, 12",
                  "shld qword ptr [rbx], r9, cl", "shrd r8, r9, cl", "shlx rax, r8, r10", "shrx rax, qword ptr [rbx], rcx",
                  "sarx r8, r9, rcx", "rorx rax, r8, 12"] { add(s) }
        add("rcl r8, 1", setup: "stc")
        add("shl eax, cl", setup: "xor ecx, ecx\nmov rax, r8")

        // Multiply and divide.
        for s in ["mul r8", "mul byte ptr [rbx]", "imul r8", "imul rax, r9", "imul rax, qword ptr [rbx], 10",
                  "imul cx, r9w, 3", "div r10", "div byte ptr [rbx]", "idiv r15", "idiv dword ptr [rbx + 0x300 + 16]"] { add(s) }

        // Control flow. "2:" is the address after the probed instruction.
        add("jmp r9\n2:", setup: "lea r9, [rip + 2f]", .transfer)
        add("jmp qword ptr [rbx]\n2:", setup: "lea r9, [rip + 2f]\nmov qword ptr [rbx], r9", .transfer)
        add("jmp 2f\n2:")
        add("call r9\n2:", setup: "lea r9, [rip + 2f]", .transfer)
        add("call qword ptr [rbx]\n2:", setup: "lea r9, [rip + 2f]\nmov qword ptr [rbx], r9", .transfer)
        add("call 2f\n2:")
        add("ret\n2:", setup: "lea r9, [rip + 2f]\npush r9", .transfer)
        add("ret 8\n2:", setup: "push r9\nlea r9, [rip + 2f]\npush r9", .transfer)
        add("je 2f\n2:", setup: "cmp rax, rax", .control)
        add("jb 2f\n2:", setup: "cmp rax, r8", .control)
        for s in ["jrcxz", "jecxz", "loop", "loope", "loopne"] { add("\(s) 2f\n2:", .control) }
        add("jrcxz 2f\n2:", setup: "xor ecx, ecx", .control)

        // String instructions (RSI, RDI and RCX = 3 from the initial state).
        for s in ["movsb", "movsd", "rep movsq", "movsw", "stosq", "rep stosb", "lodsb", "rep lodsd", "scasb", "cmpsb"] { add(s) }
        add("std\nrep movsb")
        add("repne scasb", .control)
        add("repe cmpsq", .control)
        add("repe cmpsb", setup: "mov rsi, rdi", .control)

        // Flags and system instructions.
        add("cld", setup: "std")
        add("std")
        add("clc", setup: "stc")
        add("stc")
        add("cmc")
        for s in ["cpuid", "rdtsc", "rdtscp", "syscall", "rdrand rax", "rdseed r8", "rdfsbase rax", "rdgsbase r8d",
                  "wrfsbase r9", "wrgsbase r8"] { add(s) }
        add("xgetbv", setup: "xor ecx, ecx")
        for s in ["nop", "endbr64", "prefetcht0 byte ptr [rbx]", "prefetchw byte ptr [rbx]", "nop dword ptr [rax + rax]",
                  "pause", "mfence", "lfence", "sfence", "clflush byte ptr [rbx]", "clflushopt byte ptr [rbx]",
                  "fwait", "ud2", "int3", "hlt"] { add(s) }

        // SSE data movement.
        for s in ["movdqu xmm0, xmmword ptr [rbx]", "movdqa xmmword ptr [rbx], xmm1", "movaps xmm2, xmm3",
                  "movups xmm2, xmmword ptr [rbx + r10]", "movapd xmm4, xmm5", "movupd xmmword ptr [rbx], xmm6",
                  "lddqu xmm0, xmmword ptr [rbx]", "movntdqa xmm1, xmmword ptr [rbx]", "movntdq xmmword ptr [rbx], xmm1",
                  "movntps xmmword ptr [rbx], xmm2", "movntpd xmmword ptr [rbx], xmm3",
                  "movd xmm0, eax", "movd ecx, xmm1", "movd dword ptr [rbx], xmm2", "movd xmm3, dword ptr [rbx]",
                  "movq xmm0, r8", "movq xmm1, qword ptr [rbx]", "movq r9, xmm2", "movq xmm3, xmm4",
                  "movq qword ptr [rbx], xmm5",
                  "movss xmm0, dword ptr [rbx]", "movss xmm1, xmm2", "movss dword ptr [rbx], xmm3",
                  "movsd xmm0, qword ptr [rbx]", "movsd xmm1, xmm2", "movsd qword ptr [rbx], xmm3",
                  "movhps xmm0, qword ptr [rbx]", "movhps qword ptr [rbx], xmm1", "movlps xmm2, qword ptr [rbx]",
                  "movlps qword ptr [rbx], xmm3", "movhpd xmm4, qword ptr [rbx]", "movhpd qword ptr [rbx], xmm5",
                  "movlpd xmm6, qword ptr [rbx]", "movlpd qword ptr [rbx], xmm7", "movlhps xmm0, xmm1", "movhlps xmm0, xmm1",
                  "movmskps eax, xmm1", "movmskpd ecx, xmm2", "pmovmskb eax, xmm1", "maskmovdqu xmm0, xmm1"] { add(s) }

        // SSE integer.
        let packed = ["pxor", "xorps", "xorpd", "por", "orps", "orpd", "pand", "andps", "andpd", "pandn", "andnps", "andnpd",
                      "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpeqq", "pcmpgtb", "pcmpgtw", "pcmpgtd", "pcmpgtq",
                      "pminub", "pmaxub", "pminsw", "pmaxsw", "pminsb", "pmaxsb", "pminuw", "pmaxuw", "pminud", "pmaxud",
                      "pminsd", "pmaxsd", "paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq",
                      "paddusb", "paddusw", "psubusb", "psubusw", "paddsb", "paddsw", "psubsb", "psubsw",
                      "psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad",
                      "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq", "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq",
                      "pshufb", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmulld", "pmaddwd", "psadbw", "pavgb", "pavgw",
                      "packuswb", "packsswb", "packssdw", "packusdw", "pabsb", "pabsw", "pabsd",
                      "pmovzxbw", "pmovzxbd", "pmovzxbq", "pmovzxwd", "pmovzxwq", "pmovzxdq",
                      "pmovsxbw", "pmovsxbd", "pmovsxbq", "pmovsxwd", "pmovsxwq", "pmovsxdq",
                      "unpcklps", "unpckhps", "unpcklpd", "unpckhpd"]
        for op in packed { add("\(op) xmm0, xmm1") }
        for s in ["pxor xmm2, xmm2", "paddb xmm0, xmmword ptr [rbx]", "pcmpeqb xmm1, xmmword ptr [rbx + r10]",
                  "pmovzxbq xmm0, word ptr [rbx]", "pmovsxdq xmm1, qword ptr [rbx]", "pabsd xmm2, xmmword ptr [rbx]",
                  "psllw xmm0, 3", "psrad xmm1, 2", "psrlq xmm2, xmmword ptr [rbx]", "pslldq xmm0, 3", "psrldq xmm1, 5",
                  "pshufd xmm0, xmm1, 0x1b", "pshufd xmm2, xmmword ptr [rbx], 0x4e", "pshuflw xmm0, xmm1, 0x1b",
                  "pshufhw xmm0, xmm1, 0x1b", "palignr xmm0, xmm1, 5", "ptest xmm0, xmm1", "ptest xmm1, xmmword ptr [rbx]",
                  "pcmpistri xmm0, xmm1, 0x0c", "pcmpistri xmm0, xmmword ptr [rbx], 0x00", "pcmpestri xmm0, xmm1, 0x0c",
                  "pcmpistrm xmm1, xmm2, 0x40", "pcmpestrm xmm1, xmmword ptr [rbx], 0x0c",
                  "pblendw xmm0, xmm1, 0x55", "pblendvb xmm2, xmm1, xmm0", "shufps xmm0, xmm1, 0x4e", "shufpd xmm0, xmm1, 1",
                  "pinsrw xmm0, eax, 3", "pinsrb xmm0, eax, 5", "pinsrd xmm0, dword ptr [rbx], 1", "pinsrq xmm0, r8, 1",
                  "pextrw eax, xmm1, 3", "pextrb eax, xmm1, 2", "pextrd dword ptr [rbx], xmm1, 1", "pextrq rax, xmm1, 1",
                  "pshufw mm0, mm1, 0x1b", "movq mm0, rax", "movd mm1, dword ptr [rbx]", "movq qword ptr [rbx], mm2", "movd ecx, mm3",
                  "movq mm4, mm5", "movq2dq xmm0, mm1", "movdq2q mm0, xmm1", "paddb mm0, mm1", "pxor mm2, mm2",
                  "punpckhbw mm0, qword ptr [rbx]", "packsswb mm1, mm2", "psllq mm0, 3", "psrad mm1, mm2", "pmaddwd mm0, mm1",
                  "emms"] { add(s) }

        // AVX / AVX2 (VEX): the opcodes only VEX encodes; the VEX forms of SSE opcodes are
        // probed here too, since they run through their own executor.
        for s in ["vzeroupper", "vzeroall", "vmovdqu ymm0, ymmword ptr [rbx]", "vmovdqa ymmword ptr [rbx], ymm1",
                  "vmovdqa xmm2, xmm3", "vmovd xmm0, eax", "vmovq xmm1, qword ptr [rbx]", "vmovd ecx, xmm2",
                  "vpmovmskb eax, ymm1", "vptest ymm0, ymm1", "vpcmpeqb ymm0, ymm1, ymmword ptr [rbx]",
                  "vpxor xmm2, xmm2, xmm2", "vpand ymm3, ymm1, ymm3", "vpsubb ymm0, ymm2, ymm0", "vpsadbw ymm1, ymm1, ymm2",
                  "vpminub ymm0, ymm1, ymm2", "vpshufb ymm0, ymm1, ymm2", "vpalignr ymm0, ymm1, ymm2, 5",
                  "vpblendvb ymm0, ymm1, ymm2, ymm3", "vpsllw ymm0, ymm1, 3", "vpsrld ymm0, ymm1, xmm2", "vpslldq ymm0, ymm1, 3",
                  "vpshufd ymm0, ymmword ptr [rbx], 0x1b", "vpabsb ymm0, ymm1", "vpinsrb xmm0, xmm1, eax, 5", "vpextrw eax, xmm1, 3",
                  "vpmovzxbw ymm0, xmmword ptr [rbx]", "vpbroadcastb ymm0, byte ptr [rbx]", "vpbroadcastw ymm0, xmm1",
                  "vpbroadcastd ymm0, xmm1", "vpbroadcastq ymm0, qword ptr [rbx]", "vbroadcastss ymm0, dword ptr [rbx]",
                  "vextracti128 xmm0, ymm1, 1", "vextractf128 xmmword ptr [rbx], ymm1, 1", "vinserti128 ymm0, ymm1, xmm2, 1",
                  "vinsertf128 ymm0, ymm1, xmmword ptr [rbx], 0", "vperm2i128 ymm0, ymm1, ymm2, 0x21",
                  "vperm2f128 ymm0, ymm1, ymmword ptr [rbx], 0x30", "vpermq ymm0, ymm1, 0x1b", "vpblendd ymm0, ymm1, ymm2, 0x5a"] {
            add(s)
        }
        add("vpcmpeqb ymm2, ymm2, ymm2")
        // MMX forms of SSSE3/SSE opcodes, MMX-only stores and conversions (issue 9).
        let mmxSetup = "movq mm0, r8\nmovq mm1, r9"
        for s in ["phaddw mm0, mm1", "phaddd mm0, qword ptr [rbx]", "phaddsw mm0, mm1", "phsubw mm0, mm1", "phsubd mm0, mm1",
                  "phsubsw mm0, mm1", "psignb mm0, mm1", "psignw mm0, mm1", "psignd mm0, qword ptr [rbx]", "pmulhrsw mm0, mm1",
                  "pmaddubsw mm0, mm1", "pshufb mm0, mm1", "palignr mm0, mm1, 3", "pabsb mm0, mm1", "pabsw mm0, qword ptr [rbx]",
                  "pinsrw mm0, eax, 2", "pinsrw mm0, word ptr [rbx], 1", "pextrw ecx, mm1, 1", "pmovmskb eax, mm0",
                  "maskmovq mm1, mm0", "movntq qword ptr [rbx], mm1", "cvtpi2ps xmm0, mm1", "cvtpi2ps xmm0, qword ptr [rbx]",
                  "cvtpi2pd xmm0, mm1", "cvtpi2pd xmm1, qword ptr [rbx]", "cvtps2pi mm0, xmm1", "cvttps2pi mm0, qword ptr [rbx]",
                  "cvtpd2pi mm0, xmm1", "cvttpd2pi mm0, xmmword ptr [rbx]"] { add(s, setup: mmxSetup) }
        // SSSE3, SSE3 and SSE4.1 xmm and VEX forms.
        for op in ["phaddw", "phaddd", "phaddsw", "phsubw", "phsubd", "phsubsw", "psignb", "psignw", "psignd", "pmulhrsw", "pmaddubsw"] {
            add("\(op) xmm0, xmm1")
            add("v\(op) ymm0, ymm1, ymmword ptr [rbx]")
        }
        for s in ["movddup xmm0, qword ptr [rbx]", "movshdup xmm0, xmm1", "movsldup xmm0, xmmword ptr [rbx]", "vmovddup ymm0, ymm1",
                  "vmovshdup xmm0, xmm1", "haddps xmm0, xmm1", "haddpd xmm0, xmm1", "hsubps xmm0, xmmword ptr [rbx]", "hsubpd xmm0, xmm1",
                  "dpps xmm0, xmm1, 0xff", "vhaddps ymm0, ymm1, ymm2", "vhsubpd xmm0, xmm1, xmm2", "vdpps ymm0, ymm1, ymmword ptr [rbx], 0xf1",
                  "vdpps xmm0, xmm1, xmm2, 0x33", "vrcpps ymm0, ymm1", "vrsqrtps ymm0, ymmword ptr [rbx]", "vrcpss xmm0, xmm1, xmm2",
                  "vmovlhps xmm0, xmm1, xmm2", "vmovhlps xmm0, xmm1, xmm0", "vmovhps xmm0, xmm1, qword ptr [rbx]",
                  "vmovlpd xmm0, xmm0, qword ptr [rbx]", "vmovhps qword ptr [rbx], xmm1"] { add(s) }
        // AVX/AVX2 permutes, variable shifts, tests, masked moves, broadcasts and gathers.
        for s in ["vpermilps ymm0, ymm1, 0x1b", "vpermilps ymm0, ymm1, ymmword ptr [rbx]", "vpermilpd ymm0, ymm1, ymm2",
                  "vpermilpd xmm0, xmmword ptr [rbx], 1", "vtestps ymm0, ymm1", "vtestpd xmm0, xmmword ptr [rbx]",
                  "vmaskmovps ymm0, ymm1, ymmword ptr [rbx]", "vmaskmovpd ymmword ptr [rbx], ymm1, ymm2",
                  "vpmaskmovd ymm0, ymm1, ymmword ptr [rbx]", "vpmaskmovq ymmword ptr [rbx], ymm1, ymm2",
                  "vpermd ymm0, ymm1, ymm2", "vpermps ymm0, ymm1, ymmword ptr [rbx]", "vpermpd ymm0, ymm1, 0x1b",
                  "vpsllvd ymm0, ymm1, ymm2", "vpsllvq xmm0, xmm1, xmmword ptr [rbx]", "vpsrlvd ymm0, ymm1, ymm2",
                  "vpsrlvq ymm0, ymm1, ymm2", "vpsravd ymm0, ymm1, ymm2", "vbroadcastf128 ymm0, xmmword ptr [rbx]",
                  "vbroadcasti128 ymm0, xmmword ptr [rbx + r10]"] { add(s) }
        let gatherSetup = "vpmovzxbd ymm1, qword ptr [rbx]\nvpcmpeqd ymm2, ymm2, ymm2"
        for s in ["vpgatherdd ymm0, [rbx + ymm1*4], ymm2", "vpgatherdq ymm0, [rbx + xmm1*8], ymm2",
                  "vgatherdps xmm0, [rbx + xmm1*4 + 8], xmm2", "vgatherdpd ymm0, [rbx + xmm1*8], ymm2"] { add(s, setup: gatherSetup) }
        let qwordGatherSetup = "vpmovzxbq ymm1, dword ptr [rbx]\nvpcmpeqd ymm2, ymm2, ymm2"
        for s in ["vpgatherqd xmm0, [rbx + ymm1*4], xmm2", "vpgatherqq ymm0, [rbx + ymm1*8], ymm2",
                  "vgatherqps xmm0, [rbx + xmm1*4], xmm2", "vgatherqpd ymm0, [rbx + ymm1*8], ymm2"] { add(s, setup: qwordGatherSetup) }
        for s in ["vfmadd132sd xmm0, xmm1, xmm2", "vfnmadd231pd ymm0, ymm1, ymmword ptr [rbx]", "vfmsub213ss xmm0, xmm1, dword ptr [rbx]",
                  "vaddsd xmm0, xmm1, xmm2", "vmulsd xmm0, xmm1, xmm0", "vsubsd xmm3, xmm1, qword ptr [rbx + 0x300]",
                  "vmovsd xmm0, qword ptr [rbx]", "vcvtsi2sd xmm0, xmm1, rax", "vucomisd xmm0, xmm1", "vcvttsd2si rax, xmm1",
                  "vroundsd xmm0, xmm1, xmm2, 1", "vsqrtpd xmm0, xmm1",
                  "vaddps ymm0, ymm1, ymm2", "vmulpd ymm0, ymm1, ymmword ptr [rbx]", "vsqrtps ymm0, ymm1", "vsqrtpd ymm2, ymmword ptr [rbx]",
                  "vcmpps ymm0, ymm1, ymm2, 0x1d", "vcmpeq_uqpd ymm0, ymm1, ymmword ptr [rbx]", "vcmpsd xmm0, xmm1, xmm2, 0x11",
                  "vcmpps xmm0, xmm0, xmmword ptr [rbx], 9", "vcvtph2ps ymm0, xmm1", "vcvtph2ps xmm0, qword ptr [rbx]",
                  "vcvtps2ph xmm0, ymm1, 4", "vcvtps2ph qword ptr [rbx], xmm1, 0", "vcvtdq2ps ymm0, ymm1",
                  "vcvttps2dq ymm0, ymmword ptr [rbx]", "vroundpd ymm0, ymm1, 9", "vbroadcastsd ymm0, qword ptr [rbx]",
                  "vblendvps ymm0, ymm1, ymm2, ymm3", "vblendpd ymm0, ymm1, ymmword ptr [rbx], 5", "blendvps xmm1, xmm2, xmm0",
                  "blendpd xmm1, xmm2, 1", "blendps xmm0, xmmword ptr [rbx], 3", "blendvpd xmm2, xmm1, xmm0",
                  "vcvtps2pd ymm0, xmm1", "vcvtpd2ps xmm0, ymmword ptr [rbx]", "vcvttpd2dq xmm1, ymm2"] { add(s) }
        // Checksums and ciphers.
        for s in ["crc32 eax, byte ptr [rbx]", "crc32 r8, r9", "pclmulqdq xmm0, xmm1, 0x11", "pclmulqdq xmm0, xmmword ptr [rbx], 0",
                  "aesenc xmm0, xmm1", "aesenclast xmm0, xmmword ptr [rbx]", "aesdec xmm0, xmm1", "aesdeclast xmm0, xmm1",
                  "aesimc xmm0, xmm1", "aeskeygenassist xmm0, xmm1, 1", "sha256rnds2 xmm2, xmm1", "sha256msg1 xmm1, xmmword ptr [rbx]",
                  "sha256msg2 xmm1, xmm2", "sha1rnds4 xmm0, xmm1, 3", "sha1nexte xmm0, xmmword ptr [rbx]", "sha1msg1 xmm1, xmm2",
                  "sha1msg2 xmm1, xmm2"] { add(s) }
        add("xsave [rbx]", setup: "mov eax, 7\nxor edx, edx\nvpcmpeqb ymm0, ymm0, ymm0")
        add("xrstor [rbx]", setup: "mov eax, 7\nxor edx, edx\nvpcmpeqb ymm0, ymm0, ymm0\nxsave [rbx]\nvpxor ymm0, ymm0, ymm0")

        // SSE floating point.
        for op in ["add", "sub", "mul", "div", "sqrt", "min", "max"] {
            for suffix in ["ss", "sd", "ps", "pd"] { add("\(op)\(suffix) xmm0, xmm1") }
        }
        for s in ["addsd xmm0, qword ptr [rbx + 0x300]", "mulps xmm1, xmmword ptr [rbx]", "sqrtsd xmm2, qword ptr [rbx + 0x300]",
                  "rcpps xmm0, xmm1", "rsqrtps xmm0, xmm1", "rcpss xmm0, xmm1", "rsqrtss xmm0, xmm1",
                  "ucomiss xmm0, xmm1", "ucomisd xmm0, qword ptr [rbx + 0x300]", "comiss xmm0, xmm1", "comisd xmm0, xmm1",
                  "cmpss xmm0, xmm1, 1", "cmpltsd xmm0, xmm1", "cmpsd xmm0, qword ptr [rbx + 0x300], 2", "cmpps xmm0, xmm1, 0",
                  "cmppd xmm0, xmm1, 4", "cvtsi2ss xmm0, eax", "cvtsi2sd xmm0, qword ptr [rbx]", "cvtsi2sd xmm1, r8",
                  "cvttss2si eax, xmm1", "cvttsd2si rax, qword ptr [rbx + 0x300]", "cvtss2si ecx, xmm2", "cvtsd2si r8, xmm3",
                  "cvtss2sd xmm0, xmm1", "cvtsd2ss xmm0, qword ptr [rbx + 0x300]", "cvtdq2ps xmm0, xmm1", "cvtdq2pd xmm0, xmm1",
                  "cvttps2dq xmm0, xmm1", "cvttpd2dq xmm0, xmm1", "cvtps2dq xmm0, xmm1", "cvtpd2dq xmm0, xmm1",
                  "cvtps2pd xmm0, qword ptr [rbx]", "cvtpd2ps xmm0, xmm1", "roundss xmm0, xmm1, 1", "roundsd xmm0, xmm1, 2",
                  "roundps xmm0, xmm1, 3", "roundpd xmm0, xmmword ptr [rbx], 0",
                  "stmxcsr dword ptr [rbx]", "fxsave [rbx]", "fxsave64 [rbx]"] { add(s) }
        add("ldmxcsr dword ptr [rbx]", setup: "mov dword ptr [rbx], 0x1f00")
        add("fxrstor [rbx]", setup: "fxsave [rbx]\nmov dword ptr [rbx + 160], 7\nmov word ptr [rbx], 0x27f")
        add("xsave [rbx]", setup: "mov eax, 3\nxor edx, edx")
        add("xsavec [rbx]", setup: "mov eax, 3\nxor edx, edx")
        add("xrstor [rbx]", setup: "mov eax, 3\nxor edx, edx\nxsave [rbx]\nmov dword ptr [rbx + 176], 9\nmov word ptr [rbx], 0x27f")
        add("xrstor [rbx]", setup: "mov eax, 3\nxor edx, edx\nfldpi\nxsave [rbx]\nmov qword ptr [rbx + 512], 0")

        // x87. "fld1; fldpi" leaves ST(0) = pi, ST(1) = 1; the inputs are at [rbx + 0x300].
        let two = "fld1\nfldpi"
        for s in ["fld qword ptr [rbx + 0x300]", "fld dword ptr [rbx + 0x300]", "fld tbyte ptr [rbx + 0x300]",
                  "fild dword ptr [rbx + 0x310]", "fild word ptr [rbx + 0x318]", "fild qword ptr [rbx + 0x320]",
                  "fldz", "fld1", "fldpi", "fldl2e", "fldl2t", "fldlg2", "fldln2", "fnstcw word ptr [rbx]", "fninit",
                  "fnstenv [rbx]", "fnstsw word ptr [rbx]", "fbld tbyte ptr [rbx]", "fincstp", "fdecstp"] { add(s) }
        add("fbstp tbyte ptr [rbx]", setup: "fld qword ptr [rbx + 0x300]")
        add("fnsave [rbx]", setup: "fld qword ptr [rbx + 0x300]\nfld1")
        add(".byte 0x66\nfnsave [rbx]", setup: "fld1")
        add("frstor [rbx]", setup: "fld qword ptr [rbx + 0x300]\nfnsave [rbx]\nfld1")
        add("fld st(1)", setup: two)
        add("fldcw word ptr [rbx]", setup: "mov word ptr [rbx], 0x27f")
        add("fninit", setup: "mov word ptr [rbx], 0x27f\nfldcw word ptr [rbx]\n\(two)\nfcom st(1)")
        add("fldenv [rbx]", setup: "\(two)\nfcom st(1)\nfnstenv [rbx]\nfninit")
        add(".byte 0x66\nfnstenv [rbx]", setup: "\(two)\nfcom st(1)")
        add(".byte 0x66\nfldenv [rbx]", setup: "\(two)\nfcom st(1)\n.byte 0x66\nfnstenv [rbx]\nfninit")
        add("fnclex", setup: "fld1\nfldz\nfdivp st(1), st(0)")
        add("fnstsw ax", setup: "\(two)\nfcom st(1)")
        for s in ["fst qword ptr [rbx]", "fst dword ptr [rbx]", "fst st(1)", "fstp tbyte ptr [rbx]", "fstp st(1)",
                  "fist dword ptr [rbx]", "fistp qword ptr [rbx]", "fisttp word ptr [rbx]", "fbstp tbyte ptr [rbx]",
                  "fxch st(1)", "fxch", "fcom", "fcom st(1)", "fcom qword ptr [rbx + 0x300]", "fcomp st(1)", "fcompp", "fucom st(1)",
                  "fucomp st(1)", "fucompp", "fcomi st(0), st(1)", "fcomip st(0), st(1)", "fucomi st(0), st(1)",
                  "fucomip st(0), st(1)", "ficom dword ptr [rbx + 0x310]", "ficomp word ptr [rbx + 0x318]", "ftst", "fxam",
                  "fchs", "fabs", "ffree st(0)", "frndint", "fscale", "fprem", "fprem1", "fsqrt", "fxtract",
                  "f2xm1", "fyl2x", "fyl2xp1", "fptan", "fpatan", "fsin", "fcos", "fsincos"] { add(s, setup: two) }
        for op in ["fadd", "fsub", "fsubr", "fmul", "fdiv", "fdivr"] {
            add("\(op) st(0), st(1)", setup: two)
            add("\(op) st(1), st(0)", setup: two)
            add("\(op) qword ptr [rbx + 0x300]", setup: two)
            add("\(op)p st(1), st(0)", setup: two)
            add("\(op)p", setup: two)
            add("fi\(op.dropFirst()) dword ptr [rbx + 0x310]", setup: two)
        }
        add("fcmovb st(0), st(1)", setup: "\(two)\nstc", .control)
        add("fcmovne st(0), st(1)", setup: "\(two)\ncmp rax, rax", .control)
        add("fadd st(0), st(1)", setup: "\(two)\nfld1\nfld1\nfld1\nfld1\nfld1\nfld1")  // a full stack
        return p
    }

    // MARK: The sweep

    func testEveryImplementedOpcodeReportsWhatItWrites() throws {
        let probes = Self.probes()
        var snippets: [String] = []
        for probe in probes { snippets += [probe.setup, probe.instruction] }
        let assembled = try Assembler.assemble(snippets)
        let decoder = try Decoder()
        let decodable = decoder.decodableOpcodes
        var probed = Set<Opcode>(), reportingDestination = Set<Opcode>(), notImplemented = Set<Opcode>()
        var failures: [String] = []

        for (i, probe) in probes.enumerated() {
            let setup = assembled[2 * i], instruction = assembled[2 * i + 1]
            let memory = GuestMemory()
            try memory.map(address: Self.code, length: 0x1_0000, prot: [.read, .execute])
            try memory.map(address: Self.data, length: UInt64(Self.dataSize), prot: [.read, .write])
            try memory.writeBytes(setup + instruction + [0xF4], at: Self.code)
            try memory.writeBytes(Self.initialData(), at: Self.data)
            let log = HookLog()
            let machine = try Machine(memory: memory, cpuid: .baseline, tracker: log)
            machine.xcr0 = 7  // x87, SSE and AVX: the xsave probes save the upper YMM halves
            var state = Self.initialState()
            state.rip = Self.code
            machine.state = state
            let address = Self.code + UInt64(setup.count)
            var steps = 0
            while machine.state.rip != address && steps < 50 {
                let reason = machine.run(maxInstructions: 1)
                guard reason == .instructionLimit else {
                    failures.append("`\(probe.instruction)`: setup stopped with \(reason)")
                    break
                }
                steps += 1
            }
            guard machine.state.rip == address else { continue }

            let op: Opcode
            switch decoder.decode(at: address, memory: memory) {
            case .decoded(let ins): op = ins.op
            case .unsupported(let ins, _) where ins.op == .unsupported:
                // The decoder refuses the form (MMX operands, say): record by mnemonic.
                if let named = Opcode(rawValue: String(probe.instruction.prefix { $0 != " " && $0 != "\n" })) {
                    probed.insert(named)
                    notImplemented.insert(named)
                } else {
                    failures.append("`\(probe.instruction)`: does not decode")
                }
                continue
            default:
                failures.append("`\(probe.instruction)`: does not decode")
                continue
            }
            probed.insert(op)

            let before = machine.state
            let memoryBefore = try memory.readBytes(at: Self.data, count: Self.dataSize)
            log.calls = []
            let reason = machine.run(maxInstructions: 1)
            if case .unsupported = reason {
                notImplemented.insert(op)
                continue
            }
            let after = machine.state
            let memoryAfter = try memory.readBytes(at: Self.data, count: Self.dataSize)
            let exception = Self.exceptions[op] != nil
            switch reason {
            case .instructionLimit, .syscall, .timestamp, .halt: break
            case .fault where exception: break
            default: failures.append("`\(probe.instruction)`: stopped with \(reason)")
            }

            // Every changed byte was named as a destination.
            var named = Set<UInt64>(), namedMemory = Set<UInt64>()
            for call in log.calls {
                for d in call.destinations {
                    var size = UInt64(d.size)
                    // A 4-byte GPR write zero-extends (DataFlowTracker's conventions).
                    if d.kind == .register && size == 4 && d.offset < RegisterFile.xmm(0) && d.offset % 8 == 0 { size = 8 }
                    for k in 0..<size {
                        if d.kind == .register { named.insert(d.offset + k) } else if d.kind == .memory { namedMemory.insert(d.offset + k) }
                    }
                }
            }
            let implicit = Self.implicitRegisters(op)
            let changed = Self.changedRegisterBytes(before, after).filter { !implicit.contains(Int($0 / 8)) || $0 >= 128 }
            let unnamed = changed.filter { !named.contains($0) }
            let unnamedMemory = (0..<Self.dataSize).filter { memoryBefore[$0] != memoryAfter[$0] }
                .map { Self.data + UInt64($0) }.filter { !namedMemory.contains($0) }
            if !unnamed.isEmpty || !unnamedMemory.isEmpty {
                failures.append("`\(probe.instruction)` (\(op)): changed without a hook: "
                    + Self.describe(registerBytes: unnamed) + (unnamedMemory.isEmpty ? "" : " memory \(Self.describe(addresses: unnamedMemory))"))
            }
            if exception {
                if !changed.isEmpty || !unnamedMemory.isEmpty || !log.calls.isEmpty {
                    failures.append("`\(probe.instruction)`: listed as moving no data, but it did")
                }
                continue
            }
            if log.calls.contains(where: { !$0.destinations.filter { $0.kind != .constant }.isEmpty || $0.isControl }) {
                reportingDestination.insert(op)
            }
            // Loads report the registers that formed the address.
            if log.calls.contains(where: { $0.loadsMemory })
                && !log.calls.contains(where: { if case .addressDependency = $0 { return true } else { return false } }) {
                failures.append("`\(probe.instruction)` (\(op)): loads memory without addressDependency")
            }
            switch probe.expectation {
            case .data: break
            case .control:
                if !log.calls.contains(where: { $0.isControl }) { failures.append("`\(probe.instruction)`: no flagsReachControl") }
            case .transfer:
                if !log.calls.contains(where: { if case .controlTransfer = $0 { return true } else { return false } }) {
                    failures.append("`\(probe.instruction)`: no controlTransfer")
                }
            }
        }

        let silent = probed.subtracting(reportingDestination).subtracting(notImplemented).subtracting(Self.exceptions.keys)
        let missing = decodable.subtracting(probed).subtracting(Self.exceptions.keys)
        let unreachable = Set(Opcode.allCases).subtracting(decodable).subtracting([.unsupported])
        print("data-flow coverage: \(decodable.count) decodable opcodes, \(reportingDestination.count) probed and reporting, "
              + "\(Self.exceptions.count) exceptions, not implemented: \(Self.names(notImplemented)); "
              + "never decoded (aliases): \(Self.names(unreachable))")
        XCTAssertTrue(missing.isEmpty, "opcodes with no probe (add an encoding to DataFlowCoverageTests.probes): \(Self.names(missing))")
        XCTAssertTrue(silent.isEmpty, "opcodes whose probes named no destination: \(Self.names(silent))")
        XCTAssertTrue(Set(Self.exceptions.keys).isSubset(of: probed), "unprobed exceptions: \(Self.names(Set(Self.exceptions.keys).subtracting(probed)))")
        for f in failures { XCTFail(f) }
    }

    // MARK: Helpers

    /// Registers an instruction updates without reporting them: pointers and counters
    /// whose labels do not change (RSP always; RSI, RDI, RCX for string instructions).
    static func implicitRegisters(_ op: Opcode) -> Set<Int> {
        switch op {
        case .movs, .stos, .lods, .scas, .cmps: return [GPR.rsp.rawValue, GPR.rsi.rawValue, GPR.rdi.rawValue, GPR.rcx.rawValue]
        default: return [GPR.rsp.rawValue]
        }
    }

    /// Register-file offsets (`RegisterFile`) of every byte that differs between two states.
    /// The x87 TOP field and tag word are bookkeeping outside the register file.
    static func changedRegisterBytes(_ a: CPUState, _ b: CPUState) -> [UInt64] {
        var changed: [UInt64] = []
        func compare(_ x: [UInt8], _ y: [UInt8], at offset: UInt64) {
            for i in 0..<x.count where x[i] != y[i] { changed.append(offset + UInt64(i)) }
        }
        func bytes<T>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }
        compare(bytes(a.gpr), bytes(b.gpr), at: RegisterFile.gpr(0))
        for i in 0..<16 {
            compare(bytes(a[xmm: i]), bytes(b[xmm: i]), at: RegisterFile.xmm(i))
            compare(bytes(a[ymmHigh: i]), bytes(b[ymmHigh: i]), at: RegisterFile.ymmHigh(i))
        }
        let ra = bytes(a.x87.registers), rb = bytes(b.x87.registers)
        for r in 0..<8 { compare(Array(ra[r * 16..<r * 16 + 10]), Array(rb[r * 16..<r * 16 + 10]), at: RegisterFile.x87(r)) }
        let visibleFlags = RFlags.arithmetic | RFlags.direction
        if a.rflags & visibleFlags != b.rflags & visibleFlags { changed.append(RegisterFile.flags) }
        compare(bytes(a.x87.statusWord & ~0x3800), bytes(b.x87.statusWord & ~0x3800), at: RegisterFile.x87Status)
        compare(bytes(a.x87.controlWord), bytes(b.x87.controlWord), at: RegisterFile.x87Control)
        compare(bytes(a.mxcsr), bytes(b.mxcsr), at: RegisterFile.mxcsr)
        compare(bytes(a.fsBase), bytes(b.fsBase), at: RegisterFile.fsBase)
        compare(bytes(a.gsBase), bytes(b.gsBase), at: RegisterFile.gsBase)
        return changed
    }

    static func describe(registerBytes: [UInt64]) -> String {
        registerBytes.map { o -> String in
            switch o {
            case ..<128: return "\(TestState.registerNames[Int(o / 8)])[\(o % 8)]"
            case ..<RegisterFile.x87(0): return "ymm\((o - 128) / 32)[\((o - 128) % 32)]"
            case ..<RegisterFile.flags: return "R\((o - RegisterFile.x87(0)) / 16)[\((o - RegisterFile.x87(0)) % 16)]"
            case RegisterFile.flags: return "flags"
            case RegisterFile.x87Status..<RegisterFile.x87Control: return "fsw[\(o - RegisterFile.x87Status)]"
            case RegisterFile.x87Control..<RegisterFile.mxcsr: return "fcw[\(o - RegisterFile.x87Control)]"
            case RegisterFile.mxcsr..<RegisterFile.fsBase: return "mxcsr[\(o - RegisterFile.mxcsr)]"
            default: return "base[\(o - RegisterFile.fsBase)]"
            }
        }.joined(separator: " ")
    }

    static func describe(addresses: [UInt64]) -> String {
        guard let first = addresses.first, let last = addresses.last else { return "" }
        return "\(addresses.count) bytes in 0x\(String(first, radix: 16))...0x\(String(last, radix: 16))"
    }

    static func names(_ ops: Set<Opcode>) -> String {
        ops.isEmpty ? "none" : ops.map(\.rawValue).sorted().joined(separator: " ")
    }
}
