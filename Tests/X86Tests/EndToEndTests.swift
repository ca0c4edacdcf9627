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

    /// Just enough Linux for a static glibc program: brk, anonymous mmap, TLS, write, exit.
    final class MiniKernel {
        let memory: GuestMemory
        var programBreak: UInt64
        var nextMmap: UInt64 = 0x7000_0000_0000
        var output = Data()
        init(memory: GuestMemory, breakStart: UInt64) {
            self.memory = memory
            programBreak = breakStart
        }

        /// Performs the syscall in `state`; returns the exit status when the program exits.
        func handle(_ state: inout CPUState) throws -> Int32? {
            let enosys = UInt64(bitPattern: -38)
            let a0 = state.rdi, a1 = state.rsi, a2 = state.rdx, a3 = state[.r10]
            var result: UInt64 = 0
            switch state.rax {
            case 1: // write
                output.append(contentsOf: try memory.readBytes(at: a1, count: Int(a2)))
                result = a2
            case 12: // brk
                if a0 > programBreak {
                    let oldTop = (programBreak + 0xFFF) & ~0xFFF
                    let newTop = (a0 + 0xFFF) & ~0xFFF
                    if newTop > oldTop { try memory.map(address: oldTop, length: newTop - oldTop, prot: [.read, .write]) }
                    programBreak = a0
                }
                result = programBreak
            case 9: // mmap (anonymous only)
                let length = (a1 + 0xFFF) & ~0xFFF
                nextMmap -= length
                try memory.map(address: nextMmap, length: length, prot: [.read, .write])
                result = nextMmap
            case 11: // munmap
                try memory.unmap(address: a0, length: a1)
            case 10: // mprotect
                var prot: MemoryProtection = []
                if a2 & 1 != 0 { prot.insert(.read) }
                if a2 & 2 != 0 { prot.insert(.write) }
                if a2 & 4 != 0 { prot.insert(.execute) }
                try memory.protect(address: a0, length: a1, prot: prot)
            case 158: // arch_prctl
                if a0 == 0x1002 { state.fsBase = a1 } else { result = enosys }
            case 218: result = 1                        // set_tid_address
            case 273: result = 0                        // set_robust_list
            case 302: // prlimit64: report an 8 MiB stack
                if a3 != 0 {
                    try memory.writeBytes(withUnsafeBytes(of: (UInt64(8 << 20), UInt64.max)) { Array($0) }, at: a3)
                }
            case 318: // getrandom
                try memory.writeBytes((0..<Int(a1)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }, at: a0)
                result = a1
            case 16: result = UInt64(bitPattern: -25)   // ioctl: ENOTTY
            case 60, 231: return Int32(truncatingIfNeeded: a0)
            default: result = enosys                    // rseq, readlink, newfstatat, ...
            }
            state.rax = result
            return nil
        }
    }

    func testStaticGlibcProgramMatchesNativeRun() throws {
        let (dir, binary) = try Self.compile("libc_hello", flags: ["-O2", "-static"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let native = try runToolData(binary.path, [])
        let memory = GuestMemory()
        // argv[0] must match the native run's, which is the binary's path.
        let program = try TestElfLoader.load(binary.path, into: memory, arguments: [binary.path])
        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: NoDataFlow())
        let kernel = MiniKernel(memory: memory, breakStart: program.highestAddress)
        var s = CPUState()
        s.rip = program.entry
        s.rsp = program.stackPointer
        machine.state = s
        var status: Int32?
        while status == nil {
            let reason = machine.run(maxInstructions: 100_000_000)
            guard reason == .syscall else {
                return XCTFail("guest stopped: \(reason); output so far: \(String(decoding: kernel.output, as: UTF8.self))")
            }
            var t = machine.state
            status = try kernel.handle(&t)
            machine.state = t
        }
        XCTAssertEqual(status, 0)
        XCTAssertEqual(String(decoding: kernel.output, as: UTF8.self), String(decoding: native, as: UTF8.self))
        print("static glibc fixture: \(machine.instructionCount) guest instructions, \(machine.decodedInstructionCount) decoded")
    }
}
