// Taint sources and sinks at syscalls: which bytes of user memory the kernel delivered from
// an object, and which it sent to one. The roles come from the syscall table
// (`SyscallSpec.flow`); the byte ranges from the arguments, the result and the iovec and
// msghdr structures in guest memory, in the order the kernel walks them (readv(2),
// recvmsg(2)): iovecs concatenated form one event's bytes.

import Syscalls
import Trace
import X86

extension ProcessReplay {
    /// Sink bytes of `event`, read at syscall entry from guest memory (before the kernel's
    /// answer is applied), plus path arguments whose bytes carry labels.
    func noteSinks(_ event: SyscallEvent, sequence: UInt64) {
        guard Tracker.tracksData else { return }
        let spec = SyscallTable.spec(event.number)
        for index in spec.pathArguments where index < event.arguments.count {
            let address = event.arguments[index]
            if let length = cStringLength(at: address) {
                machine.tracker.recordPathSink(event: sequence, argument: index, address: address, length: length)
            }
        }
        if spec.flow == .statusSink {
            // The status's low byte is what wait4 reports to the parent (as bits 8-15 of
            // the status word): one byte of this event, composed by the refinement.
            machine.tracker.recordRegisterSink(event: sequence, registerOffset: X86.RegisterFile.gpr(7), size: 1, eventOffset: 0)
            return
        }
        if isExecve(event) && event.result == 0 {
            // The new image gets these strings on its stack: bytes of this event, sunk here
            // and labelled as the new unit's source (`labelExecStrings`).
            let base = event.number == SyscallTable.Number.execveat ? 2 : 1
            var offset: Int64 = 0
            for (address, length) in execStrings(vectors: [event.arguments[base], event.arguments[base + 1]]) {
                machine.tracker.recordSink(event: sequence, address: address, length: length, eventOffset: offset)
                offset += Int64(length)
            }
            return
        }
        guard spec.flow == .contentSink, event.result >= 0, !spec.sinkActedAsSource(writes: event.writes.count) else { return }
        let limit = spec.resultCountsSinkBytes ? Int(event.result) : Int.max
        var offset: Int64 = 0
        for (address, length) in dataRanges(spec: spec, event: event, limit: limit, sink: true) {
            machine.tracker.recordSink(event: sequence, address: address, length: length, eventOffset: offset)
            offset += Int64(length)
        }
    }

    /// Labels what the kernel wrote for `event`: content sources get fresh labels for the
    /// data bytes, metadata sources metadata labels, everything else is cleared. The
    /// result register (and rcx/r11, which the `syscall` instruction overwrites) is cleared.
    func labelResults(_ event: SyscallEvent, sequence: UInt64) {
        guard Tracker.tracksData else { return }
        let tracker = machine.tracker
        for w in event.writes { tracker.clearMemory(address: w.address, length: w.bytes.count) }
        let spec = SyscallTable.spec(event.number)
        if spec.sinkActedAsSource(writes: event.writes.count) {
            // vmsplice on a read end: the pipe's bytes, in iovec order.
            var offset: Int64 = 0
            for w in event.writes {
                tracker.labelSource(event: sequence, address: w.address, length: w.bytes.count, eventOffset: offset, metadata: false)
                offset += Int64(w.bytes.count)
            }
            return
        }
        switch spec.flow {
        case .contentSource where event.result > 0:
            var offset: Int64 = 0
            let ranges = dataRanges(spec: spec, event: event, limit: Int(event.result), sink: false)
            // ld.so reads an ELF header (then the program headers) before it maps the file:
            // program image bytes are not taint sources (see `ProcessReplay.load`). Only the
            // loader's own reads say so: `cp prog copy` or a download of an ELF file reads
            // data like any other.
            let path = event.objects.first?.resolved ?? ""
            if let first = ranges.first, first.1 >= 4,
               let magic = try? machine.memory.readBytes(at: first.0, count: 4), magic == [0x7f, 0x45, 0x4c, 0x46],
               isLoaderCode(machine.state.rip) {
                if !path.isEmpty { programImagePaths.insert(path) }
                programImageEvents.insert(sequence)
            }
            if (!path.isEmpty && programImagePaths.contains(path)) || Self.isLoaderInput(path) {
                programImageEvents.insert(sequence)
                return
            }
            for (address, length) in ranges {
                tracker.labelSource(event: sequence, address: address, length: length, eventOffset: offset, metadata: false)
                offset += Int64(length)
            }
        case .metadataSource where event.result >= 0:
            var offset: Int64 = 0
            for w in event.writes {
                tracker.labelSource(event: sequence, address: w.address, length: w.bytes.count, eventOffset: offset, metadata: true)
                offset += Int64(w.bytes.count)
            }
        default:
            break
        }
    }

    /// The user-memory ranges holding an event's data, up to `limit` bytes: the first
    /// write rule of a source (a buffer, an iovec array, a msghdr's iovecs) or the first
    /// in-buffer or in-iovec argument of a sink (sendmsg: the msghdr's iovecs).
    func dataRanges(spec: SyscallSpec, event: SyscallEvent, limit: Int, sink: Bool) -> [(UInt64, Int)] {
        let a = event.arguments
        guard limit > 0 else { return [] }
        if sink {
            if spec.name == "sendmsg" { return msghdrRanges(at: a[1], limit: limit) }
            for (index, kind) in spec.arguments.enumerated() where index < a.count {
                switch kind {
                case .inBuffer(let size):
                    guard a[index] != 0 else { return [] }
                    // A header before the data (msgsnd's `long mtype`) is no content.
                    if case .argumentPlus(let n, let header) = size, n < a.count {
                        let length = min(limit, Int(truncatingIfNeeded: min(a[n], UInt64(Int32.max))))
                        return length > 0 ? [(a[index] &+ UInt64(header), length)] : []
                    }
                    let length = min(limit, sizeOf(size, arguments: a, result: event.result) ?? limit)
                    return length > 0 && length < Int.max ? [(a[index], length)] : []
                case .inIovec(let count):
                    return iovecRanges(at: a[index], count: Int(a[count]), limit: limit)
                case .inXattrArgs:
                    // struct xattr_args { u64 value; u32 size; u32 flags } (setxattrat(2)).
                    guard let args = try? machine.memory.readBytes(at: a[index], count: 16) else { return [] }
                    let value = args.loadUInt64(at: 0), size = Int(args.loadUInt64(at: 8) & 0xffff_ffff)
                    let length = min(limit, size)
                    return value != 0 && length > 0 ? [(value, length)] : []
                default:
                    continue
                }
            }
            return []
        }
        guard let rule = spec.writes.first else { return [] }
        switch rule {
        case .buffer(let pointer, let size):
            guard pointer < a.count, a[pointer] != 0 else { return [] }
            // msgrcv writes `long mtype` and then `result` bytes of text.
            if case .resultPlus(let header) = size { return [(a[pointer] &+ UInt64(header), limit)] }
            return [(a[pointer], limit)]
        case .xattrArgs(let pointer):
            // getxattrat(2): the value goes to the buffer its struct xattr_args names.
            guard pointer < a.count, let args = try? machine.memory.readBytes(at: a[pointer], count: 8) else { return [] }
            let value = args.loadUInt64(at: 0)
            return value != 0 ? [(value, limit)] : []
        case .iovec(let pointer, let count):
            return iovecRanges(at: a[pointer], count: Int(a[count]), limit: limit)
        case .msghdr(let pointer):
            return msghdrRanges(at: a[pointer], limit: limit)
        default:
            return []
        }
    }

    private func sizeOf(_ rule: SizeRule, arguments a: [UInt64], result: Int64) -> Int? {
        switch rule {
        case .fixed(let n): return n
        case .argument(let n): return n < a.count ? Int(truncatingIfNeeded: a[n]) : nil
        case .result: return result >= 0 ? Int(result) : nil
        case .resultTimes(let k): return result >= 0 ? Int(result) * k : nil
        case .argumentTimes(let n, let k): return n < a.count ? Int(truncatingIfNeeded: a[n]) * k : nil
        case .argumentPlus(let n, let k): return n < a.count ? Int(truncatingIfNeeded: a[n]) + k : nil
        case .resultPlus(let k): return result >= 0 ? Int(result) + k : nil
        case .lengthAt, .bitmask, .selfSized: return nil
        }
    }

    /// `struct iovec { void *base; size_t len; }` array, walked until `limit` bytes.
    private func iovecRanges(at address: UInt64, count: Int, limit: Int) -> [(UInt64, Int)] {
        guard count > 0, count <= 1024, let raw = try? machine.memory.readBytes(at: address, count: count * 16) else { return [] }
        var ranges: [(UInt64, Int)] = []
        var remaining = limit
        for i in 0..<count where remaining > 0 {
            let base = raw.loadUInt64(at: i * 16), length = Int(truncatingIfNeeded: raw.loadUInt64(at: i * 16 + 8))
            let take = min(max(length, 0), remaining)
            if take > 0 { ranges.append((base, take)) }
            remaining -= take
        }
        return ranges
    }

    /// `struct msghdr`: msg_iov at +16, msg_iovlen at +24 (x86-64 layout, recvmsg(2)).
    private func msghdrRanges(at address: UInt64, limit: Int) -> [(UInt64, Int)] {
        guard let header = try? machine.memory.readBytes(at: address, count: 56) else { return [] }
        return iovecRanges(at: header.loadUInt64(at: 16), count: Int(truncatingIfNeeded: header.loadUInt64(at: 24)), limit: limit)
    }

    /// Whether `address` lies in the dynamic loader's code (ld-linux*.so, ld-*.so, the
    /// PT_INTERP of every dynamically linked program here): its reads of ELF headers load
    /// program images, dlopen's included.
    func isLoaderCode(_ address: UInt64) -> Bool {
        guard let path = regions.region(containing: address)?.path else { return false }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return name.hasPrefix("ld-") && name.contains(".so")
    }

    /// The strings of NULL-terminated pointer arrays (execve(2)'s argv, then envp), each
    /// with its NUL, in order: the layout both sides of an exec number the bytes by.
    /// A string longer than PATH_MAX or an unreadable pointer ends the walk.
    func execStrings(vectors: [UInt64]) -> [(UInt64, Int)] {
        var strings: [(UInt64, Int)] = []
        for vector in vectors where vector != 0 {
            for k in 0 ..< 65_536 {
                guard let slot = try? machine.memory.readBytes(at: vector + UInt64(k) * 8, count: 8) else { break }
                let address = slot.loadUInt64(at: 0)
                if address == 0 { break }
                guard let length = cStringLength(at: address), length < 4096 else { break }
                strings.append((address, length + 1))
            }
        }
        return strings
    }

    /// At the start of an exec unit: the argument and environment strings the kernel put on
    /// the new stack (argc at `stackPointer`, then argv[], NULL, envp[], NULL) carry labels
    /// of the old image's execve event `sequence`, numbered as `noteSinks` numbered them.
    func labelExecStrings(stackPointer: UInt64, sequence: UInt64) {
        guard Tracker.tracksData,
              let argcBytes = try? machine.memory.readBytes(at: stackPointer, count: 8) else { return }
        let argc = argcBytes.loadUInt64(at: 0)
        guard argc < 65_536 else { return }
        let argv = stackPointer + 8
        let envp = argv + (argc + 1) * 8
        var offset: Int64 = 0
        for (address, length) in execStrings(vectors: [argv, envp]) {
            machine.tracker.labelSource(event: sequence, address: address, length: length, eventOffset: offset, metadata: false)
            offset += Int64(length)
        }
    }

    /// Length of the NUL-terminated string at `address` (at most PATH_MAX), nil if unreadable.
    private func cStringLength(at address: UInt64) -> Int? {
        guard address != 0 else { return nil }
        var length = 0
        while length < 4096 {
            guard let chunk = try? machine.memory.readBytes(at: address + UInt64(length), count: 1) else { return nil }
            if chunk[0] == 0 { return length }
            length += 1
        }
        return length
    }

    // MARK: Signal frames

    /// `struct sigcontext` general registers in frame order (asm/sigcontext.h, x86-64):
    /// r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, as GPR numbers.
    static var sigcontextRegisters: [Int] { [8, 9, 10, 11, 12, 13, 14, 15, 7, 6, 5, 3, 2, 0, 1, 4] }

    /// At signal delivery the kernel saved the interrupted registers into the frame's
    /// ucontext (at `ucontext`): their shadows go with them, and the handler's argument
    /// registers come from the kernel.
    func saveRegisterShadows(toFrameAt ucontext: UInt64) {
        guard Tracker.tracksData else { return }
        let tracker = machine.tracker
        for (slot, gpr) in Self.sigcontextRegisters.enumerated() {
            tracker.saveRegister(offset: X86.RegisterFile.gpr(gpr), size: 8, to: ucontext + 40 + UInt64(slot) * 8)
        }
        if let fp = try? machine.memory.readBytes(at: ucontext + 40 + 184, count: 8), fp.loadUInt64(at: 0) != 0 {
            let fpstate = fp.loadUInt64(at: 0)
            for i in 0..<16 { tracker.saveRegister(offset: X86.RegisterFile.xmm(i), size: 16, to: fpstate + 160 + UInt64(i) * 16) }
        }
        for gpr in [0, 1, 2, 4, 6, 7, 11] { tracker.clearRegisters(offset: X86.RegisterFile.gpr(gpr), size: 8) }
    }

    /// rt_sigreturn: the registers (and XMM state) come back from the frame at `ucontext`.
    func restoreRegisterShadows(fromFrameAt ucontext: UInt64) {
        guard Tracker.tracksData else { return }
        let tracker = machine.tracker
        for (slot, gpr) in Self.sigcontextRegisters.enumerated() {
            tracker.restoreRegister(offset: X86.RegisterFile.gpr(gpr), size: 8, from: ucontext + 40 + UInt64(slot) * 8)
        }
        if let fp = try? machine.memory.readBytes(at: ucontext + 40 + 184, count: 8), fp.loadUInt64(at: 0) != 0 {
            let fpstate = fp.loadUInt64(at: 0)
            for i in 0..<16 { tracker.restoreRegister(offset: X86.RegisterFile.xmm(i), size: 16, from: fpstate + 160 + UInt64(i) * 16) }
        }
    }
}
