// Just enough Linux for the end-to-end tests: brk, mmap (anonymous and of host files,
// read-only), TLS, file reads, stdin/stdout/stderr, signals as no-ops, exit. Test code
// only; the replayer injects recorded results instead of emulating the kernel.
import Foundation
import X86

final class TestKernel {
    let memory: GuestMemory
    var programBreak: UInt64
    var nextMmap: UInt64 = 0x7000_0000_0000
    var output = Data()
    var errorOutput = Data()
    var standardInput: [UInt8] = []
    var log: [String] = []
    private var files: [Int: (bytes: [UInt8], offset: Int)] = [:]
    private var nextDescriptor = 3

    init(memory: GuestMemory, breakStart: UInt64) {
        self.memory = memory
        programBreak = breakStart
    }

    static func negative(_ errno: Int64) -> UInt64 { UInt64(bitPattern: -errno) }

    func readString(_ address: UInt64) throws -> String {
        var bytes: [UInt8] = []
        var a = address
        while bytes.count < 4096, let b = try memory.readBytes(at: a, count: 1).first, b != 0 { bytes.append(b); a += 1 }
        return String(decoding: bytes, as: UTF8.self)
    }

    func protection(_ bits: UInt64) -> MemoryProtection {
        var prot: MemoryProtection = []
        if bits & 1 != 0 { prot.insert(.read) }
        if bits & 2 != 0 { prot.insert(.write) }
        if bits & 4 != 0 { prot.insert(.execute) }
        return prot
    }

    /// Writes a struct stat with the fields glibc reads (dev, inode, mode, size, blksize).
    /// ld.so compares (dev, inode) to spot libraries already loaded: each file gets its own.
    func writeStat(_ address: UInt64, mode: UInt32, size: Int, inode: UInt64) throws {
        var stat = [UInt8](repeating: 0, count: 144)
        withUnsafeBytes(of: UInt64(0x803)) { stat.replaceSubrange(0..<8, with: $0) }
        withUnsafeBytes(of: inode) { stat.replaceSubrange(8..<16, with: $0) }
        withUnsafeBytes(of: mode) { stat.replaceSubrange(24..<28, with: $0) }
        withUnsafeBytes(of: Int64(size)) { stat.replaceSubrange(48..<56, with: $0) }
        withUnsafeBytes(of: Int64(4096)) { stat.replaceSubrange(56..<64, with: $0) }
        try memory.writeBytes(stat, at: address)
    }

    /// Performs the syscall in `state`; returns the exit status when the program exits.
    func handle(_ state: inout CPUState) throws -> Int32? {
        let a0 = state.rdi, a1 = state.rsi, a2 = state.rdx, a3 = state[.r10], a4 = state[.r8], a5 = state[.r9]
        var result: UInt64 = 0
        log.append("\(state.rax)")
        switch state.rax {
        case 0, 17: // read, pread64
            let count = Int(a2)
            if a0 == 0 {
                let n = min(count, standardInput.count)
                try memory.writeBytes(standardInput.prefix(n), at: a1)
                standardInput.removeFirst(n)
                result = UInt64(n)
            } else if var file = files[Int(a0)] {
                let offset = state.rax == 17 ? Int(a3) : file.offset
                let n = max(0, min(count, file.bytes.count - offset))
                try memory.writeBytes(file.bytes[offset..<offset + n], at: a1)
                if state.rax == 0 { file.offset += n; files[Int(a0)] = file }
                result = UInt64(n)
            } else { result = Self.negative(9) }
        case 1: // write
            let bytes = try memory.readBytes(at: a1, count: Int(a2))
            if a0 == 2 { errorOutput.append(contentsOf: bytes) } else { output.append(contentsOf: bytes) }
            result = a2
        case 20: // writev
            var total: UInt64 = 0
            for i in 0..<a2 {
                let raw = try memory.readBytes(at: a1 + i * 16, count: 16)
                let base = raw.withUnsafeBytes { $0.load(as: UInt64.self) }
                let length = raw.withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt64.self) }
                let bytes = try memory.readBytes(at: base, count: Int(length))
                if a0 == 2 { errorOutput.append(contentsOf: bytes) } else { output.append(contentsOf: bytes) }
                total += length
            }
            result = total
        case 3: files.removeValue(forKey: Int(a0))  // close
        case 257: // openat (read-only host files)
            let path = try readString(a1)
            log.append(path)
            if a2 & 3 == 0, let data = FileManager.default.contents(atPath: path), !path.hasPrefix("/proc") {
                files[nextDescriptor] = ([UInt8](data), 0)
                result = UInt64(nextDescriptor)
                nextDescriptor += 1
            } else { result = Self.negative(2) }
        case 262: // newfstatat(fd, "", buf, AT_EMPTY_PATH)
            if a0 == 0 { try writeStat(a2, mode: 0o100644, size: standardInput.count, inode: 10) }
            else if a0 == 1 || a0 == 2 { try writeStat(a2, mode: 0o010600, size: 0, inode: 11 + a0) }
            else if let file = files[Int(a0)] { try writeStat(a2, mode: 0o100644, size: file.bytes.count, inode: 100 + a0 + UInt64(file.bytes.count)) }
            else { result = Self.negative(2) }
        case 8: result = a0 == 0 ? 0 : Self.negative(29)  // lseek: ESPIPE except stdin start
        case 12: // brk
            if a0 > programBreak {
                let oldTop = (programBreak + 0xFFF) & ~0xFFF
                let newTop = (a0 + 0xFFF) & ~0xFFF
                if newTop > oldTop { try memory.map(address: oldTop, length: newTop - oldTop, prot: [.read, .write]) }
                programBreak = a0
            }
            result = programBreak
        case 9: // mmap
            let length = (a1 + 0xFFF) & ~0xFFF
            let fixed = a3 & 0x10 != 0
            let address: UInt64
            if fixed { address = a0 } else { nextMmap -= length; address = nextMmap }
            try memory.map(address: address, length: length, prot: protection(a2))
            if a3 & 0x20 == 0, let file = files[Int(a4)] {  // file-backed: copy its bytes
                let offset = Int(a5)
                let n = max(0, min(Int(a1), file.bytes.count - offset))
                if n > 0 { try memory.writeBytes(file.bytes[offset..<offset + n], at: address) }
            }
            result = address
        case 11: try memory.unmap(address: a0, length: (a1 + 0xFFF) & ~0xFFF)  // munmap
        case 10: try memory.protect(address: a0, length: (a1 + 0xFFF) & ~0xFFF, prot: protection(a2))  // mprotect
        case 158: if a0 == 0x1002 { state.fsBase = a1 } else { result = Self.negative(22) }  // arch_prctl
        case 13: if a2 != 0 { try memory.writeBytes([UInt8](repeating: 0, count: 32), at: a2) }  // rt_sigaction
        case 14, 72, 273: result = 0  // rt_sigprocmask, fcntl, set_robust_list
        case 218: result = 1000  // set_tid_address
        case 39, 110: result = 1000  // getpid, getppid
        case 302: // prlimit64: 8 MiB stack
            if a3 != 0 { try memory.writeBytes(withUnsafeBytes(of: (UInt64(8 << 20), UInt64.max)) { Array($0) }, at: a3) }
        case 318: // getrandom
            try memory.writeBytes((0..<Int(a1)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }, at: a0)
            result = a1
        case 16: result = Self.negative(25)  // ioctl: ENOTTY
        case 21: result = Self.negative(2)   // access: ENOENT
        case 60, 231: return Int32(truncatingIfNeeded: a0)
        default: result = Self.negative(38)  // rseq, readlink, ...: ENOSYS
        }
        state.rax = result
        return nil
    }
}
