// Guest input must never crash the interpreter: random machine code ends in a stop
// reason (fault, unsupported, limit ...), never a trap in the host.
import X86
import XCTest

final class RobustnessTests: XCTestCase {
    func testRandomCodeAlwaysEndsInAStopReason() throws {
        var generator = SplitMix64(seed: 0x5EED)
        let memory = GuestMemory()
        try memory.map(address: 0x10000, length: 0x1000, prot: [.read, .execute])
        try memory.map(address: 0x20000, length: 0x10000, prot: [.read, .write])
        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: NoDataFlow())
        var stops: [String: Int] = [:]
        var unsupportedMnemonics: [String: Int] = [:]
        for _ in 0..<5000 {
            let bytes = (0..<64).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            try memory.writeBytes(bytes, at: 0x10000)
            var s = CPUState()
            for r in GPR.allCases { s[r] = 0x20000 + (generator.next() & 0xFFF0) }
            s.rcx = generator.next() & 0xFF
            for i in 0..<16 { s[xmm: i] = XMMRegister(low: generator.next(), high: generator.next()) }
            s.rip = 0x10000
            machine.state = s
            var reason = machine.run(maxInstructions: 200)
            // Resume past syscalls and timestamp stops like a replayer would.
            var resumes = 0
            while (reason == .syscall || reason == .timestamp(rdtscp: false) || reason == .timestamp(rdtscp: true)) && resumes < 5 {
                reason = machine.run(maxInstructions: 200)
                resumes += 1
            }
            let key: String
            switch reason {
            case .fault(let signal, _, _): key = "fault \(signal)"
            case .unsupported(let info):
                key = "unsupported"
                unsupportedMnemonics[String(info.text.split(separator: " ").first ?? ""), default: 0] += 1
            default: key = "\(reason)"
            }
            stops[key, default: 0] += 1
        }
        XCTAssertGreaterThan(stops.count, 1)
        print("random code stops: \(stops.sorted { $0.key < $1.key })")
        print("unsupported: \(unsupportedMnemonics.sorted { $0.value > $1.value }.prefix(60).map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
    }
}

/// Small deterministic generator (SplitMix64) so failures reproduce.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
