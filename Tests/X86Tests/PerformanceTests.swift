// Interpreter throughput on a byte-checksum loop (the shape of gzip's inner loops).
// Run with `swift test -c release --filter PerformanceTests` for a meaningful figure.
import Foundation
import X86
import XCTest

final class PerformanceTests: XCTestCase {
    func testChecksumLoopThroughputAndResult() throws {
        #if DEBUG
        let iterations: UInt64 = 200_000
        #else
        let iterations: UInt64 = 50_000_000
        #endif
        let code = try Assembler.assemble("""
            xor eax, eax
            mov rcx, rdi
            1:
            movzx edx, byte ptr [rsi + rcx]
            imul eax, eax, 31
            add eax, edx
            sub rcx, 1
            jnz 1b
            hlt
            """)
        let memory = GuestMemory()
        try memory.map(address: 0x40_0000, length: 0x1000, prot: [.read, .execute])
        try memory.writeBytes(code, at: 0x40_0000)
        let dataSize: UInt64 = 1 << 20
        try memory.map(address: 0x100_0000, length: dataSize, prot: [.read, .write])
        let bytes = (0..<Int(dataSize)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        try memory.writeBytes(bytes, at: 0x100_0000)
        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: NoDataFlow())
        var state = CPUState()
        state.rip = 0x40_0000
        // Walk the 1 MiB buffer repeatedly: index = rcx & (dataSize-1) is not expressible
        // cheaply, so start rsi at the buffer and keep rcx < dataSize per pass.
        let pass = min(iterations, dataSize - 1)
        state.rdi = pass
        state.rsi = 0x100_0000
        machine.state = state
        var expected: UInt32 = 0
        for i in stride(from: Int(pass), to: 0, by: -1) { expected = expected &* 31 &+ UInt32(bytes[i]) }
        let passes = iterations / pass
        let start = DispatchTime.now().uptimeNanoseconds
        let cpuStart = threadCPUSeconds()
        var total: UInt64 = 0
        for _ in 0..<passes {
            var s = machine.state
            s.rip = 0x40_0000
            s.rdi = pass
            machine.state = s
            let before = machine.instructionCount
            let reason = machine.run(maxInstructions: .max)
            XCTAssertEqual(reason, .halt)
            total += machine.instructionCount - before
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpuSeconds = threadCPUSeconds() - cpuStart
        XCTAssertEqual(UInt32(truncatingIfNeeded: machine.state.rax), expected)
        let mips = Double(total) / seconds / 1e6
        print("checksum loop: \(total) guest instructions in \(String(format: "%.3f", seconds)) s = \(String(format: "%.1f", mips)) M instr/s wall, \(String(format: "%.1f", Double(total) / cpuSeconds / 1e6)) M instr/s per CPU-second")
    }
}
