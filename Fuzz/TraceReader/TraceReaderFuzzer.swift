// The trace reader as a fuzz target (issue 11). Built normally it replays files given as
// arguments through the same entry point (a corpus check, or reproducing a crash); built by
// `Scripts/fuzz-trace-reader` with `-sanitize=fuzzer -DFUZZING` it hands the same entry
// point to libFuzzer's driver (`LLVMFuzzerRunDriver`: SwiftPM wants an executable's own
// main, so libFuzzer's is not used). Any outcome but events or a TraceError (a trap, a
// crash, a hang) is a bug in the reader.

import Foundation
import Trace

/// One input: a whole stream file (it starts with the stream magic "MPSTRM01"), or else
/// the raw bytes of a frame's events, decoded with no chain in the way.
func traceReaderFuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.starts(with: Array("MPSTRM01".utf8)) {
        _ = try? TraceFuzzing.readStream(bytes)
    } else {
        _ = try? TraceFuzzing.decodeEvents(bytes)
    }
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
            FileHandle.standardError.write("usage: TraceReaderFuzzer STREAM-FILE...\n".data(using: .utf8)!)
            exit(2)
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                print("\(file): unreadable")
                continue
            }
            do {
                let bytes = Array(data)
                let events = bytes.starts(with: Array("MPSTRM01".utf8)) ? try TraceFuzzing.readStream(bytes)
                                                                          : try TraceFuzzing.decodeEvents(bytes)
                print("\(file): \(events.count) events")
            } catch {
                print("\(file): \(error)")
            }
        }
        #endif
    }
}
