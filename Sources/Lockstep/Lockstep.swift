// `magprov lockstep -- cmd`: single-steps the real process with ptrace beside the
// interpreter and compares RIP, the general registers, the defined RFLAGS bits and the
// XMM registers after every instruction, stopping at the first difference. This is the
// developer's differential check of the interpreter against the real CPU on whole
// programs. Single-threaded programs only: the interpreter follows the first process.
//
// Syscalls run for real; the interpreter takes their results (rax, the memory the
// kernel wrote, per the syscall table, and address-space changes read back from
// /proc/PID/maps). rdtsc executes natively and the interpreter takes its value.

import CSupport
import Foundation
import Recorder
import Replayer
import Syscalls
import Trace
import X86

public struct LockstepOptions: Sendable {
    public var command: [String]
    /// Stop after this many instructions even without a difference.
    public var maxInstructions: UInt64 = .max
    /// RFLAGS bits compared (default: CF PF ZF SF OF DF; AF is undefined for many ops).
    public var flagMask: UInt64 = RFlags.carry | RFlags.parity | RFlags.zero | RFlags.sign | RFlags.overflow | RFlags.direction
    public var compareXMM = true
    public init(command: [String]) { self.command = command }
}

public enum LockstepOutcome: Sendable {
    case agreed(instructions: UInt64, exitCode: Int32?)
    case differed(report: String, instructions: UInt64)
    case interpreterStopped(report: String, instructions: UInt64)
}

public final class Lockstep {
    let options: LockstepOptions
    public init(options: LockstepOptions) { self.options = options }

    public func run() throws -> LockstepOutcome {
        var environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let masked = Set(Recorder.featureMaskEnvironment.map { $0.prefix(while: { $0 != "=" }) })
        environment.removeAll { masked.contains($0.prefix(while: { $0 != "=" })) }
        environment += Recorder.featureMaskEnvironment
        let launched = try ProcessLauncher.launch(command: options.command, environment: environment,
                                                  cwd: FileManager.default.currentDirectoryPath, seccomp: false,
                                                  ptraceOptions: PtraceOption.traceExec | PtraceOption.exitKill)
        let pid = launched.pid
        let task = TaskAccess(tid: pid)
        // Run to the exec event: the new image, before its first instruction.
        while true {
            var status: Int32 = 0
            guard waitpid(pid, &status, __WALL) == pid else { throw LockstepError.lost("waitpid failed") }
            if mp_wifexited(status) != 0 { throw LockstepError.lost("the command exited before exec (not found?)") }
            if mp_wifstopped(status) != 0 && Int32(mp_ptrace_event(status)) == PtraceEvent.exec { break }
            let signal = mp_wstopsig(status)
            try task.resume(PtraceRequest.cont, signal: signal == SIGSTOP || signal == SIGTRAP || signal == SIGCONT ? 0 : signal)
        }
        var registers = try task.registers()
        let stack = StartupStack.read(task, stackPointer: registers[.rsp])
        if let auxv = stack.auxv { StartupStack.removeVDSO(task, auxv: auxv) }
        // The exec event comes from inside execve; one step finishes the syscall and stops
        // before the first instruction of the new image (with rax = 0).
        try task.resume(PtraceRequest.singleStep)
        var first: Int32 = 0
        guard waitpid(pid, &first, __WALL) == pid, mp_wifstopped(first) != 0 else { throw LockstepError.lost("no stop after exec") }
        registers = try task.registers()

        let machine = try Machine(memory: GuestMemory(), cpuid: Lockstep.hostCPUID(), tracker: NoDataFlow())
        machine.xcr0 = mp_xcr0()
        try syncAddressSpace(machine: machine, task: task, previous: [])
        var maps = readMaps(pid)
        var cpu = CPUState()
        cpu.load(registers)
        cpu.loadFXSAVE(task.fpRegisters())
        machine.state = cpu

        var steps: UInt64 = 0
        while steps < options.maxInstructions {
            let before = machine.state
            let stop = machine.run(maxInstructions: 1)
            let instructionBytes = (try? machine.memory.readBytes(at: before.rip, count: 15)) ?? []
            switch stop {
            case .unsupported(let u):
                return .interpreterStopped(report: "the interpreter does not implement \(u)", instructions: steps)
            case .fault(let signal, let address, _) where signal == GuestSignal.sigsegv && growStack(machine: machine, maps: &maps, to: address):
                // The kernel grows the stack on the real process's identical access.
                machine.state = before
                continue
            case .fault(let signal, let address, let rip):
                let near = readMaps(pid).filter { ($0.end > address &- (16 << 20) && $0.start < address &+ (16 << 20)) || $0.path == "[stack]" }
                    .map { "    0x\(String($0.start, radix: 16))-0x\(String($0.end, radix: 16)) \($0.path)" }
                return .interpreterStopped(report: "the interpreter faulted (signal \(signal), address 0x\(String(address, radix: 16))) at 0x\(String(rip, radix: 16)) [\(Lockstep.disassemble(instructionBytes, at: rip))]; the real process's mappings near it:\n" + near.joined(separator: "\n"), instructions: steps)
            case .halt:
                return .interpreterStopped(report: "hlt at 0x\(String(before.rip, radix: 16))", instructions: steps)
            default:
                break
            }
            // The real CPU executes the same instruction.
            try task.resume(PtraceRequest.singleStep)
            var status: Int32 = 0
            guard waitpid(pid, &status, __WALL) == pid else { throw LockstepError.lost("waitpid failed") }
            if mp_wifexited(status) != 0 || mp_wifsignaled(status) != 0 {
                return .agreed(instructions: steps + 1, exitCode: mp_wifexited(status) != 0 ? mp_wexitstatus(status) : nil)
            }
            let signal = mp_wstopsig(status)
            if signal != SIGTRAP {
                return .differed(report: "the real process stopped with signal \(signal) at instruction \(steps)", instructions: steps)
            }
            steps += 1
            var real = try task.registers()
            // A rep-prefixed string instruction traps after every iteration under
            // single-step (SDM vol. 3, 17.3.1.4); the interpreter runs it whole.
            let isRepeated = instructionBytes.prefix(4).contains { $0 == 0xf3 || $0 == 0xf2 }
                && real[.rip] == before.rip && machine.state.rip != before.rip
            if isRepeated {
                while real[.rip] == before.rip {
                    try task.resume(PtraceRequest.singleStep)
                    guard waitpid(pid, &status, __WALL) == pid, mp_wifstopped(status) != 0 else {
                        throw LockstepError.lost("the process ended inside a rep instruction")
                    }
                    real = try task.registers()
                }
            }
            var emulated = machine.state
            switch stop {
            case .syscall:
                emulated.rax = real[.rax]
                emulated.rcx = real[.rcx]
                emulated[.r11] = real[.r11]
                let number = Int(before.rax)
                let arguments = [before.rdi, before.rsi, before.rdx, before[.r10], before[.r8], before[.r9]]
                try copyKernelWrites(number: number, arguments: arguments, result: Int64(bitPattern: real[.rax]),
                                     task: task, machine: machine)
                if [SyscallTable.Number.archPrctl].contains(number) {
                    emulated.fsBase = real[.fsBase]
                    emulated.gsBase = real[.gsBase]
                }
                let newMaps = readMaps(pid)
                if newMaps != maps {
                    try syncAddressSpace(machine: machine, task: task, previous: maps)
                    maps = newMaps
                }
                machine.state = emulated
            case .timestamp:
                emulated.rax = real[.rax]
                emulated.rdx = real[.rdx]
                emulated.rcx = real[.rcx]
                machine.state = emulated
            default:
                if instructionBytes.starts(with: [0x0f, 0xa2]) {
                    // cpuid: leaf 1's EBX and the topology leaves carry the APIC id of the
                    // core the process happens to run on; take the CPU's answer.
                    emulated.rax = real[.rax]; emulated.rbx = real[.rbx]
                    emulated.rcx = real[.rcx]; emulated.rdx = real[.rdx]
                    machine.state = emulated
                }
            }
            let text = Lockstep.disassemble(instructionBytes, at: before.rip)
            let defined = RFlags.defined(afterInstruction: text)
            if defined != RFlags.arithmetic | RFlags.direction {
                // Take the CPU's values of the undefined flags so they do not show up as
                // differences at later instructions that leave flags alone.
                var synced = machine.state
                let undefined = RFlags.arithmetic & ~defined
                synced.rflags = (synced.rflags & ~undefined) | (real[.eflags] & undefined)
                machine.state = synced
            }
            if let difference = compare(emulated: machine.state, real: real, task: task,
                                        flagMask: options.flagMask & defined) {
                return .differed(report: "after instruction \(steps) at 0x\(String(before.rip, radix: 16)) [\(text)]:\n\(difference)",
                                 instructions: steps)
            }
        }
        kill(pid, SIGKILL)
        return .agreed(instructions: steps, exitCode: nil)
    }

    private func compare(emulated e: CPUState, real r: Trace.RegisterFile, task: TaskAccess, flagMask: UInt64) -> String? {
        var lines: [String] = []
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        if e.rip != r[.rip] { lines.append("  rip: interpreter \(hex(e.rip)), cpu \(hex(r[.rip]))") }
        let names: [(GPR, Trace.RegisterFile.Index)] = [
            (.rax, .rax), (.rcx, .rcx), (.rdx, .rdx), (.rbx, .rbx), (.rsp, .rsp), (.rbp, .rbp), (.rsi, .rsi), (.rdi, .rdi),
            (.r8, .r8), (.r9, .r9), (.r10, .r10), (.r11, .r11), (.r12, .r12), (.r13, .r13), (.r14, .r14), (.r15, .r15),
        ]
        for (g, i) in names where e[g] != r[i] {
            lines.append("  \(g): interpreter \(hex(e[g])), cpu \(hex(r[i]))")
        }
        if e.rflags & flagMask != r[.eflags] & flagMask {
            lines.append("  rflags (compared bits \(hex(flagMask))): interpreter \(hex(e.rflags)), cpu \(hex(r[.eflags]))")
        }
        if e.fsBase != r[.fsBase] { lines.append("  fs_base: interpreter \(hex(e.fsBase)), cpu \(hex(r[.fsBase]))") }
        if options.compareXMM {
            let fx = task.fpRegisters()
            if fx.count >= 416 {
                for i in 0..<16 {
                    let low = fx.loadUInt64(at: 160 + i * 16), high = fx.loadUInt64(at: 168 + i * 16)
                    let x = e[xmm: i]
                    if x.low != low || x.high != high {
                        lines.append("  xmm\(i): interpreter \(hex(x.high)):\(hex(x.low)), cpu \(hex(high)):\(hex(low))")
                    }
                }
                let mxcsr = fx.loadUInt32(at: 24)
                if e.mxcsr & 0xffc0 != mxcsr & 0xffc0 { lines.append("  mxcsr control: interpreter \(hex(UInt64(e.mxcsr))), cpu \(hex(UInt64(mxcsr)))") }
            }
        }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    private func copyKernelWrites(number: Int, arguments: [UInt64], result: Int64, task: TaskAccess, machine: Machine<NoDataFlow>) throws {
        let spec = SyscallTable.spec(number)
        // Entry lengths are gone by now; the exit values bound the ranges well enough here.
        for region in spec.outputRegions(arguments: arguments, result: result, entry: EntryState(), memory: task) {
            if let bytes = task.readBytes(at: region.address, count: region.length) {
                try? machine.memory.writeBytes(bytes, at: region.address)
            }
        }
    }

    /// Brings guest memory in line with /proc/PID/maps: new or changed ranges are mapped
    /// and copied from the real process, vanished ranges unmapped.
    private func syncAddressSpace(machine: Machine<NoDataFlow>, task: TaskAccess, previous: [MapsEntry]) throws {
        let current = readMaps(task.tid)
        let old = Set(previous)
        for entry in previous where !current.contains(entry) {
            try? machine.memory.unmap(address: entry.start, length: entry.end - entry.start)
            machine.invalidate(range: entry.start..<entry.end)
        }
        for entry in current where !old.contains(entry) {
            if entry.path == "[vvar]" || entry.path == "[vsyscall]" || entry.path == "[vvar_vclock]" { continue }
            try? machine.memory.unmap(address: entry.start, length: entry.end - entry.start)
            try machine.memory.map(address: entry.start, length: entry.end - entry.start, prot: MemoryProtection(rawValue: UInt8(entry.protection)))
            var address = entry.start
            while address < entry.end {
                let length = Int(min(1 << 20, entry.end - address))
                guard let bytes = task.readViaProcMem(at: address, count: length) else { break }
                try machine.memory.writeBytes(bytes, at: address)
                address += UInt64(length)
            }
            machine.invalidate(range: entry.start..<entry.end)
        }
    }

    /// Maps the pages between a fault just below `[stack]` and the stack, as the kernel
    /// does on the real process's identical access (see RegionMap.growStack).
    private func growStack(machine: Machine<NoDataFlow>, maps: inout [MapsEntry], to address: UInt64) -> Bool {
        guard let index = maps.firstIndex(where: { $0.path == "[stack]" }) else { return false }
        let page = address & ~4095, stack = maps[index]
        guard page < stack.start, stack.end - page <= 8 << 20,
              (try? machine.memory.map(address: page, length: stack.start - page, prot: MemoryProtection(rawValue: UInt8(stack.protection)))) != nil
        else { return false }
        maps[index].start = page
        return true
    }

    struct MapsEntry: Hashable { var start: UInt64; var end: UInt64; var protection: UInt32; var path: String }

    private func readMaps(_ pid: Int32) -> [MapsEntry] {
        guard let text = readProcFile("/proc/\(pid)/maps") else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard f.count >= 5 else { return nil }
            let range = f[0].split(separator: "-")
            guard range.count == 2, let s = UInt64(range[0], radix: 16), let e = UInt64(range[1], radix: 16) else { return nil }
            let p = Array(f[1].utf8)
            let prot = (p[0] == UInt8(ascii: "r") ? 1 : 0) | (p[1] == UInt8(ascii: "w") ? 2 : 0) | (p[2] == UInt8(ascii: "x") ? 4 : 0)
            return MapsEntry(start: s, end: e, protection: UInt32(prot), path: f.count > 5 ? String(f[5]).trimmingCharacters(in: .whitespaces) : "")
        }
    }

    static func hostCPUID() -> CPUIDTable {
        CPUIDTable(recorded: Recorder.cpuidLeaves())
    }

    static func disassemble(_ bytes: [UInt8], at address: UInt64) -> String {
        InstructionText.describe(bytes, at: address)
    }
}

public enum LockstepError: Error, CustomStringConvertible {
    case lost(String)
    public var description: String {
        switch self { case .lost(let why): return "lockstep lost the process: \(why)" }
    }
}
