// Calls into the legacy vsyscall page (0xffffffffff600000, +0x400, +0x800).
//
// Linux maps the page execute-only (vsyscall=xonly, the default) or not at all, and a call
// to one of its three entry points faults into emulate_vsyscall
// (arch/x86/entry/vsyscall/vsyscall_64.c), which runs gettimeofday, time or getcpu on the
// caller's registers and then emulates the `ret`. It runs seccomp first, with orig_ax the
// syscall number and ip still the entry point, so magprov's filter stops it like any
// syscall (PTRACE_EVENT_SECCOMP). But that is all a tracer sees: no syscall-exit stop
// follows, the tracer may not change the number or ip (the kernel kills the task with
// SIGSYS), and the only other choice it has is to skip the call (orig_ax = -1), in which
// case the kernel returns rax as the tracer left it and still emulates the `ret`.
//
// So the supervisor answers these calls itself: it takes the time (or the task's CPU),
// writes what the kernel would have written through the caller's pointers, skips the call
// with that result in rax and records an ordinary syscall event with those writes, which
// replay injects like any other (the interpreter stops at such a call as that syscall:
// X86/Machine.swift, `enterVsyscall`).

import CSupport
import Glibc
import Syscalls
import Trace

extension Supervisor {
    /// The syscall each vsyscall entry point stands for, by entry address.
    static let vsyscallEntries: [UInt64: Int] = [
        0xFFFF_FFFF_FF60_0000: 96,   // gettimeofday
        0xFFFF_FFFF_FF60_0400: 201,  // time
        0xFFFF_FFFF_FF60_0800: 309,  // getcpu
    ]

    /// A seccomp stop whose instruction pointer is a vsyscall entry point: answers it as
    /// the kernel's emulation would and records it.
    /// - Returns: false when the stop is no vsyscall (the caller handles it as a syscall),
    ///   true when it was handled and the task resumed.
    /// - Throws: `PtraceFailure` when the task's registers cannot be read or written.
    func emulateVsyscall(_ task: TracedTask, info: mp_syscall_info, arguments: [UInt64]) throws -> Bool {
        guard let number = Supervisor.vsyscallEntries[info.instruction_pointer], Int(info.nr) == number else { return false }
        var regs = try task.access.registers()
        guard let returnAddress = task.access.readUInt64(at: regs[.rsp]) else { return false }
        var result: Int64
        var writes: [MemoryWrite] = []
        if !task.seccomp.isEmpty, let verdict = try applyTraceeFilters(task, info: info, arguments: arguments) {
            // The program's own filter refused it: the kernel returns its verdict.
            result = verdict
        } else {
            let outputs: [(address: UInt64, bytes: [UInt8])]
            switch number {
            case 96:
                var tv = timeval(), tz = timezone()
                gettimeofday(&tv, &tz)
                result = 0
                outputs = [(arguments[0], littleEndian(UInt64(bitPattern: Int64(tv.tv_sec))) + littleEndian(UInt64(bitPattern: Int64(tv.tv_usec)))),
                           (arguments[1], littleEndian(UInt64(UInt32(bitPattern: tz.tz_minuteswest)) | UInt64(UInt32(bitPattern: tz.tz_dsttime)) << 32))]
            case 201:
                let now = Int64(time(nil))
                result = now
                outputs = [(arguments[0], littleEndian(UInt64(bitPattern: now)))]
            default:
                let (cpu, node) = Supervisor.lastCPU(of: task.tid)
                result = 0
                outputs = [(arguments[0], Array(littleEndian(UInt64(cpu)).prefix(4))),
                           (arguments[1], Array(littleEndian(UInt64(node)).prefix(4)))]
            }
            let present = outputs.filter { $0.address != 0 }
            // A pointer the task could not store through: the kernel sends SIGSEGV (its
            // write_ok_or_segv and copy_to_user). Checked before anything is written, by
            // writing each range's own bytes back; then the kernel runs the call itself.
            let writable = present.allSatisfy { output in
                guard let old = task.access.readBytes(at: output.address, count: output.bytes.count) else { return false }
                return mp_write_task_memory(task.tid, old, output.address, UInt64(old.count)) == old.count
            }
            guard writable else {
                log("magprov: task \(task.tid): \(SyscallTable.spec(number).name) through the vsyscall page with a pointer it cannot write: the kernel raises SIGSEGV there, which replay does not reproduce")
                try task.access.resume(PtraceRequest.cont)
                return true
            }
            for output in present {
                guard mp_write_task_memory(task.tid, output.bytes, output.address, UInt64(output.bytes.count)) == output.bytes.count else {
                    throw PtraceFailure(operation: "process_vm_writev", tid: task.tid, errno: EFAULT)
                }
                writes.append(MemoryWrite(address: output.address, bytes: output.bytes))
            }
        }
        regs[.origRax] = UInt64(bitPattern: -1)
        regs[.rax] = UInt64(bitPattern: result)
        try task.access.setRegisters(regs)
        let entrySequence = sequence
        sequence += 1
        syscallCount += 1
        emit(task.tid, .syscall(SyscallEvent(number: number, arguments: arguments, result: result, writes: writes,
                                             entrySequence: entrySequence)))
        // The kernel now emulates the `ret`: these are the registers the program resumes with.
        regs[.rip] = returnAddress
        regs[.rsp] &+= 8
        task.atSyscallBoundary = true
        task.boundaryRegisters = regs
        for signal in task.heldSignals {
            task.releasing.append(signal)
            _ = mp_tgkill(task.tgid, task.tid, signal)
        }
        task.heldSignals.removeAll()
        try wantsUserMode(task)
        return true
    }

    /// The CPU task `tid` last ran on (field 39 of /proc/TID/stat, proc(5)) and its NUMA
    /// node (the `nodeN` link in /sys/devices/system/cpu/cpuM/; 0 without one): what
    /// getcpu would tell the task now.
    static func lastCPU(of tid: Int32) -> (cpu: UInt32, node: UInt32) {
        guard let bytes = try? readAll(path: "/proc/\(tid)/stat") else { return (0, 0) }
        let text = String(decoding: bytes, as: UTF8.self)
        // The command name (field 2) may hold spaces and parentheses: count after its ')'.
        guard let close = text.lastIndex(of: ")") else { return (0, 0) }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 36, let cpu = UInt32(fields[36]) else { return (0, 0) }
        var node: UInt32 = 0
        if let directory = opendir("/sys/devices/system/cpu/cpu\(cpu)") {
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name.hasPrefix("node"), let n = UInt32(name.dropFirst(4)) { node = n; break }
            }
        }
        return (cpu, node)
    }
}

private func littleEndian(_ value: UInt64) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}
