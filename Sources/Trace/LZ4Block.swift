// LZ4 block compression for frames and blobs (liblz4's block API).
import CLZ4

enum LZ4Block {
    /// Compressed bytes, or nil when compression would not shrink the input.
    static func compress(_ raw: [UInt8]) -> [UInt8]? {
        guard !raw.isEmpty, raw.count < Int(Int32.max) else { return nil }
        let bound = Int(LZ4_compressBound(Int32(raw.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let n = raw.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                LZ4_compress_default(src.baseAddress!.assumingMemoryBound(to: CChar.self),
                                     dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                                     Int32(raw.count), Int32(bound))
            }
        }
        guard n > 0, Int(n) < raw.count else { return nil }
        out.removeSubrange(Int(n)...)
        return out
    }

    /// Decompresses into exactly `rawLength` bytes, or nil when the input is malformed.
    static func decompress<C: Collection>(_ stored: C, rawLength: Int) -> [UInt8]? where C.Element == UInt8 {
        let input = Array(stored)
        guard !input.isEmpty, rawLength > 0 else { return rawLength == 0 ? [] : nil }
        var out = [UInt8](repeating: 0, count: rawLength)
        let n = input.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                LZ4_decompress_safe(src.baseAddress!.assumingMemoryBound(to: CChar.self),
                                    dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                                    Int32(input.count), Int32(rawLength))
            }
        }
        return n == rawLength ? out : nil
    }
}
