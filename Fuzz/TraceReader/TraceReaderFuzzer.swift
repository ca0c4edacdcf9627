// The trace reader as a fuzz target (issue 11). Built normally it replays files given as
// arguments through the same entry point (a corpus check, or reproducing a crash); built by
// `Scripts/fuzz-trace-reader` with `-sanitize=fuzzer -DFUZZING` it is a libFuzzer binary.
// Any outcome but events or a TraceError (a trap, a crash, a hang) is a bug in the reader.

import Foundation
import Trace

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func traceReaderFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? TraceFuzzing.readStream(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#else
@main
struct TraceReaderFuzzer {
    static func main() {
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
                let events = try TraceFuzzing.readStream(Array(data))
                print("\(file): \(events.count) events")
            } catch {
                print("\(file): \(error)")
            }
        }
    }
}
#endif
