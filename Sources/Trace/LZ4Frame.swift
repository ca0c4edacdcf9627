// Standard LZ4 frames (the LZ4 Frame Format 1.6.x, liblz4's LZ4F_* API) for blob files, so
// that stock tools read them: `lz4 -t FILE` checks one, `lz4 -dc FILE` prints its bytes.
// Each blob is one frame with its content size in the header, independent blocks of at
// most 1 MiB (a blob is at most one block), and the xxHash-32 content checksum at the end.

import CLZ4

enum LZ4Frame {
    /// One frame holding `raw`. Incompressible blocks are stored raw by liblz4 itself.
    /// Cost: LZ4's fast mode, about 0.5 GB/s; allocates the frame bound once.
    static func compress(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.blockSizeID = LZ4F_max1MB
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        preferences.frameInfo.contentSize = UInt64(raw.count)
        let bound = LZ4F_compressFrameBound(raw.count, &preferences)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            LZ4F_compressFrame(dst.baseAddress, bound, raw.baseAddress, raw.count, &preferences)
        }
        // Cannot fail with a destination of the bound's size; an error here is a liblz4 bug.
        precondition(LZ4F_isError(written) == 0, "LZ4F_compressFrame: \(String(cString: LZ4F_getErrorName(written)))")
        out.removeSubrange(written...)
        return out
    }

    /// Why a frame could not be decoded.
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// The content of the single frame `frame`, which must declare its content size, at
    /// most `maximumLength`, and must hold nothing after its end (checksum verified by liblz4).
    static func decompress(_ frame: [UInt8], maximumLength: Int) throws -> [UInt8] {
        guard frame.count >= 7 else { throw Malformed(description: "\(frame.count) bytes cannot hold an LZ4 frame") }
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            throw Malformed(description: "cannot create an LZ4 decompression context")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        return try frame.withUnsafeBytes { src -> [UInt8] in
            var info = LZ4F_frameInfo_t()
            var consumed = src.count
            let hint = LZ4F_getFrameInfo(context, &info, src.baseAddress, &consumed)
            if LZ4F_isError(hint) != 0 {
                throw Malformed(description: "not an LZ4 frame: \(String(cString: LZ4F_getErrorName(hint)))")
            }
            guard info.contentSize > 0 || frame.count <= 32 else {
                throw Malformed(description: "the LZ4 frame does not declare its content size")
            }
            guard info.contentSize <= UInt64(maximumLength) else {
                throw Malformed(description: "the LZ4 frame declares \(info.contentSize) bytes, more than \(maximumLength)")
            }
            var out = [UInt8](repeating: 0, count: Int(info.contentSize))
            var produced = 0
            var position = consumed
            while true {
                var outputSize = out.count - produced
                var inputSize = src.count - position
                let result = out.withUnsafeMutableBytes { dst in
                    LZ4F_decompress(context, dst.baseAddress.map { $0 + produced }, &outputSize,
                                    src.baseAddress! + position, &inputSize, nil)
                }
                if LZ4F_isError(result) != 0 {
                    throw Malformed(description: "LZ4 frame: \(String(cString: LZ4F_getErrorName(result)))")
                }
                produced += outputSize
                position += inputSize
                if result == 0 { break }  // frame fully decoded, checksum verified
                if inputSize == 0 && outputSize == 0 {
                    throw Malformed(description: "the LZ4 frame ends early (\(src.count) bytes)")
                }
            }
            guard produced == out.count else {
                throw Malformed(description: "the LZ4 frame holds \(produced) bytes, its header says \(out.count)")
            }
            guard position == src.count else {
                throw Malformed(description: "\(src.count - position) bytes follow the LZ4 frame")
            }
            return out
        }
    }
}
