// Where the recorder looks for rdrand/rdseed/rdpid: a linear sweep from the start of the
// function that holds each candidate (`.eh_frame_hdr`'s table) must find exactly the
// instructions a sweep of the whole mapping finds, on real files that contain candidates.

@testable import Recorder
import Foundation
import XCTest

final class NondeterministicCodeTests: XCTestCase {
    /// The executable PT_LOAD segment of an ELF file: file offset, size and virtual address
    /// (read by `readelf`, an independent reader, so the test does not check libelf with itself).
    func executableSegment(_ path: String) throws -> (offset: UInt64, size: Int, vaddr: UInt64) {
        let output = try Process.capture("/usr/bin/readelf", ["-lW", path])
        for line in output.split(separator: "\n") where line.contains("LOAD") && line.contains(" R E ") {
            let fields = line.split(separator: " ")
            guard fields.count >= 6, let offset = UInt64(fields[1].dropFirst(2), radix: 16),
                  let vaddr = UInt64(fields[2].dropFirst(2), radix: 16), let size = Int(fields[4].dropFirst(2), radix: 16)
            else { continue }
            return (offset, size, vaddr)
        }
        throw XCTSkip("\(path) has no executable segment readelf shows")
    }

    func testFunctionStartSweepFindsWhatAWholeSweepFinds() throws {
        let files = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
                     "/usr/lib/gcc/x86_64-linux-gnu/12/cc1"].filter { FileManager.default.fileExists(atPath: $0) }
        guard !files.isEmpty else { throw XCTSkip("none of the sample files is installed") }
        var withSites = 0
        for path in files {
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            let segment = try executableSegment(real)
            let data = try XCTUnwrap(FileManager.default.contents(atPath: real))
            let code = Array(data[Int(segment.offset)..<Int(segment.offset) + segment.size])
            var info = stat()
            XCTAssertEqual(stat(real, &info), 0)
            let table = try XCTUnwrap(UnwindFunctionStarts(path: real, device: UInt64(info.st_dev), inode: UInt64(info.st_ino)),
                                      "\(real) has an .eh_frame_hdr table")
            let starts = table.offsets(fileOffset: segment.offset, length: segment.size)
            XCTAssertGreaterThan(starts.count, 100, real)
            let whole = NondeterministicCodeScanner().sites(in: code, address: segment.vaddr, cacheKey: nil)
            let byFunction = NondeterministicCodeScanner().sites(in: code, address: segment.vaddr, cacheKey: nil, functionStarts: starts)
            XCTAssertEqual(byFunction, whole, real)
            if !whole.isEmpty { withSites += 1 }
        }
        // The comparison means something only where there is something to find.
        XCTAssertGreaterThan(withSites, 0, "no sample file has a rdrand/rdseed/rdpid")
    }

    /// A table from another file (device and inode not those of the path) is refused.
    func testFunctionStartsRefuseAnotherFile() throws {
        XCTAssertNil(UnwindFunctionStarts(path: "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", device: 0, inode: 1))
    }
}

private extension Process {
    static func capture(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
