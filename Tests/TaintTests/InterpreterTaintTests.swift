// The tracker driven by the real interpreter: a few instructions over input bytes, checked
// through the summary (flows, control sources, alerts).
@testable import Taint
import Trace
import X86
import XCTest

final class InterpreterTaintTests: XCTestCase {
    /// Assembled with GNU as (Intel syntax), code at 0x10000:
    /// ```
    ///  0: mov rax, qword ptr [rsi]        ; input A (event 100)
    ///  3: xor rax, qword ptr [rsi+8]      ; input B (event 101, bytes 0-7)
    ///  7: mov qword ptr [rdi], rax
    ///  a: movzx ecx, byte ptr [rsi+16]    ; event 101 byte 8
    ///  e: mov dl, byte ptr [rbx+rcx]      ; table lookup indexed by input
    /// 11: mov byte ptr [rdi+8], dl
    /// 14: cmp ecx, 5
    /// 17: jne 0x19                        ; input steers a branch
    /// 19: lea r8, [rip+8]
    /// 20: mov qword ptr [rdi+16], r8      ; clean output bytes
    /// 24: push qword ptr [rsi+24]         ; event 101 bytes 16-23: a code pointer
    /// 27: ret                             ; alert
    /// 28: hlt
    /// ```
    static let code: [UInt8] = [
        0x48, 0x8B, 0x06, 0x48, 0x33, 0x46, 0x08, 0x48, 0x89, 0x07, 0x0F, 0xB6,
        0x4E, 0x10, 0x8A, 0x14, 0x0B, 0x88, 0x57, 0x08, 0x83, 0xF9, 0x05, 0x75,
        0x00, 0x4C, 0x8D, 0x05, 0x08, 0x00, 0x00, 0x00, 0x4C, 0x89, 0x47, 0x10,
        0xFF, 0x76, 0x18, 0xC3, 0xF4,
    ]

    func testInterpreterPropagatesLabelsToFlowsControlSourcesAndAlerts() throws {
        let memory = GuestMemory()
        try memory.map(address: 0x10000, length: 0x1000, prot: [.read, .execute])
        try memory.writeBytes(Self.code, at: 0x10000)
        try memory.map(address: 0x20000, length: 0x3000, prot: [.read, .write])
        var input = [UInt8](repeating: 0x11, count: 32)
        input[16] = 3
        withUnsafeBytes(of: UInt64(0x10028).littleEndian) { input.replaceSubrange(24 ..< 32, with: $0) }
        try memory.writeBytes(input, at: 0x20000)

        let tracker = ByteTaintTracker()
        tracker.labelSource(event: 100, address: 0x20000, length: 8, eventOffset: 0, metadata: false)
        tracker.labelSource(event: 101, address: 0x20008, length: 24, eventOffset: 0, metadata: false)
        tracker.currentSequence = 102
        var alertTargets: [UInt64] = []
        tracker.onAlert = { alertTargets.append($1) }

        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: tracker)
        var s = CPUState()
        s.rip = 0x10000
        s.rsi = 0x20000
        s.rdi = 0x21000
        s.rbx = 0x21800  // the lookup table (clean)
        s.rsp = 0x23000
        machine.state = s
        XCTAssertEqual(machine.run(maxInstructions: 100), .halt)

        tracker.recordSink(event: 103, address: 0x21000, length: 24, eventOffset: 0)
        XCTAssertEqual(tracker.flows(of: tracker.log), [
            TaintFlow(output: 103, outputStart: 0, outputEnd: 8, input: 100, inputStart: 0, inputEnd: 8, shifted: true),
            // xor keeps bytes apart: byte k of the result came from byte k of each input.
            TaintFlow(output: 103, outputStart: 0, outputEnd: 8, input: 101, inputStart: 0, inputEnd: 8, shifted: true),
            TaintFlow(output: 103, outputStart: 8, outputEnd: 9, input: 101, inputStart: 8, inputEnd: 9, shifted: true, addressOnly: true),
        ])
        XCTAssertEqual(tracker.log.controlSources, [ControlSource(input: 101, firstSequence: 102)])
        XCTAssertEqual(alertTargets, [0x10028])
        XCTAssertEqual(tracker.log.alerts.count, 1)
        XCTAssertEqual(tracker.labels.byteRanges(tracker.log.alerts[0].label), [TaintByteRange(event: 101, start: 16, end: 24)])
    }
}
