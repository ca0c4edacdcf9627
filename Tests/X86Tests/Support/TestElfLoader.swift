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
    /// Loads a static executable, or a dynamic one with its interpreter (ld.so), and
    /// builds the initial stack. Position-independent images go at fixed test bases.
    static func load(_ path: String, into memory: GuestMemory, arguments: [String], environment: [String] = []) throws -> LoadedProgram {
        let main = try mapImage(path, into: memory, base: 0x5555_5555_4000)
        var entry = main.entry
        var interpreterBase: UInt64 = 0
        if let interpreter = main.interpreter {
            let ld = try mapImage(interpreter, into: memory, base: 0x7FFF_F7FC_0000)
            entry = ld.entry
            interpreterBase = ld.base
        }
        return try buildStack(memory: memory, arguments: arguments, environment: environment, entry: entry,
                              programEntry: main.entry, phdr: main.phdr, phnum: main.phnum,
                              interpreterBase: interpreterBase, highest: main.highest)
    }

    struct MappedImage {
        var entry: UInt64, phdr: UInt64, phnum: UInt64, highest: UInt64, base: UInt64
        var interpreter: String?
    }

    static func mapImage(_ path: String, into memory: GuestMemory, base requestedBase: UInt64) throws -> MappedImage {
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u16(_ o: Int) -> UInt64 { UInt64(file[o]) | UInt64(file[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt64 { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> UInt64 { u32(o) | u32(o + 4) << 32 }
        guard file.count > 64, file[0] == 0x7F, file[1] == 0x45, file[4] == 2 else { throw TestElfError.notELF64 }
        let base: UInt64 = u16(16) == 3 ? requestedBase : 0  // ET_DYN is relocated
        let entry = u64(24) + base, phoff = Int(u64(32)), phentsize = Int(u16(54)), phnum = Int(u16(56))
        var interpreter: String?
        var highest: UInt64 = 0
        var phdrAddress: UInt64 = 0
        for i in 0..<phnum {
            let ph = phoff + i * phentsize
            let type = u32(ph), flags = u32(ph + 4)
            let offset = Int(u64(ph + 8)), vaddr = u64(ph + 16) + base, filesz = Int(u64(ph + 32)), memsz = u64(ph + 40)
            if type == 6 { phdrAddress = vaddr }  // PT_PHDR
            if type == 3 { interpreter = String(decoding: file[offset..<offset + filesz - 1], as: UTF8.self) }  // PT_INTERP
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
        return MappedImage(entry: entry, phdr: phdrAddress, phnum: UInt64(phnum), highest: highest, base: base, interpreter: interpreter)
    }

    static func buildStack(memory: GuestMemory, arguments: [String], environment: [String], entry: UInt64, programEntry: UInt64,
                           phdr phdrAddress: UInt64, phnum: UInt64, interpreterBase: UInt64, highest: UInt64) throws -> LoadedProgram {
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
        var environmentAddresses: [UInt64] = []
        for variable in environment {
            let bytes = Array(variable.utf8) + [0]
            cursor -= UInt64(bytes.count)
            try memory.writeBytes(bytes, at: cursor)
            environmentAddresses.append(cursor)
        }
        cursor -= 16
        let random = cursor
        try memory.writeBytes((0..<16).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 1) }, at: random)
        cursor -= 16
        let platform = cursor
        try memory.writeBytes(Array("x86_64".utf8) + [0], at: platform)
        let auxv: [(UInt64, UInt64)] = [
            (3, phdrAddress), (4, 56), (5, phnum), (6, 4096), (7, interpreterBase), (8, 0), (9, programEntry),
            (11, 0), (12, 0), (13, 0), (14, 0), (23, 0),
            (16, 0x178BFBFF), (17, 100), (25, random), (15, platform), (0, 0),
        ]
        var words: [UInt64] = [UInt64(arguments.count)] + argvAddresses + [0] + environmentAddresses + [0]
        for (k, v) in auxv { words += [k, v] }
        cursor = (cursor - UInt64(words.count * 8)) & ~0xF
        for (i, w) in words.enumerated() {
            try memory.writeBytes(withUnsafeBytes(of: w.littleEndian) { Array($0) }, at: cursor + UInt64(i * 8))
        }
        return LoadedProgram(entry: entry, stackPointer: cursor, programHeaders: phdrAddress,
                             programHeaderCount: phnum, highestAddress: highest)
    }
}
