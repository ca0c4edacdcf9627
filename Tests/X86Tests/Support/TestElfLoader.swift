// A test-only loader for static ELF64 executables: maps PT_LOAD segments into GuestMemory
// and builds an initial stack (argc, argv, envp, auxv) like the kernel's. The real
// replayer never loads ELF files (DESIGN.md: the kernel loads, magprov snapshots).
import Foundation
import X86

enum TestElfError: Error { case notELF64, truncated }

struct LoadedProgram {
    var entry: UInt64
    var stackPointer: UInt64
    var programHeaders: UInt64
    var programHeaderCount: UInt64
    var highestAddress: UInt64
}

enum TestElfLoader {
    static func load(_ path: String, into memory: GuestMemory, arguments: [String]) throws -> LoadedProgram {
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u16(_ o: Int) -> UInt64 { UInt64(file[o]) | UInt64(file[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt64 { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> UInt64 { u32(o) | u32(o + 4) << 32 }
        guard file.count > 64, file[0] == 0x7F, file[1] == 0x45, file[4] == 2 else { throw TestElfError.notELF64 }
        let entry = u64(24), phoff = Int(u64(32)), phentsize = Int(u16(54)), phnum = Int(u16(56))
        var highest: UInt64 = 0
        var phdrAddress: UInt64 = 0
        for i in 0..<phnum {
            let ph = phoff + i * phentsize
            let type = u32(ph), flags = u32(ph + 4)
            let offset = Int(u64(ph + 8)), vaddr = u64(ph + 16), filesz = Int(u64(ph + 32)), memsz = u64(ph + 40)
            if type == 6 { phdrAddress = vaddr }  // PT_PHDR
            guard type == 1 else { continue }     // PT_LOAD
            let start = vaddr & ~0xFFF
            let end = (vaddr + memsz + 0xFFF) & ~0xFFF
            var prot: MemoryProtection = []
            if flags & 4 != 0 { prot.insert(.read) }
            if flags & 2 != 0 { prot.insert(.write) }
            if flags & 1 != 0 { prot.insert(.execute) }
            try memory.map(address: start, length: end - start, prot: prot)
            guard offset + filesz <= file.count else { throw TestElfError.truncated }
            try memory.writeBytes(file[offset..<offset + filesz], at: vaddr)
            if phdrAddress == 0 && UInt64(phoff) >= UInt64(offset) && UInt64(phoff) < UInt64(offset + filesz) {
                phdrAddress = vaddr + UInt64(phoff - offset)
            }
            highest = max(highest, end)
        }
        // Stack: 1 MiB below a fixed top, strings first, then the vectors.
        let stackTop: UInt64 = 0x7FFF_F000_0000
        let stackSize: UInt64 = 1 << 20
        try memory.map(address: stackTop - stackSize, length: stackSize, prot: [.read, .write])
        var cursor = stackTop - 256
        var argvAddresses: [UInt64] = []
        for arg in arguments {
            let bytes = Array(arg.utf8) + [0]
            cursor -= UInt64(bytes.count)
            try memory.writeBytes(bytes, at: cursor)
            argvAddresses.append(cursor)
        }
        cursor -= 16
        let random = cursor
        try memory.writeBytes((0..<16).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 1) }, at: random)
        cursor -= 16
        let platform = cursor
        try memory.writeBytes(Array("x86_64".utf8) + [0], at: platform)
        let auxv: [(UInt64, UInt64)] = [
            (3, phdrAddress), (4, 56), (5, UInt64(phnum)), (6, 4096), (9, entry), (11, 0), (12, 0), (13, 0), (14, 0),
            (16, 0x178BFBFF), (17, 100), (23, 0), (25, random), (15, platform), (0, 0),
        ]
        var words: [UInt64] = [UInt64(arguments.count)] + argvAddresses + [0] + [0]  // argc, argv, NULL, envp NULL
        for (k, v) in auxv { words += [k, v] }
        cursor = (cursor - UInt64(words.count * 8)) & ~0xF
        for (i, w) in words.enumerated() {
            try memory.writeBytes(withUnsafeBytes(of: w.littleEndian) { Array($0) }, at: cursor + UInt64(i * 8))
        }
        return LoadedProgram(entry: entry, stackPointer: cursor, programHeaders: phdrAddress,
                             programHeaderCount: UInt64(phnum), highestAddress: highest)
    }
}
