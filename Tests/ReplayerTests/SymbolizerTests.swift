import FixtureSupport
import Foundation
import Recorder
@testable import Replayer
import Trace
import XCTest

/// Reports name functions from the bytes the trace recorded, so they stay right after the
/// program file changes on disk (a package upgrade), and say so when they cannot.
final class SymbolizerTests: XCTestCase {
    /// A fixture is recorded, then replaced on disk by a different build; an address inside
    /// the recorded program's function still symbolizes to that function's name.
    func testNamesComeFromTheRecordedBytesAfterTheFileIsReplaced() throws {
        let original = try FixtureCompiler.build("replayer/named_function.c", flags: ["-O1", "-rdynamic"])
        let replacement = try FixtureCompiler.build("replayer/named_function.c", flags: ["-O1", "-rdynamic", "-DREPLACEMENT"])
        let work = NSTemporaryDirectory() + "magprov-symbolizer-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let program = work + "/program"
        try FileManager.default.copyItem(atPath: original, toPath: program)

        var options = RecordOptions(command: [program], outputDirectory: work + "/trace")
        options.signingKeyDirectory = nil
        let recorder = Recorder(options: options)
        recorder.log = { _ in }
        _ = try recorder.run()

        // The upgrade: the same path now holds another build.
        try FileManager.default.removeItem(atPath: program)
        try FileManager.default.copyItem(atPath: replacement, toPath: program)

        let function = try XCTUnwrap(ELFSymbols.read(path: original)?.table.symbols.first { $0.name == "recorded_original_function" },
                                     "the original build exports recorded_original_function")
        let reader = try TraceReader(directory: work + "/trace")
        let snapshot = try XCTUnwrap(reader.allEvents().events.compactMap { event -> ExecSnapshot? in
            if case .exec(let x) = event.body, x.path == program { return x } else { return nil }
        }.first, "the program's exec snapshot")
        let base = try XCTUnwrap(snapshot.mappings.first { $0.path == program && $0.offset == 0 }).start
        let address = base + function.start + 1

        let symbolizer = Symbolizer(trace: reader)
        snapshot.mappings.forEach(symbolizer.noteMapping)
        let name = try XCTUnwrap(symbolizer.symbolize(address))
        XCTAssertTrue(name.hasPrefix("recorded_original_function+0x1 in \(program)"), name)
        XCTAssertFalse(name.contains("today's file"), name)

        // Without recorded bytes the disk file is all there is, and the name says so.
        let diskOnly = Symbolizer(trace: reader)
        snapshot.mappings.map { m -> MappingSnapshot in var m = m; m.blobs = []; return m }.forEach(diskOnly.noteMapping)
        let fallback = try XCTUnwrap(diskOnly.symbolize(address))
        XCTAssertTrue(fallback.contains("symbols from today's file on disk"), fallback)
    }
}
