// Differential test harness: assemble snippets with GNU as, run them natively through the
// X86TestSupport trampoline and in the interpreter from the same state, compare.
import Foundation
import X86
import X86TestSupport
import XCTest

enum HarnessError: Error, CustomStringConvertible {
    case toolFailed(String, String)
    case symbolMissing(String)
    var description: String {
        switch self {
        case .toolFailed(let tool, let output): return "\(tool) failed: \(output)"
        case .symbolMissing(let s): return "symbol \(s) missing from nm output"
        }
    }
}

/// Runs a command, returns stdout; throws with stderr on failure.
@discardableResult
func runTool(_ path: String, _ arguments: [String]) throws -> String {
    String(decoding: try runToolData(path, arguments), as: UTF8.self)
}

/// Runs a command, returns its raw stdout; throws with stderr on failure.
func runToolData(_ path: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw HarnessError.toolFailed(([path] + arguments).joined(separator: " "), String(decoding: errData, as: UTF8.self))
    }
    return outData
}

func makeTemporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("magprov-x86-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Assembles Intel-syntax snippets in one `as` run; returns each snippet's bytes.
enum Assembler {
    static func assemble(_ snippets: [String]) throws -> [[UInt8]] {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var source = ".intel_syntax noprefix\n.text\n"
        for (i, s) in snippets.enumerated() { source += "snip\(i):\n\(s)\n" }
        source += "snipEnd:\n"
        let src = dir.appendingPathComponent("s.s").path
        let obj = dir.appendingPathComponent("s.o").path
        let bin = dir.appendingPathComponent("s.bin").path
        try source.write(toFile: src, atomically: true, encoding: .utf8)
        try runTool("/usr/bin/as", ["--64", "-o", obj, src])
        try runTool("/usr/bin/objcopy", ["-O", "binary", "-j", ".text", obj, bin])
        let symbols = try runTool("/usr/bin/nm", [obj])
        var offsets: [String: Int] = [:]
        for line in symbols.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 3, let v = Int(parts[0], radix: 16) { offsets[String(parts[2])] = v }
        }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bin)))
        var result: [[UInt8]] = []
        for i in 0..<snippets.count {
            guard let start = offsets["snip\(i)"] else { throw HarnessError.symbolMissing("snip\(i)") }
            guard let end = offsets[i + 1 < snippets.count ? "snip\(i + 1)" : "snipEnd"] else { throw HarnessError.symbolMissing("end") }
            result.append(Array(bytes[start..<min(end, bytes.count)]))
        }
        return result
    }

    static func assemble(_ snippet: String) throws -> [UInt8] { try assemble([snippet])[0] }
}

/// Register image shared by both runs.
struct TestState: Equatable {
    var gpr = [UInt64](repeating: 0, count: 16)
    var rflags: UInt64 = 0x202
    var xmm = [UInt64](repeating: 0, count: 32)
    var mxcsr: UInt32 = 0x1F80
    var fcw: UInt16 = 0x37F
    /// Load, run with and compare the upper YMM halves too (AVX tests; needs an AVX CPU).
    var avx = false
    /// Bits 255:128 of ymm0-15: ymm0 bits 191:128, 255:192, ymm1 ...
    var ymmHigh = [UInt64](repeating: 0, count: 32)
    /// FS base the interpreter uses; the native run keeps the thread's own
    /// (`NativeRunner.fsBase`), so tests of `fs:` operands set this to that.
    var fsBase: UInt64 = 0

    static let registerNames = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]

    /// A state with distinct recognizable values in every register, RSP on the test stack.
    static func patterned(seed: UInt64 = 1) -> TestState {
        var s = TestState()
        for i in 0..<16 { s.gpr[i] = 0x0101_0101_0101_0101 &* UInt64(i + 1) &+ seed &* 0x9E37_79B9_7F4A_7C15 }
        s.gpr[4] = TestLayout.stackTop
        for i in 0..<32 { s.xmm[i] = 0x1111_1111_1111_1111 &* UInt64(i % 15 + 1) ^ seed }
        for i in 0..<32 { s.ymmHigh[i] = 0x0123_4567_89AB_CDEF &* UInt64(i + 3) ^ (seed << 8) }
        return s
    }
}

/// Fixed addresses both the native run and the interpreter use.
enum TestLayout {
    static let codeAddress: UInt64 = 0x6000_0000
    static let codeSize = 0x1_0000
    static let dataAddress: UInt64 = 0x6100_0000
    static let dataSize = 0x1_0000
    /// Bytes compared after a run (below the stack area).
    static let comparedDataSize = 0x2000
    static let stackTop: UInt64 = dataAddress + 0xFF00
}

enum NativeRunner {
    static let mapped: Bool = {
        x86ts_map_fixed(TestLayout.codeAddress, TestLayout.codeSize) != nil
            && x86ts_map_fixed(TestLayout.dataAddress, TestLayout.dataSize) != nil
    }()

    /// The test thread's FS base, which native snippets address `fs:` operands through.
    static var fsBase: UInt64 { x86ts_fs_base() }

    static func run(_ code: [UInt8], _ state: TestState, data: [UInt8]) -> (TestState, [UInt8]) {
        precondition(mapped, "could not map the fixed test pages")
        let dataPointer = UnsafeMutableRawPointer(bitPattern: UInt(TestLayout.dataAddress))!
        dataPointer.initializeMemory(as: UInt8.self, repeating: 0, count: TestLayout.dataSize)
        data.withUnsafeBytes { dataPointer.copyMemory(from: $0.baseAddress!, byteCount: min($0.count, TestLayout.dataSize)) }
        var c = x86ts_state()
        withUnsafeMutableBytes(of: &c.gpr) { raw in for i in 0..<16 { raw.storeBytes(of: state.gpr[i], toByteOffset: i * 8, as: UInt64.self) } }
        withUnsafeMutableBytes(of: &c.xmm) { raw in for i in 0..<32 { raw.storeBytes(of: state.xmm[i], toByteOffset: i * 8, as: UInt64.self) } }
        c.rflags = state.rflags
        c.mxcsr = state.mxcsr
        c.fcw = state.fcw
        c.avx = state.avx ? 1 : 0
        withUnsafeMutableBytes(of: &c.ymmh) { raw in for i in 0..<32 { raw.storeBytes(of: state.ymmHigh[i], toByteOffset: i * 8, as: UInt64.self) } }
        code.withUnsafeBufferPointer { x86ts_run(&c, TestLayout.codeAddress, $0.baseAddress, $0.count) }
        var out = TestState()
        withUnsafeBytes(of: c.gpr) { raw in for i in 0..<16 { out.gpr[i] = raw.load(fromByteOffset: i * 8, as: UInt64.self) } }
        withUnsafeBytes(of: c.xmm) { raw in for i in 0..<32 { out.xmm[i] = raw.load(fromByteOffset: i * 8, as: UInt64.self) } }
        out.rflags = c.rflags
        out.mxcsr = c.mxcsr
        out.fcw = c.fcw
        out.avx = state.avx
        if state.avx {
            withUnsafeBytes(of: c.ymmh) { raw in for i in 0..<32 { out.ymmHigh[i] = raw.load(fromByteOffset: i * 8, as: UInt64.self) } }
        }
        let after = Array(UnsafeRawBufferPointer(start: dataPointer, count: TestLayout.comparedDataSize))
        return (out, after)
    }
}

/// Runs snippets in the interpreter at the same addresses as the native run.
final class EmulatedRunner {
    let memory = GuestMemory()
    let machine: Machine<NoDataFlow>
    let codeLength: Int

    /// `writableCode`: map the code read/write/execute, as the native run does, for
    /// snippets that patch themselves.
    init(_ code: [UInt8], writableCode: Bool = false) throws {
        try memory.map(address: TestLayout.codeAddress, length: UInt64(TestLayout.codeSize),
                       prot: writableCode ? [.read, .write, .execute] : [.read, .execute])
        try memory.map(address: TestLayout.dataAddress, length: UInt64(TestLayout.dataSize), prot: [.read, .write])
        try memory.writeBytes(code + [0xF4], at: TestLayout.codeAddress)  // hlt marks the end
        codeLength = code.count
        machine = try Machine(memory: memory, cpuid: .baseline, tracker: NoDataFlow())
    }

    func run(_ state: TestState, data: [UInt8], limit: UInt64 = 1_000_000) throws -> (TestState, [UInt8], StopReason) {
        // Only the compared window is reset; snippets must not read data beyond it.
        var window = [UInt8](repeating: 0, count: TestLayout.comparedDataSize)
        window.replaceSubrange(0..<min(data.count, window.count), with: data.prefix(window.count))
        try memory.writeBytes(window, at: TestLayout.dataAddress)
        var s = CPUState()
        for i in 0..<16 { s[GPR(rawValue: i)!] = state.gpr[i] }
        for i in 0..<16 { s[xmm: i] = XMMRegister(low: state.xmm[2 * i], high: state.xmm[2 * i + 1]) }
        for i in 0..<16 where state.avx { s[ymmHigh: i] = XMMRegister(low: state.ymmHigh[2 * i], high: state.ymmHigh[2 * i + 1]) }
        s.rflags = state.rflags
        s.mxcsr = state.mxcsr
        s.x87.controlWord = state.fcw
        s.fsBase = state.fsBase
        s.rip = TestLayout.codeAddress
        machine.state = s
        // xsave's requested-feature bitmap is EDX:EAX & XCR0: AVX tests enable component 2.
        machine.xcr0 = state.avx ? 7 : 3
        let reason = machine.run(maxInstructions: limit)
        let r = machine.state
        var out = TestState()
        for i in 0..<16 { out.gpr[i] = r[GPR(rawValue: i)!] }
        for i in 0..<16 { out.xmm[2 * i] = r[xmm: i].low; out.xmm[2 * i + 1] = r[xmm: i].high }
        out.avx = state.avx
        for i in 0..<16 where state.avx { out.ymmHigh[2 * i] = r[ymmHigh: i].low; out.ymmHigh[2 * i + 1] = r[ymmHigh: i].high }
        out.rflags = r.rflags
        out.mxcsr = r.mxcsr
        out.fcw = r.x87.controlWord
        let after = try memory.readBytes(at: TestLayout.dataAddress, count: TestLayout.comparedDataSize)
        return (out, after, reason)
    }
}

/// Which state a differential check compares.
struct Comparison {
    /// RFLAGS bits compared (status flags the SDM defines for the instruction, plus DF).
    var flags: UInt64 = RFlags.arithmetic | RFlags.direction
    var compareXMM = true
    var compareMemory = true
    var compareMXCSR = true

    static let all = Comparison()
    static func flagsExcept(_ undefined: UInt64) -> Comparison {
        Comparison(flags: (RFlags.arithmetic | RFlags.direction) & ~undefined)
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// Runs one snippet natively and emulated from each input state; reports differences.
/// Returns the number of cases compared.
@discardableResult
func differential(_ source: String, code: [UInt8]? = nil, inputs: [TestState], data: [UInt8] = [],
                  compare: Comparison = .all, cpuid: CPUIDTable = .baseline, writableCode: Bool = false,
                  file: StaticString = #filePath, line: UInt = #line) throws -> Int {
    let bytes = try code ?? Assembler.assemble(source)
    let emulator = try EmulatedRunner(bytes, writableCode: writableCode)
    emulator.machine.cpuid = cpuid
    var failures = 0
    for input in inputs {
        let (native, nativeData) = NativeRunner.run(bytes, input, data: data)
        let (emulated, emulatedData, reason) = try emulator.run(input, data: data)
        var problems: [String] = []
        if reason != .halt { problems.append("stopped with \(reason)") }
        let expectedRIP = TestLayout.codeAddress + UInt64(bytes.count) + 1
        if emulator.machine.state.rip != expectedRIP {
            problems.append("rip \(hex(emulator.machine.state.rip)) expected \(hex(expectedRIP))")
        }
        for i in 0..<16 where native.gpr[i] != emulated.gpr[i] {
            problems.append("\(TestState.registerNames[i]) native \(hex(native.gpr[i])) emulated \(hex(emulated.gpr[i]))")
        }
        if native.rflags & compare.flags != emulated.rflags & compare.flags {
            problems.append("rflags native \(hex(native.rflags & compare.flags)) emulated \(hex(emulated.rflags & compare.flags))")
        }
        if compare.compareXMM {
            for i in 0..<32 where native.xmm[i] != emulated.xmm[i] {
                problems.append("xmm\(i / 2).\(i % 2 == 0 ? "lo" : "hi") native \(hex(native.xmm[i])) emulated \(hex(emulated.xmm[i]))")
            }
        }
        if compare.compareXMM && input.avx {
            for i in 0..<32 where native.ymmHigh[i] != emulated.ymmHigh[i] {
                problems.append("ymm\(i / 2) bits \(i % 2 == 0 ? "191:128" : "255:192") native \(hex(native.ymmHigh[i])) emulated \(hex(emulated.ymmHigh[i]))")
            }
        }
        if compare.compareMXCSR && native.mxcsr != emulated.mxcsr {
            problems.append("mxcsr native \(hex(UInt64(native.mxcsr))) emulated \(hex(UInt64(emulated.mxcsr)))")
        }
        let memoryDiffers = nativeData.withUnsafeBytes { a in emulatedData.withUnsafeBytes { b in
            a.count != b.count || memcmp(a.baseAddress!, b.baseAddress!, a.count) != 0 } }
        if compare.compareMemory && memoryDiffers {
            let i = nativeData.indices.first { nativeData[$0] != emulatedData[$0] } ?? 0
            problems.append("memory differs first at data+\(hex(UInt64(i))): native \(nativeData[i]) emulated \(emulatedData[i])")
        }
        if !problems.isEmpty {
            failures += 1
            if failures <= 3 {
                let regs = (0..<16).map { "\(TestState.registerNames[$0])=\(hex(input.gpr[$0]))" }.joined(separator: " ")
                XCTFail("`\(source.replacingOccurrences(of: "\n", with: "; "))` from \(regs) rflags=\(hex(input.rflags)): " + problems.joined(separator: "; "),
                        file: file, line: line)
            }
        }
    }
    if failures > 3 { XCTFail("`\(source)`: \(failures) of \(inputs.count) cases differ", file: file, line: line) }
    return inputs.count
}

/// Integer edge values at every width (SDM-style boundary cases).
let edgeValues: [UInt64] = [
    0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
    0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF,
    0x1234_5678_9ABC_DEF0, 0xFEDC_BA98_7654_3210,
]

/// States with rax/rbx (and rcx, rdx when asked) drawn from the edge values, each with
/// CF clear and set.
func edgeStates(registers: [GPR] = [.rax, .rbx], values: [UInt64] = edgeValues, flags: [UInt64] = [0x202, 0x203]) -> [TestState] {
    var states: [TestState] = []
    func fill(_ index: Int, _ state: TestState) {
        if index == registers.count {
            for f in flags {
                var s = state
                s.rflags = f
                states.append(s)
            }
            return
        }
        for v in values {
            var s = state
            s.gpr[registers[index].rawValue] = v
            fill(index + 1, s)
        }
    }
    fill(0, TestState.patterned())
    return states
}

/// CPU time of the calling thread: throughput figures stay meaningful when other jobs
/// share the machine's two cores (wall time does not).
func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
