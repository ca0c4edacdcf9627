// The trace reader as a fuzz target (issue 11): event streams, raw events, blob files,
// manifest.json and checkpoints.jsonl, told apart by their first bytes. Built normally it replays files given as
// arguments through the same entry point (a corpus check, or reproducing a crash); built by
// `Scripts/fuzz-trace-reader` with `-sanitize=fuzzer -DFUZZING` it hands the same entry
// point to libFuzzer's driver (`LLVMFuzzerRunDriver`: SwiftPM wants an executable's own
// main, so libFuzzer's is not used). Any outcome but events or a TraceError (a trap, a
// crash, a hang) is a bug in the reader.

import Foundation
import Trace

/// What an input is, by its first bytes.
enum FuzzInputKind {
    /// A whole stream file ("MPSTRM01").
    case stream
    /// A blob file: an LZ4 frame (magic 0x184D2204, little-endian).
    case blob
    /// manifest.json or checkpoints.jsonl (starts with "{").
    case json
    /// Anything else: the raw bytes of a frame's events, decoded with no chain in the way.
    case events

    init(_ bytes: [UInt8]) {
        if bytes.starts(with: Array("MPSTRM01".utf8)) { self = .stream }
        else if bytes.starts(with: [0x04, 0x22, 0x4D, 0x18]) { self = .blob }
        else if bytes.first == UInt8(ascii: "{") { self = .json }
        else { self = .events }
    }
}

/// Runs one input through the parsers of its kind and what reads their results (a
/// manifest's commitment and signature, each checkpoint's root and signature).
/// - Returns: a line saying what came of it.
@discardableResult
func runFuzzInput(_ bytes: [UInt8]) -> String {
    do {
        switch FuzzInputKind(bytes) {
        case .stream:
            return "\(try TraceFuzzing.readStream(bytes).count) events"
        case .events:
            return "\(try TraceFuzzing.decodeEvents(bytes).count) events"
        case .blob:
            // The name is not part of the input: every frame that decodes then fails the
            // content hash, after the LZ4 frame checks this is about.
            return "blob of \(try BlobStore.decode(bytes, id: "(fuzzed)").count) bytes"
        case .json:
            var parts: [String] = []
            if let manifest = try? JSONDecoder().decode(TraceManifest.self, from: Data(bytes)) {
                let root = TraceCommitment.root(headerDigest: manifest.headerDigest, manifest: manifest)
                let signed = manifest.signature?.isValid(root: manifest.rootChain) ?? false
                parts.append("manifest, commitment \(root == manifest.rootChain ? "holds" : "fails"), signature \(signed)")
            }
            let (checkpoints, problem) = TraceCheckpoints.parse(Data(bytes))
            for c in checkpoints { _ = (c.computedRoot() == c.root, c.hasValidSignature) }
            if parts.isEmpty || !checkpoints.isEmpty {
                parts.append("\(checkpoints.count) checkpoints" + (problem.map { "; \($0)" } ?? ""))
            }
            return parts.joined(separator: "; ")
        }
    } catch {
        return "\(error)"
    }
}

/// libFuzzer's callback: any outcome but a result or a thrown error (a trap, a crash, a
/// hang) is a bug.
func traceReaderFuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    runFuzzInput(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

@main
struct TraceReaderFuzzer {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { traceReaderFuzzInput($0, $1) })
        #else
        let files = CommandLine.arguments.dropFirst()
        if files.isEmpty {
            FileHandle.standardError.write("usage: TraceReaderFuzzer FILE... (streams, blobs, manifest.json, checkpoints.jsonl)\n".data(using: .utf8)!)
            exit(2)
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                print("\(file): unreadable")
                continue
            }
            print("\(file): \(runFuzzInput(Array(data)))")
        }
        #endif
    }
}
