// End to end: compile Fixtures/x86/checksum.c, run it natively and in the interpreter,
// compare what it writes. Also reports guest MIPS (meaningful in release builds).
import FixtureSupport
import Foundation
import X86
import XCTest

final class EndToEndTests: XCTestCase {
    /// `Fixtures/x86/NAME.c`, built by the shared FixtureCompiler (never committed).
    static func compile(_ name: String, flags: [String]) throws -> URL {
        URL(fileURLWithPath: try FixtureCompiler.build("x86/\(name).c", flags: flags))
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
        let binary = try Self.compile("checksum", flags: ["-O2", "-static", "-nostdlib", "-fno-pie", "-no-pie", "-fno-stack-protector"])
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
        let cpuStart = threadCPUSeconds()
        let (output, status, stop) = try Self.runGuest(machine, memory: memory, limit: 20_000_000_000)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpuSeconds = threadCPUSeconds() - cpuStart
        XCTAssertNil(stop, "guest stopped early: \(String(describing: stop))")
        XCTAssertEqual(status, 0)
        XCTAssertEqual(output, native, "guest output matches the native run")
        let mips = Double(machine.instructionCount) / seconds / 1e6
        print("checksum fixture (\(rounds) rounds): \(machine.instructionCount) guest instructions in \(String(format: "%.3f", seconds)) s = \(String(format: "%.1f", mips)) M instr/s wall, \(String(format: "%.1f", Double(machine.instructionCount) / cpuSeconds / 1e6)) M instr/s per CPU-second; \(machine.decodedInstructionCount) instructions decoded")
    }

    func testStaticGlibcProgramMatchesNativeRun() throws {
        let binary = try Self.compile("libc_hello", flags: ["-O2", "-static"])
        let native = try runToolData(binary.path, [])
        let memory = GuestMemory()
        // argv[0] must match the native run's, which is the binary's path.
        let program = try TestElfLoader.load(binary.path, into: memory, arguments: [binary.path])
        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: NoDataFlow())
        let kernel = TestKernel(memory: memory, breakStart: program.highestAddress)
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

    /// Real /usr/bin/gzip (dynamically linked: ld.so, libc.so.6) compressing 300 KB of
    /// python3's binary from stdin; the output must equal native `gzip -n -c`.
    func testDynamicGzipCompressesLikeTheNativeRun() throws {
        let gzip = "/usr/bin/gzip"
        guard FileManager.default.fileExists(atPath: gzip), FileManager.default.fileExists(atPath: "/usr/bin/python3") else {
            throw XCTSkip("gzip or python3 not installed")
        }
        #if DEBUG
        let inputSize = 20_000
        #else
        let inputSize = 3_000_000
        #endif
        let python = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "/usr/bin/python3")))
        var input = [UInt8]()
        while input.count < inputSize { input += python.prefix(inputSize - input.count) }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inputFile = dir.appendingPathComponent("input")
        try Data(input).write(to: inputFile)
        let native = try runToolData("/bin/sh", ["-c", "\(gzip) -n -c < \(inputFile.path)"])

        let memory = GuestMemory()
        let program = try TestElfLoader.load(gzip, into: memory, arguments: ["gzip", "-n", "-c"])
        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: NoDataFlow())
        let kernel = TestKernel(memory: memory, breakStart: program.highestAddress)
        kernel.standardInput = input
        var s = CPUState()
        s.rip = program.entry
        s.rsp = program.stackPointer
        machine.state = s
        let start = DispatchTime.now().uptimeNanoseconds
        let cpuStart = threadCPUSeconds()
        var status: Int32?
        while status == nil {
            let reason = machine.run(maxInstructions: 10_000_000_000)
            if case .timestamp = reason {
                // ld.so reads the TSC for its startup timing; any increasing value works.
                var t = machine.state
                t.rax = machine.instructionCount & 0xFFFF_FFFF
                t.rdx = machine.instructionCount >> 32
                machine.state = t
                continue
            }
            guard reason == .syscall else {
                return XCTFail("guest stopped: \(reason) after \(machine.instructionCount) instructions; calls: \(kernel.log.suffix(8))")
            }
            var t = machine.state
            status = try kernel.handle(&t)
            machine.state = t
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpuSeconds = threadCPUSeconds() - cpuStart
        XCTAssertEqual(status, 0, "stderr: \(String(decoding: kernel.errorOutput, as: UTF8.self)); calls: \(kernel.log.suffix(30))")
        XCTAssertEqual(kernel.output, native, "compressed output matches native gzip")
        let mips = Double(machine.instructionCount) / seconds / 1e6
        print("gzip -c of \(inputSize) bytes: \(machine.instructionCount) guest instructions in \(String(format: "%.3f", seconds)) s = \(String(format: "%.1f", mips)) M instr/s wall, \(String(format: "%.1f", Double(machine.instructionCount) / cpuSeconds / 1e6)) M instr/s per CPU-second; \(machine.decodedInstructionCount) decoded")
    }

    /// Real /usr/bin/python3 (dynamically linked, imports its encodings from the stdlib
    /// through the test kernel) computing a small sum; output compared with native.
    func testPythonComputesLikeTheNativeRun() throws {
        let python = "/usr/bin/python3"
        guard FileManager.default.fileExists(atPath: python) else { throw XCTSkip("python3 not installed") }
        let script = "import sys; print(sum(i * i for i in range(3000)), 2 ** 100 // 7, 1 / 3, sorted('interpreter'), sys.byteorder)"
        let native = try runToolData(python, ["-I", "-S", "-c", script])
        let memory = GuestMemory()
        let program = try TestElfLoader.load(python, into: memory, arguments: [python, "-I", "-S", "-c", script])
        let machine = try Machine(memory: memory, cpuid: .baseline, tracker: NoDataFlow())
        let kernel = TestKernel(memory: memory, breakStart: program.highestAddress)
        var s = CPUState()
        s.rip = program.entry
        s.rsp = program.stackPointer
        machine.state = s
        let start = DispatchTime.now().uptimeNanoseconds
        let cpuStart = threadCPUSeconds()
        var status: Int32?
        while status == nil {
            let reason = machine.run(maxInstructions: 10_000_000_000)
            if case .timestamp = reason {
                var t = machine.state
                t.rax = machine.instructionCount & 0xFFFF_FFFF
                t.rdx = machine.instructionCount >> 32
                machine.state = t
                continue
            }
            guard reason == .syscall else {
                return XCTFail("guest stopped: \(reason) after \(machine.instructionCount) instructions; calls: \(kernel.log.suffix(12))")
            }
            var t = machine.state
            status = try kernel.handle(&t)
            machine.state = t
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpuSeconds = threadCPUSeconds() - cpuStart
        XCTAssertEqual(status, 0, "stderr: \(String(decoding: kernel.errorOutput, as: UTF8.self))")
        XCTAssertEqual(String(decoding: kernel.output, as: UTF8.self), String(decoding: native, as: UTF8.self))
        let mips = Double(machine.instructionCount) / seconds / 1e6
        print("python3: \(machine.instructionCount) guest instructions in \(String(format: "%.3f", seconds)) s = \(String(format: "%.1f", mips)) M instr/s wall, \(String(format: "%.1f", Double(machine.instructionCount) / cpuSeconds / 1e6)) M instr/s per CPU-second; \(machine.decodedInstructionCount) decoded")
    }
}
