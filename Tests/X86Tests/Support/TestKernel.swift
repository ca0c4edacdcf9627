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
    /// Open directories: the getdents64 records still to hand out.
    private var directories: [Int: [UInt8]] = [:]
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

    /// stat(2) of a host path: regular files and directories, with the real mtime (Python
    /// validates .pyc files against their source's mtime).
    func statPath(_ path: String, into address: UInt64) throws -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let type = attributes[.type] as? FileAttributeType else { return false }
        let isDirectory = type == .typeDirectory
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 1
        try writeStat(address, mode: isDirectory ? 0o040755 : 0o100644, size: size, inode: inode)
        if let date = attributes[.modificationDate] as? Date {
            let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
            withUnsafeBytes(of: seconds) { raw in try? memory.writeBytes(Array(raw), at: address + 88) }
        }
        return true
    }

    /// linux_dirent64 records for a host directory.
    func directoryRecords(_ path: String) -> [UInt8]? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return nil }
        var out: [UInt8] = []
        for (i, name) in ([".", ".."] + names).enumerated() {
            let nameBytes = Array(name.utf8) + [0]
            let length = (19 + nameBytes.count + 7) & ~7
            var record = [UInt8](repeating: 0, count: length)
            withUnsafeBytes(of: UInt64(i + 1)) { record.replaceSubrange(0..<8, with: $0) }
            withUnsafeBytes(of: Int64(i + 1)) { record.replaceSubrange(8..<16, with: $0) }
            withUnsafeBytes(of: UInt16(length)) { record.replaceSubrange(16..<18, with: $0) }
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory)
            record[18] = isDirectory.boolValue ? 4 : 8
            record.replaceSubrange(19..<19 + nameBytes.count, with: nameBytes)
            out += record
        }
        return out
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
        case 3: files.removeValue(forKey: Int(a0)); directories.removeValue(forKey: Int(a0))  // close
        case 257: // openat (read-only host files)
            let path = try readString(a1)
            log.append(path)
            var isDirectory: ObjCBool = false
            if a2 & 3 == 0, FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
               let records = directoryRecords(path) {
                directories[nextDescriptor] = records
                files[nextDescriptor] = ([], 0)
                result = UInt64(nextDescriptor)
                nextDescriptor += 1
            } else if a2 & 3 == 0, let data = FileManager.default.contents(atPath: path), !path.hasPrefix("/proc") {
                files[nextDescriptor] = ([UInt8](data), 0)
                result = UInt64(nextDescriptor)
                nextDescriptor += 1
            } else { result = Self.negative(2) }
        case 262 where try readString(a1) != "": // newfstatat(dirfd, path, buf, flags)
            let path = try readString(a1)
            log.append(path)
            if !(try statPath(path, into: a2)) { result = Self.negative(2) }
        case 4, 6: // stat, lstat
            if !(try statPath(try readString(a0), into: a1)) { result = Self.negative(2) }
        case 217: // getdents64
            if var records = directories[Int(a0)] {
                var n = 0
                while n < records.count {
                    let length = Int(records[n + 16]) | Int(records[n + 17]) << 8
                    if n + length > Int(a2) { break }
                    n += length
                }
                try memory.writeBytes(records.prefix(n), at: a1)
                records.removeFirst(n)
                directories[Int(a0)] = records
                result = UInt64(n)
            } else { result = Self.negative(9) }
        case 89, 267: // readlink, readlinkat
            let path = try readString(state.rax == 89 ? a0 : a1)
            let buffer = state.rax == 89 ? a1 : a2
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                let bytes = Array(target.utf8)
                try memory.writeBytes(bytes, at: buffer)
                result = UInt64(bytes.count)
            } else { result = Self.negative(22) }
        case 99: try memory.writeBytes([UInt8](repeating: 0, count: 112), at: a0)  // sysinfo
        case 186: result = 1000  // gettid
        case 202: result = 0     // futex (single thread)
        case 262: // newfstatat(fd, "", buf, AT_EMPTY_PATH)
            if a0 == 0 { try writeStat(a2, mode: 0o100644, size: standardInput.count, inode: 10) }
            else if a0 == 1 || a0 == 2 { try writeStat(a2, mode: 0o010600, size: 0, inode: 11 + a0) }
            else if directories[Int(a0)] != nil { try writeStat(a2, mode: 0o040755, size: 4096, inode: 50 + a0) }
            else if let file = files[Int(a0)] { try writeStat(a2, mode: 0o100644, size: file.bytes.count, inode: 100 + a0 + UInt64(file.bytes.count)) }
            else { result = Self.negative(2) }
        case 8: // lseek
            if var file = files[Int(a0)] {
                let base = a2 == 0 ? 0 : a2 == 1 ? file.offset : file.bytes.count
                file.offset = max(0, base + Int(Int64(bitPattern: a1)))
                files[Int(a0)] = file
                result = UInt64(file.offset)
            } else { result = a0 == 0 ? 0 : Self.negative(29) }
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
