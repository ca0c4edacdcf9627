// Turns a syscall's WriteRules into concrete guest address ranges. The recorder calls
// `entryState` at the syscall-entry stop (to remember in/out lengths such as a socklen_t
// before the kernel overwrites it) and `outputRegions` at the exit stop, then copies the
// bytes of those ranges into the trace.

/// Reads the traced task's memory. Returns nil when the range is not readable.
public protocol TaskMemoryReader {
    func readBytes(at address: UInt64, count: Int) -> [UInt8]?
}

/// One guest range the kernel wrote.
public struct OutputRegion: Equatable, Sendable {
    public var address: UInt64
    public var length: Int
    public init(address: UInt64, length: Int) {
        self.address = address
        self.length = length
    }
}

/// Values read at syscall entry that bound what the kernel may write at exit.
public struct EntryState: Sendable {
    /// Entry value of the `socklen_t` at argument n, for `.lengthAt(n)` rules.
    var lengths: [Int: UInt32] = [:]
    /// recvmsg: the msghdr's name and control buffer lengths at entry.
    var msgNameLength: UInt32 = 0
    var msgControlLength: UInt64 = 0
    /// For `.iovecIfReadEnd`: the descriptor was open read-only at entry.
    var readEnd = false
    public init() {}
}

/// Upper bound on any single capture, so a hostile length cannot make the recorder
/// allocate without limit (the kernel itself caps I/O at 0x7ffff000 bytes).
public let maximumCaptureLength = 0x7fff_f000

extension SyscallSpec {
    /// - Parameter isReadOnly: whether a descriptor of the task is open O_RDONLY (the
    ///   recorder reads /proc/TID/fdinfo); asked only for `.iovecIfReadEnd` rules.
    public func entryState(arguments: [UInt64], memory: TaskMemoryReader,
                           isReadOnly: (Int32) -> Bool = { _ in false }) -> EntryState {
        var state = EntryState()
        for rule in writes {
            switch rule {
            case .iovecIfReadEnd(_, _, let fd):
                state.readEnd = isReadOnly(Int32(truncatingIfNeeded: arguments[fd]))
            case .buffer(_, .lengthAt(let n)):
                if arguments[n] != 0, let v = memory.readUInt32(at: arguments[n]) { state.lengths[n] = v }
            case .buffer(let p, .selfSized):
                if arguments[p] != 0, let v = memory.readUInt32(at: arguments[p]) { state.lengths[p] = v }
            case .msghdr(let p):
                guard arguments[p] != 0, let header = memory.readBytes(at: arguments[p], count: 56) else { break }
                state.msgNameLength = header.loadUInt32(at: 8)
                state.msgControlLength = header.loadUInt64(at: 40)
            default:
                break
            }
        }
        return state
    }

    /// The ranges the kernel wrote, given the arguments and the result. Failed calls
    /// (negative results) write only the fixed-size structures some of them still fill
    /// (e.g. nanosleep's remaining time on EINTR).
    public func outputRegions(arguments: [UInt64], result: Int64, entry: EntryState,
                              memory: TaskMemoryReader) -> [OutputRegion] {
        var regions: [OutputRegion] = []
        func add(_ address: UInt64, _ length: Int) {
            guard address != 0, length > 0 else { return }
            regions.append(OutputRegion(address: address, length: min(length, maximumCaptureLength)))
        }
        let failed = result < 0
        for rule in writes {
            switch rule {
            case .buffer(let p, let size):
                let length: Int
                switch size {
                case .fixed(let n): length = n
                case .argument(let n): length = failed ? 0 : Int(truncatingIfNeeded: min(arguments[n], UInt64(maximumCaptureLength)))
                case .argumentPlus(let n, let k):
                    length = failed ? 0 : Int(truncatingIfNeeded: min(arguments[n], UInt64(maximumCaptureLength))) + k
                case .result: length = failed ? 0 : Int(result)
                case .resultPlus(let k): length = failed ? 0 : Int(min(result, Int64(maximumCaptureLength))) + k
                case .bitmask(let n): length = failed ? 0 : Int((min(arguments[n], 1 << 20) + 63) / 64 * 8)
                case .selfSized(let header):
                    guard !failed, arguments[p] != 0, let after = memory.readUInt32(at: arguments[p]) else { continue }
                    length = header + Int(min(after, entry.lengths[p] ?? after))
                case .resultTimes(let k): length = failed ? 0 : Int(min(result, Int64(maximumCaptureLength))) * k
                case .argumentTimes(let n, let k):
                    length = failed ? 0 : Int(truncatingIfNeeded: min(arguments[n], UInt64(maximumCaptureLength))) * k
                case .lengthAt(let n):
                    guard !failed, arguments[n] != 0, let after = memory.readUInt32(at: arguments[n]) else { continue }
                    length = Int(min(after, entry.lengths[n] ?? after))
                }
                add(arguments[p], length)
            case .iovecIfReadEnd(let p, let countArgument, _):
                guard !failed, entry.readEnd else { continue }
                regions += iovecRegions(at: arguments[p], count: arguments[countArgument],
                                        total: Int(result), memory: memory)
            case .iovec(let p, let countArgument):
                guard !failed else { continue }
                regions += iovecRegions(at: arguments[p], count: arguments[countArgument],
                                        total: Int(result), memory: memory)
            case .msghdr(let p):
                guard !failed, arguments[p] != 0,
                      let header = memory.readBytes(at: arguments[p], count: 56) else { continue }
                add(arguments[p], 56)
                let name = header.loadUInt64(at: 0), nameLength = header.loadUInt32(at: 8)
                add(name, Int(min(nameLength, entry.msgNameLength)))
                regions += iovecRegions(at: header.loadUInt64(at: 16), count: header.loadUInt64(at: 24),
                                        total: Int(result), memory: memory)
                let control = header.loadUInt64(at: 32), controlLength = header.loadUInt64(at: 40)
                add(control, Int(min(controlLength, entry.msgControlLength)))
            case .mmsghdrs(let p):
                // struct mmsghdr { struct msghdr msg_hdr; unsigned msg_len; } (64 bytes); the
                // result counts the messages received. Name and control lengths are the ones
                // the kernel stored back (no larger than the buffers given).
                guard !failed, arguments[p] != 0 else { continue }
                for i in 0..<Int(min(result, 1024)) {
                    let at = arguments[p] + UInt64(i * 64)
                    guard let header = memory.readBytes(at: at, count: 64) else { break }
                    add(at, 64)
                    add(header.loadUInt64(at: 0), Int(min(header.loadUInt32(at: 8), 128)))
                    regions += iovecRegions(at: header.loadUInt64(at: 16), count: header.loadUInt64(at: 24),
                                            total: Int(header.loadUInt32(at: 56)), memory: memory)
                    add(header.loadUInt64(at: 32), Int(min(header.loadUInt64(at: 40), 1 << 16)))
                }
            case .sysvControl(let p, let statCommands, let statSize, let infoCommands, let infoSize):
                guard !failed else { continue }
                let command = arguments[1] & ~0x100  // IPC_64
                if statCommands.contains(command) { add(arguments[p], statSize) }
                if infoCommands.contains(command) { add(arguments[p], infoSize) }
            case .keyctl:
                guard !failed else { continue }
                switch arguments[0] {
                case 6, 11, 17:  // KEYCTL_DESCRIBE, KEYCTL_READ, KEYCTL_GET_SECURITY
                    add(arguments[2], Int(min(UInt64(result), arguments[3], UInt64(maximumCaptureLength))))
                default: break
                }
            case .xattrArgs(let p):
                // struct xattr_args { __aligned_u64 value; __u32 size; __u32 flags; }
                guard !failed, arguments[p] != 0, let args = memory.readBytes(at: arguments[p], count: 16) else { continue }
                add(args.loadUInt64(at: 0), Int(min(UInt64(result), UInt64(args.loadUInt32(at: 8)))))
            case .fdSet(let p):
                let nfds = min(arguments[0], 1 << 20)
                add(arguments[p], Int((nfds + 63) / 64 * 8))
            case .ioctl:
                guard !failed else { continue }
                add(arguments[2], ioctlWriteLength(request: arguments[1]))
            case .fcntl:
                let getLock: Set<UInt64> = [5, 36]  // F_GETLK, F_OFD_GETLK
                if !failed && getLock.contains(arguments[1]) { add(arguments[2], 32) }
            case .archPrctl:
                if !failed && (arguments[0] == 0x1003 || arguments[0] == 0x1004) { add(arguments[1], 8) }
            case .cloneArgs:
                // struct clone_args: flags@0, pidfd@8, child_tid@16, parent_tid@24.
                guard !failed, let args = memory.readBytes(at: arguments[0], count: 32) else { continue }
                let flags = args.loadUInt64(at: 0)
                if flags & 0x1000 != 0 { add(args.loadUInt64(at: 8), 4) }         // CLONE_PIDFD
                if flags & 0x0010_0000 != 0 { add(args.loadUInt64(at: 24), 4) }   // CLONE_PARENT_SETTID
            case .prctl:
                if !failed && arguments[0] == 16 { add(arguments[1], 16) }   // PR_GET_NAME
                if !failed && arguments[0] == 2 { add(arguments[1], 4) }     // PR_GET_PDEATHSIG
            }
        }
        return regions
    }
}

/// Legacy ioctl requests (numbered before the `_IOC` encoding, so direction and size are
/// zero) whose memory effects magprov knows, with the bytes each writes through argument 2
/// (ioctl_tty(2), ioctl_fionread, ioctl_fioclex, netdevice(7)). Any other unencoded request is
/// refused: it might write memory of a size nothing tells.
let legacyIoctlWrites: [UInt64: Int] = [
    0x5401: 36,  // TCGETS: struct termios (kernel layout)
    0x5402: 0, 0x5403: 0, 0x5404: 0,  // TCSETS, TCSETSW, TCSETSF
    0x5405: 20,  // TCGETA: struct termio
    0x5406: 0, 0x5407: 0, 0x5408: 0, 0x5409: 0, 0x540A: 0, 0x540B: 0,  // TCSETA*, TCSBRK, TCXONC, TCFLSH
    0x540C: 0, 0x540D: 0, 0x540E: 0,  // TIOCEXCL, TIOCNXCL, TIOCSCTTY
    0x540F: 4, 0x5410: 0,  // TIOCGPGRP, TIOCSPGRP
    0x5411: 4,  // TIOCOUTQ
    0x5412: 0,  // TIOCSTI
    0x5413: 8, 0x5414: 0,  // TIOCGWINSZ, TIOCSWINSZ
    0x5415: 4, 0x5416: 0, 0x5417: 0, 0x5418: 0,  // TIOCMGET, TIOCMBIS, TIOCMBIC, TIOCMSET
    0x541B: 4,  // FIONREAD
    0x541C: 0, 0x541D: 0,  // TIOCLINUX (reads a subcode byte), TIOCCONS
    0x5421: 0, 0x5422: 0,  // FIONBIO, TIOCNOTTY
    0x5424: 4, 0x5423: 0,  // TIOCGETD, TIOCSETD
    0x5425: 0, 0x5427: 0, 0x5428: 0,  // TCSBRKP, TIOCSBRK, TIOCCBRK
    0x5429: 4,  // TIOCGSID
    0x5450: 0, 0x5451: 0, 0x5452: 0,  // FIONCLEX, FIOCLEX, FIOASYNC
    0x5441: 0,  // TIOCGPTPEER (returns a descriptor)
    0x5460: 8,  // FIOQSIZE: loff_t
    0x125F: 0, 0x1261: 0, 0x1260: 8, 0x1268: 4,  // BLKRRPART, BLKFLSBUF, BLKGETSIZE, BLKSSZGET
    0x8912: 16, 0x8913: 40, 0x8915: 40, 0x8921: 40, 0x8927: 40, 0x8933: 40, 0x8942: 40,  // SIOC*: ifconf, struct ifreq
]

/// Whether `request` is an ioctl request with no `_IOC` encoding that is not among the
/// legacy requests magprov knows (`legacyIoctlWrites`).
public func isUnknownLegacyIoctl(request: UInt64) -> Bool {
    let r = request & 0xffff_ffff
    return (r >> 30) & 3 == 0 && (r >> 16) & 0x3fff == 0 && legacyIoctlWrites[r] == nil
}

/// Bytes an ioctl writes through its third argument: `_IOC_READ` requests encode their
/// size (asm-generic/ioctl.h: nr 8 bits, type 8, size 14, direction 2); the legacy
/// requests predate the encoding and come from `legacyIoctlWrites`.
public func ioctlWriteLength(request: UInt64) -> Int {
    let r = request & 0xffff_ffff
    if let known = legacyIoctlWrites[r] { return known }
    let direction = (r >> 30) & 3
    return direction & 2 != 0 ? Int((r >> 16) & 0x3fff) : 0
}

func iovecRegions(at address: UInt64, count: UInt64, total: Int, memory: TaskMemoryReader) -> [OutputRegion] {
    guard address != 0, count > 0, count <= 1024, total > 0,
          let raw = memory.readBytes(at: address, count: Int(count) * 16) else { return [] }
    var remaining = total
    var regions: [OutputRegion] = []
    for i in 0..<Int(count) where remaining > 0 {
        let base = raw.loadUInt64(at: i * 16), length = Int(min(raw.loadUInt64(at: i * 16 + 8), UInt64(remaining)))
        if base != 0 && length > 0 { regions.append(OutputRegion(address: base, length: length)) }
        remaining -= length
    }
    return regions
}

extension TaskMemoryReader {
    public func readUInt32(at address: UInt64) -> UInt32? {
        readBytes(at: address, count: 4).map { $0.loadUInt32(at: 0) }
    }
    public func readUInt64(at address: UInt64) -> UInt64? {
        readBytes(at: address, count: 8).map { $0.loadUInt64(at: 0) }
    }
    /// A NUL-terminated string of at most `limit` bytes, read page-safely in chunks; a
    /// chunk that runs into unreadable memory is retried smaller, down to single bytes,
    /// so a string that ends just before the end of a mapping is still found.
    public func readCString(at address: UInt64, limit: Int = 4096) -> String? {
        guard address != 0 else { return nil }
        var bytes: [UInt8] = []
        var cursor = address
        var chunkLength = 256
        while bytes.count < limit {
            let toPageEnd = Int(4096 - (cursor & 4095))
            guard let chunk = readBytes(at: cursor, count: min(toPageEnd, chunkLength)) else {
                if chunkLength == 1 { break }
                chunkLength = chunkLength > 16 ? 16 : 1
                continue
            }
            if let nul = chunk.firstIndex(of: 0) { bytes += chunk[..<nul]; return String(decoding: bytes, as: UTF8.self) }
            bytes += chunk
            cursor += UInt64(chunk.count)
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    @inlinable public func loadUInt64(at offset: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 where offset + i < count { v |= UInt64(self[offset + i]) << (8 * UInt64(i)) }
        return v
    }
    @inlinable public func loadUInt32(at offset: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: loadUInt64(at: offset) & 0xffff_ffff)
    }
}
