// Names the function around a guest address, for divergence reports and alerts: finds the
// mapped file, reads its ELF symbol tables with libelf, and converts the address to the
// file's virtual address using the load bias of its first PT_LOAD.

import CElf
import Foundation
import Trace

final class Symbolizer {
    private struct Image {
        var path: String
        var start: UInt64
        var end: UInt64
        var fileOffset: UInt64
    }
    private struct Symbol { var start: UInt64; var size: UInt64; var name: String }

    private var images: [Image] = []
    private var symbolCache: [String: (firstLoadVaddr: UInt64, firstLoadOffset: UInt64, symbols: [Symbol])] = [:]
    private let lock = NSLock()

    func noteMapping(_ m: MappingSnapshot) {
        guard m.path.hasPrefix("/") else { return }
        lock.lock(); defer { lock.unlock() }
        images.append(Image(path: m.path, start: m.start, end: m.end, fileOffset: m.offset))
    }

    /// "function+0xoff in /path" or "/path+0xoff", nil when nothing is mapped there.
    func symbolize(_ address: UInt64) -> String? {
        lock.lock(); defer { lock.unlock() }
        guard let image = images.last(where: { $0.start <= address && address < $0.end }) else { return nil }
        let fileOffset = address - image.start + image.fileOffset
        guard let table = symbols(of: image.path) else { return "\(image.path)+0x\(String(fileOffset, radix: 16))" }
        let vaddr = fileOffset &- table.firstLoadOffset &+ table.firstLoadVaddr
        if let s = table.symbols.last(where: { $0.start <= vaddr && vaddr < $0.start + max($0.size, 1) }) {
            return "\(s.name)+0x\(String(vaddr - s.start, radix: 16)) in \(image.path)"
        }
        return "\(image.path)+0x\(String(fileOffset, radix: 16))"
    }

    private func symbols(of path: String) -> (firstLoadVaddr: UInt64, firstLoadOffset: UInt64, symbols: [Symbol])? {
        if let cached = symbolCache[path] { return cached }
        guard elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE) else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else { return nil }
        defer { elf_end(elf) }
        var firstVaddr: UInt64 = 0, firstOffset: UInt64 = 0
        var phnum = 0
        if elf_getphdrnum(elf, &phnum) == 0 {
            for i in 0..<phnum {
                var ph = GElf_Phdr()
                if gelf_getphdr(elf, Int32(i), &ph) != nil, ph.p_type == UInt32(PT_LOAD) {
                    firstVaddr = ph.p_vaddr & ~0xfff
                    firstOffset = ph.p_offset & ~0xfff
                    break
                }
            }
        }
        var symbols: [Symbol] = []
        var section = elf_nextscn(elf, nil)
        while let scn = section {
            var header = GElf_Shdr()
            if gelf_getshdr(scn, &header) != nil, header.sh_type == UInt32(SHT_SYMTAB) || header.sh_type == UInt32(SHT_DYNSYM),
               let data = elf_getdata(scn, nil), header.sh_entsize > 0 {
                let count = Int(header.sh_size / header.sh_entsize)
                for i in 0..<count {
                    var sym = GElf_Sym()
                    guard gelf_getsym(data, Int32(i), &sym) != nil, sym.st_value != 0,
                          (sym.st_info & 0xf) == UInt8(STT_FUNC),
                          let name = elf_strptr(elf, Int(header.sh_link), Int(sym.st_name)) else { continue }
                    symbols.append(Symbol(start: sym.st_value, size: sym.st_size, name: String(cString: name)))
                }
            }
            section = elf_nextscn(elf, scn)
        }
        symbols.sort { $0.start < $1.start }
        let table = (firstVaddr, firstOffset, symbols)
        symbolCache[path] = table
        return table
    }
}
