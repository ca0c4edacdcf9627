// End to end: compile Fixtures/x86/checksum.c, run it natively and in the interpreter,
// compare what it writes. Also reports guest MIPS (meaningful in release builds).
import Foundation
import X86
import XCTest

final class EndToEndTests: XCTestCase {
    static var fixturesDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/x86")
    }

    /// Compiles a fixture into a temporary directory; binaries are never committed.
    static func compile(_ name: String, flags: [String]) throws -> (URL, URL) {
        let dir = try makeTemporaryDirectory()
        let output = dir.appendingPathComponent(name)
        try runTool("/usr/bin/gcc", flags + ["-o", output.path, fixturesDirectory.appendingPathComponent("\(name).c").path])
        return (dir, output)
    }

    /// Runs a loaded program, servicing write/exit and a few harmless calls.
    static func runGuest(_ machine: Machine<NoDataFlow>, memory: GuestMemory, limit: UInt64) throws -> (Data, Int32, StopReason?) {
        var output = Data()
        while true {
            let reason = machine.run(maxInstructions: limit)
            guard reason == .syscall else { return (output, -1, reason) }
            var s = machine.state
            switch s.rax {
            case 1:  // write
                output.append(contentsOf: try memory.readBytes(at: s.rsi, count: Int(s.rdx)))
                s.rax = s.rdx
            case 60, 231:  // exit, exit_group
                return (output, Int32(truncatingIfNeeded: s.rdi), nil)
            default:
                s.rax = UInt64(bitPattern: -38)  // ENOSYS
            }
            machine.state = s
        }
    }

    func testNostdlibChecksumFixtureMatchesNativeRun() throws {
        let (dir, binary) = try Self.compile("checksum", flags: ["-O2", "-static", "-nostdlib", "-fno-pie", "-no-pie", "-fno-stack-protector"])
        defer { try? FileManager.default.removeItem(at: dir) }
        #if DEBUG
        let rounds = "1"
        #else
        let rounds = "12"
        #endif
        let native = try runToolData(binary.path, [rounds])
        let memory = GuestMemory()
        let program = try TestElfLoader.load(binary.path, into: memory, arguments: ["checksum", rounds])
        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: NoDataFlow())
        var s = CPUState()
        s.rip = program.entry
        s.rsp = program.stackPointer
        machine.state = s
        let start = DispatchTime.now().uptimeNanoseconds
        let (output, status, stop) = try Self.runGuest(machine, memory: memory, limit: 20_000_000_000)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        XCTAssertNil(stop, "guest stopped early: \(String(describing: stop))")
        XCTAssertEqual(status, 0)
        XCTAssertEqual(output, native, "guest output matches the native run")
        let mips = Double(machine.instructionCount) / seconds / 1e6
        print("checksum fixture (\(rounds) rounds): \(machine.instructionCount) guest instructions in \(String(format: "%.3f", seconds)) s = \(String(format: "%.1f", mips)) M instr/s; \(machine.decodedInstructionCount) instructions decoded")
    }
}
