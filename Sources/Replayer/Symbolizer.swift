// Names the function around a guest address, for divergence reports and alerts. The ELF
// is read from the bytes the trace recorded, not from today's file on disk: a package
// upgrade after the recording must not change the names in a report. The recorded bytes of
// a file are its mappings (the exec snapshot's and each mmap's, pristine file pages), put
// back at their file offsets and opened with libelf's `elf_memory`. Those bytes hold the
// loaded part of the file: program headers, `.dynsym` through PT_DYNAMIC, and the build
// id note; a file's section headers and `.symtab` lie past its last loaded page. When the
// file on disk still has the recorded GNU build id it is the very same build, and its full
// symbol table (static functions too) is used. Only when the trace holds no bytes of a file
// at all is the disk file read, and the report says so.

import CElf
import Foundation
import Trace

final class Symbolizer {
    private struct Image {
        var path: String
        var start: UInt64
        var end: UInt64
        var fileOffset: UInt64
        /// Identity of the file (device, inode, path): the key of its recorded pieces.
        var file: String
    }
    private struct Piece { var offset: UInt64; var blobs: [BlobID]; var writable: Bool }
    struct Symbol { var start: UInt64; var size: UInt64; var name: String }
    /// One file's symbols and how to turn a file offset into their addresses.
    struct SymbolTable {
        var firstLoadVaddr: UInt64
        var firstLoadOffset: UInt64
        var symbols: [Symbol]
        /// Set when the symbols come from the file on disk without a recorded build id to
        /// vouch for it (the trace holds no bytes of the file).
        var caveat: String?
    }

    private let trace: TraceReader?
    private var images: [Image] = []
    private var pieces: [String: [Piece]] = [:]
    private var symbolCache: [String: SymbolTable?] = [:]
    private let lock = NSLock()

    /// - Parameter trace: where the recorded bytes of mapped files are read from; nil reads
    ///   every file from disk (tests of the ELF reading alone).
    init(trace: TraceReader?) { self.trace = trace }

    /// Notes a file mapping of the guest (from an exec snapshot or an mmap). Cheap: the
    /// bytes are read only when an address in the file is symbolized.
    func noteMapping(_ m: MappingSnapshot) {
        guard m.path.hasPrefix("/") else { return }
        let file = "\(m.device):\(m.inode):\(m.path)"
        lock.lock(); defer { lock.unlock() }
        images.append(Image(path: m.path, start: m.start, end: m.end, fileOffset: m.offset, file: file))
        if !m.blobs.isEmpty {
            pieces[file, default: []].append(Piece(offset: m.offset, blobs: m.blobs, writable: m.protection & 2 != 0))
            symbolCache[file] = nil
        }
    }

    /// "function+0xoff in /path" or "/path+0xoff", nil when nothing is mapped there. A name
    /// read from today's file on disk (the trace has no bytes of it) says so. Cost: the
    /// first address in a file reassembles and parses it; later ones are a table search.
    func symbolize(_ address: UInt64) -> String? {
        lock.lock(); defer { lock.unlock() }
        guard let image = images.last(where: { $0.start <= address && address < $0.end }) else { return nil }
        let fileOffset = address - image.start + image.fileOffset
        guard let table = symbols(of: image) else { return "\(image.path)+0x\(String(fileOffset, radix: 16))" }
        let vaddr = fileOffset &- table.firstLoadOffset &+ table.firstLoadVaddr
        let note = table.caveat.map { " (\($0))" } ?? ""
        if let s = table.symbols.last(where: { $0.start <= vaddr && vaddr < $0.start + max($0.size, 1) }) {
            return "\(s.name)+0x\(String(vaddr - s.start, radix: 16)) in \(image.path)\(note)"
        }
        return "\(image.path)+0x\(String(fileOffset, radix: 16))\(note)"
    }

    private func symbols(of image: Image) -> SymbolTable? {
        if let cached = symbolCache[image.file] { return cached }
        let table = loadSymbols(of: image)
        symbolCache[image.file] = table
        return table
    }

    private func loadSymbols(of image: Image) -> SymbolTable? {
        guard let recorded = recordedFile(image.file) else {
            guard var table = ELFSymbols.read(path: image.path)?.table else { return nil }
            table.caveat = "symbols from today's file on disk: the trace holds no bytes of it"
            return table
        }
        guard let fromTrace = ELFSymbols.read(image: recorded) else { return nil }
        // The same build on disk (equal GNU build id) has the full symbol table.
        if let id = fromTrace.buildID, let onDisk = ELFSymbols.read(path: image.path), onDisk.buildID == id {
            return onDisk.table
        }
        return fromTrace.table
    }

    /// The recorded bytes of one file at their file offsets (zeros where nothing was
    /// mapped), and which ranges were recorded. Read-only pieces are placed last: a
    /// writable mapping's last page may hold zeroed .bss where the file has other bytes.
    private func recordedFile(_ file: String) -> RecordedFile? {
        guard let trace, let list = pieces[file], !list.isEmpty else { return nil }
        var loaded: [(offset: UInt64, bytes: [UInt8])] = []
        for piece in list.sorted(by: { $0.writable && !$1.writable }) {
            guard let bytes = try? trace.contents(of: piece.blobs) else { continue }
            loaded.append((piece.offset, bytes))
        }
        guard let size = loaded.map({ $0.offset + UInt64($0.bytes.count) }).max(), size > 0, size < 1 << 32 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var covered: [Range<UInt64>] = []
        for piece in loaded {
            bytes.replaceSubrange(Int(piece.offset)..<(Int(piece.offset) + piece.bytes.count), with: piece.bytes)
            covered.append(piece.offset..<(piece.offset + UInt64(piece.bytes.count)))
        }
        return RecordedFile(bytes: bytes, covered: covered)
    }
}

/// A file as the trace recorded it: its bytes at their offsets and which ranges are real.
struct RecordedFile {
    var bytes: [UInt8]
    var covered: [Range<UInt64>]

    func covers(_ range: Range<UInt64>) -> Bool {
        var start = range.lowerBound
        while start < range.upperBound {
            guard let piece = covered.first(where: { $0.contains(start) }) else { return false }
            start = piece.upperBound
        }
        return true
    }
}

/// ELF symbol reading with libelf (elfutils): `elf_memory` for recorded bytes, `elf_begin`
/// for a file on disk.
enum ELFSymbols {
    struct Result {
        var table: Symbolizer.SymbolTable
        /// The GNU build id (NT_GNU_BUILD_ID note), hex; nil when the file has none.
        var buildID: String?
    }

    /// Symbols of a file on disk (section symbol tables, then PT_DYNAMIC's).
    static func read(path: String) -> Result? {
        guard elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE) else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else { return nil }
        defer { elf_end(elf) }
        return read(elf, covers: { _ in true })
    }

    /// Symbols of a recorded file image. Section headers the recording does not hold are
    /// hidden from libelf (which refuses an image whose section table lies past its end).
    static func read(image: RecordedFile) -> Result? {
        guard elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE) else { return nil }
        var bytes = image.bytes
        // ELF64 header: e_shoff at 0x28 (8 bytes), e_shentsize 0x3a, e_shnum 0x3c, e_shstrndx 0x3e.
        guard bytes.count >= 64, bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]), bytes[4] == 2 /* ELFCLASS64 */ else { return nil }
        func field(_ at: Int, _ width: Int) -> UInt64 { (0..<width).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
        let shoff = field(0x28, 8), shentsize = field(0x3a, 2), shnum = field(0x3c, 2)
        if shoff == 0 || shnum == 0 || !image.covers(shoff..<(shoff + shentsize * shnum)) {
            for i in 0x28..<0x30 { bytes[i] = 0 }
            for i in 0x3c..<0x40 { bytes[i] = 0 }
        }
        return bytes.withUnsafeMutableBytes { buffer -> Result? in
            guard let elf = elf_memory(buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count) else { return nil }
            defer { elf_end(elf) }
            return read(elf, covers: image.covers)
        }
    }

    /// Reads the symbol tables of sections whose bytes are present (`covers`), or, when
    /// there are none, the dynamic symbol table PT_DYNAMIC points to.
    private static func read(_ elf: OpaquePointer, covers: (Range<UInt64>) -> Bool) -> Result? {
        var loads: [GElf_Phdr] = []
        var dynamic: GElf_Phdr?
        var notes: [GElf_Phdr] = []
        var phnum = 0
        if elf_getphdrnum(elf, &phnum) == 0 {
            for i in 0..<phnum {
                var ph = GElf_Phdr()
                guard gelf_getphdr(elf, Int32(i), &ph) != nil else { continue }
                switch ph.p_type {
                case UInt32(PT_LOAD): loads.append(ph)
                case UInt32(PT_DYNAMIC): dynamic = ph
                case UInt32(PT_NOTE): notes.append(ph)
                default: break
                }
            }
        }
        guard let first = loads.first else { return nil }
        var symbols = sectionSymbols(elf, covers: covers)
        if symbols.isEmpty, let dynamic { symbols = dynamicSymbols(elf, dynamic: dynamic, loads: loads, covers: covers) }
        symbols.sort { $0.start < $1.start }
        let table = Symbolizer.SymbolTable(firstLoadVaddr: first.p_vaddr & ~0xfff, firstLoadOffset: first.p_offset & ~0xfff,
                                           symbols: symbols, caveat: nil)
        return Result(table: table, buildID: buildID(elf, notes: notes, covers: covers))
    }

    private static func sectionSymbols(_ elf: OpaquePointer, covers: (Range<UInt64>) -> Bool) -> [Symbolizer.Symbol] {
        var symbols: [Symbolizer.Symbol] = []
        var section = elf_nextscn(elf, nil)
        while let scn = section {
            defer { section = elf_nextscn(elf, scn) }
            var header = GElf_Shdr()
            guard gelf_getshdr(scn, &header) != nil, header.sh_type == UInt32(SHT_SYMTAB) || header.sh_type == UInt32(SHT_DYNSYM),
                  header.sh_entsize > 0, covers(header.sh_offset..<(header.sh_offset + header.sh_size)),
                  let data = elf_getdata(scn, nil) else { continue }
            var strings = GElf_Shdr()
            guard let stringSection = elf_getscn(elf, Int(header.sh_link)), gelf_getshdr(stringSection, &strings) != nil,
                  covers(strings.sh_offset..<(strings.sh_offset + strings.sh_size)) else { continue }
            for i in 0..<Int(header.sh_size / header.sh_entsize) {
                var sym = GElf_Sym()
                guard gelf_getsym(data, Int32(i), &sym) != nil, sym.st_value != 0, (sym.st_info & 0xf) == UInt8(STT_FUNC),
                      let name = elf_strptr(elf, Int(header.sh_link), Int(sym.st_name)) else { continue }
                symbols.append(Symbolizer.Symbol(start: sym.st_value, size: sym.st_size, name: String(cString: name)))
            }
        }
        return symbols
    }

    /// `.dynsym` found without section headers: DT_SYMTAB, DT_STRTAB and DT_STRSZ from the
    /// dynamic segment; the symbol count from DT_GNU_HASH (the highest chain end) or DT_HASH
    /// (nchain). See the System V ABI, "Dynamic Section" and "Hash Table".
    private static func dynamicSymbols(_ elf: OpaquePointer, dynamic: GElf_Phdr, loads: [GElf_Phdr],
                                       covers: (Range<UInt64>) -> Bool) -> [Symbolizer.Symbol] {
        func fileOffset(_ vaddr: UInt64) -> UInt64? {
            loads.first { $0.p_vaddr <= vaddr && vaddr < $0.p_vaddr + $0.p_filesz }.map { vaddr - $0.p_vaddr + $0.p_offset }
        }
        guard covers(dynamic.p_offset..<(dynamic.p_offset + dynamic.p_filesz)),
              let dynData = elf_getdata_rawchunk(elf, Int64(dynamic.p_offset), Int(dynamic.p_filesz), ELF_T_DYN) else { return [] }
        var symtab: UInt64?, strtab: UInt64?, strsz: UInt64?, gnuHash: UInt64?, sysvHash: UInt64?
        entries: for i in 0..<(Int(dynamic.p_filesz) / MemoryLayout<Elf64_Dyn>.size) {
            var entry = GElf_Dyn()
            guard gelf_getdyn(dynData, Int32(i), &entry) != nil else { break }
            switch entry.d_tag {
            case Int64(DT_NULL): break entries
            case Int64(DT_SYMTAB): symtab = entry.d_un.d_ptr
            case Int64(DT_STRTAB): strtab = entry.d_un.d_ptr
            case Int64(DT_STRSZ): strsz = entry.d_un.d_val
            case Int64(DT_GNU_HASH): gnuHash = entry.d_un.d_ptr
            case Int64(DT_HASH): sysvHash = entry.d_un.d_ptr
            default: continue
            }
        }
        guard let symtab, let strtab, let strsz, let symOffset = fileOffset(symtab), let strOffset = fileOffset(strtab),
              covers(strOffset..<(strOffset + strsz)),
              let stringData = elf_getdata_rawchunk(elf, Int64(strOffset), Int(strsz), ELF_T_BYTE),
              let stringBase = stringData.pointee.d_buf else { return [] }
        var count: Int?
        if let gnuHash, let offset = fileOffset(gnuHash) { count = gnuHashSymbolCount(elf, offset: offset, covers: covers) }
        if count == nil, let sysvHash, let offset = fileOffset(sysvHash), covers(offset..<(offset + 8)),
           let words = elf_getdata_rawchunk(elf, Int64(offset), 8, ELF_T_WORD), let base = words.pointee.d_buf {
            count = Int(base.load(fromByteOffset: 4, as: UInt32.self))
        }
        guard let count, count > 0 else { return [] }
        let symbolBytes = count * MemoryLayout<Elf64_Sym>.size
        guard covers(symOffset..<(symOffset + UInt64(symbolBytes))),
              let symData = elf_getdata_rawchunk(elf, Int64(symOffset), symbolBytes, ELF_T_SYM) else { return [] }
        var symbols: [Symbolizer.Symbol] = []
        for i in 0..<count {
            var sym = GElf_Sym()
            guard gelf_getsym(symData, Int32(i), &sym) != nil, sym.st_value != 0, (sym.st_info & 0xf) == UInt8(STT_FUNC),
                  UInt64(sym.st_name) < strsz else { continue }
            let name = String(cString: stringBase.advanced(by: Int(sym.st_name)).assumingMemoryBound(to: CChar.self))
            symbols.append(Symbolizer.Symbol(start: sym.st_value, size: sym.st_size, name: name))
        }
        return symbols
    }

    /// The number of dynamic symbols by the GNU hash table: past the highest bucket's
    /// start, follow its chain to the entry with the low bit set.
    private static func gnuHashSymbolCount(_ elf: OpaquePointer, offset: UInt64, covers: (Range<UInt64>) -> Bool) -> Int? {
        func words(_ at: UInt64, _ count: Int) -> [UInt32]? {
            guard count > 0, covers(at..<(at + UInt64(count * 4))),
                  let data = elf_getdata_rawchunk(elf, Int64(at), count * 4, ELF_T_WORD), let base = data.pointee.d_buf else { return nil }
            return (0..<count).map { base.load(fromByteOffset: $0 * 4, as: UInt32.self) }
        }
        guard let header = words(offset, 4) else { return nil }
        let buckets = Int(header[0]), symbolOffset = header[1], bloomWords = Int(header[2])
        let bucketStart = offset + 16 + UInt64(bloomWords * 8)
        guard buckets > 0, buckets < 1 << 24, let table = words(bucketStart, buckets) else { return nil }
        guard let highest = table.max() else { return nil }
        if highest < symbolOffset { return Int(symbolOffset) }
        let chainStart = bucketStart + UInt64(buckets * 4)
        var index = highest
        while index - symbolOffset < 1 << 24 {
            guard let word = words(chainStart + UInt64(index - symbolOffset) * 4, 1)?.first else { return nil }
            if word & 1 != 0 { return Int(index) + 1 }
            index += 1
        }
        return nil
    }

    /// The GNU build id from the PT_NOTE segments, hex.
    private static func buildID(_ elf: OpaquePointer, notes: [GElf_Phdr], covers: (Range<UInt64>) -> Bool) -> String? {
        for note in notes where covers(note.p_offset..<(note.p_offset + note.p_filesz)) {
            guard let data = elf_getdata_rawchunk(elf, Int64(note.p_offset), Int(note.p_filesz), ELF_T_NHDR),
                  let base = data.pointee.d_buf else { continue }
            var offset = 0
            while offset < data.pointee.d_size {
                var header = GElf_Nhdr()
                var nameOffset = 0, descriptorOffset = 0
                let next = gelf_getnote(data, offset, &header, &nameOffset, &descriptorOffset)
                guard next > 0 else { break }
                if header.n_type == UInt32(NT_GNU_BUILD_ID), header.n_namesz == 4,
                   String(cString: base.advanced(by: nameOffset).assumingMemoryBound(to: CChar.self)) == "GNU" {
                    let bytes = UnsafeRawBufferPointer(start: base.advanced(by: descriptorOffset), count: Int(header.n_descsz))
                    return bytes.map { String(format: "%02x", $0) }.joined()
                }
                offset = next
            }
        }
        return nil
    }
}
