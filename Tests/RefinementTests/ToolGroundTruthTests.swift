// Ground truth with real tools: a three-process pipeline checked at byte ranges, sort, a
// gzip / gunzip round trip, and a Python script (Fixtures/taint/json_merge.py). The truths
// are stated next to each test; lineage composes across pipes and files written by one
// process and read by another.

import FixtureSupport
import Foundation
import Provenance
import XCTest

final class ToolGroundTruthTests: XCTestCase {
    /// `head -c 100 in | tail -c 50 | cut -b 1-20 > out`, IN without newlines:
    /// head passes IN[0, 100), tail keeps the last 50 of those (IN[50, 100)), cut keeps the
    /// first 20 bytes of the (only, unterminated) line and ends it with a newline.
    /// Truth: OUT[0, 20) <- IN[50, 70) byte for byte, through two pipes and three processes;
    /// OUT[20] is cut's '\n', a constant.
    func testHeadTailCutPipelineComposesByteRangesAcrossThreeProcesses() throws {
        let dir = GroundTruth.scratch("pipeline")
        let input = GroundTruth.noise(count: 1000, seed: 23, alphabet: Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8))
        try GroundTruth.write(input, to: "\(dir)/in")
        let refined = try GroundTruth.refine(["sh", "-c", "head -c 100 in | tail -c 50 | cut -b 1-20 > out"], in: dir)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out")), Data(input[50..<70] + [10]))

        XCTAssertEqual(refined.why("out", bytes: 0..<20), ["in 50-70"])
        XCTAssertEqual(refined.why("out", bytes: 5..<6), ["in 55-56"])
        XCTAssertEqual(refined.why("out", bytes: 0..<21), ["in 50-70"], "the newline cut adds comes from no input")
        XCTAssertEqual(refined.impact("in", bytes: 0..<1000).filter { !$0.hasPrefix("pipe") }, ["out 0-20"])
        XCTAssertEqual(refined.impact("in", bytes: 70..<1000).filter { !$0.hasPrefix("pipe") }, [])
        XCTAssertEqual(try refined.refinedWhy("out"), ["in"])
        // Each hop is a confirmed derivation: in -> pipe (head), pipe -> pipe (tail), pipe -> out (cut).
        let hops = refined.graph.edges.filter { $0.precision == .refined && $0.status == .confirmed }
            .map { "\(refined.name(refined.graph.nodes[$0.source]).split(separator: " ")[0]) -> \(refined.name(refined.graph.nodes[$0.target]).split(separator: " ")[0])" }
        XCTAssertEqual(Set(hops).intersection(["in -> pipe", "pipe -> pipe", "pipe -> out"]), ["in -> pipe", "pipe -> pipe", "pipe -> out"],
                       hops.joined(separator: "\n"))
    }

    /// `dd if=unused of=/dev/null; grep -q needle secret && echo found > out`: the shell's
    /// only link to both files is the children's exit status, which wait4 hands it.
    /// Truth: grep's status depends on SECRET's bytes (its search branched on them) and the
    /// shell's `&&` branched on the status before writing OUT: SECRET -> OUT is implicit.
    /// dd's status does not depend on UNUSED's bytes (it copied them without looking), so
    /// UNUSED -> OUT is refuted; without the exit-status sink both pairs were dropped.
    func testExitStatusCarriesControlToTheParent() throws {
        let dir = GroundTruth.scratch("status")
        try GroundTruth.write(Array("hay hay needle hay\n".utf8), to: "\(dir)/secret")
        try GroundTruth.write(GroundTruth.noise(count: 500, seed: 5), to: "\(dir)/unused")
        let refined = try GroundTruth.refine(["sh", "-c", "dd if=unused of=/dev/null bs=4096 status=none; grep -q needle secret && echo found > out"], in: dir)
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/out", encoding: .utf8), "found\n")
        refined.assertStatuses([("out", "secret", "implicit"), ("out", "unused", "refuted")])
        XCTAssertEqual(try refined.coarseWhy("out"), ["secret", "unused"])
        XCTAssertEqual(try refined.refinedWhy("out"), ["secret"])
        XCTAssertEqual(refined.why("out", bytes: 0..<6), [], "the shell's literal holds no input byte")
    }

    /// `x=$(head -c 10 in); /usr/bin/printf %s "$x" > out`: the shell reads head's output
    /// from a pipe into a variable and passes it to printf as an argument, across a fork
    /// and an exec; printf writes it. Memory does not survive an exec, the argument strings
    /// do. Truth: OUT[0, 10) <- IN[0, 10) by value (in -> pipe by head, pipe -> out through
    /// the shell's execve of printf), and IN's other bytes reach nothing.
    func testArgumentStringsCarryDataAcrossExec() throws {
        let dir = GroundTruth.scratch("argv")
        let input = GroundTruth.noise(count: 64, seed: 41, alphabet: Array("abcdefghijklmnopqrstuvwxyz".utf8))
        try GroundTruth.write(input, to: "\(dir)/in")
        let refined = try GroundTruth.refine(["sh", "-c", "x=$(head -c 10 in); /usr/bin/printf %s \"$x\" > out"], in: dir)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out")), Data(input[0..<10]))

        let confirmed = refined.graph.edges.filter { $0.precision == .refined && $0.status == .confirmed }
            .map { "\(refined.name(refined.graph.nodes[$0.source]).split(separator: " ")[0]) -> \(refined.name(refined.graph.nodes[$0.target]).split(separator: " ")[0])" }
        XCTAssertEqual(Set(confirmed).intersection(["in -> pipe", "pipe -> out"]), ["in -> pipe", "pipe -> out"],
                       confirmed.joined(separator: "\n"))
        XCTAssertEqual(refined.why("out", bytes: 0..<10), ["in 0-10"])
        // dash builds the word with its own character loop: byte k of the argument is not
        // seen as a copy of byte k of the pipe, so one output byte maps to the ten.
        XCTAssertEqual(refined.why("out", bytes: 3..<4), ["in 0-10"])
        XCTAssertEqual(refined.impact("in", bytes: 0..<64).filter { !$0.hasPrefix("pipe") }, ["out 0-10"])
        XCTAssertEqual(try refined.refinedWhy("out"), ["in"])
    }

    /// `sort in > out` (LC_ALL=C): every output line is an input line; sort compares them
    /// (branches) and copies their bytes. Truth: OUT <- IN confirmed, and by value the
    /// characters of each output line come from the same characters of that line in IN
    /// (the newline sort writes after each line is left out of the check). Lines are
    /// located with memchr, whose SSE2 scan computes positions from the bytes: the pointers
    /// to lines, hence every load through them, depend on the bytes scanned before by
    /// address dependency, so `why --bytes` may name more of IN than the line, never less.
    func testSortIsConfirmedAndEachOutputLineComesFromItsInputLine() throws {
        let dir = GroundTruth.scratch("sort")
        let words = (0..<60).map { i in "w" + String(GroundTruth.noise(count: 3 + i % 9, seed: UInt64(100 + i),
                                                                         alphabet: Array("abcdefghijklmnopqrstuvwxyz".utf8)).map { Character(UnicodeScalar($0)) }) + "\(i)" }
        let text = words.map { $0 + "\n" }.joined()
        try text.write(toFile: "\(dir)/in", atomically: false, encoding: .utf8)
        let refined = try GroundTruth.refine(["sh", "-c", "sort in > out"], in: dir)
        let sorted = words.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/out", encoding: .utf8), sorted.map { $0 + "\n" }.joined())

        refined.assertStatuses([("out", "in", "confirmed")])
        var inputOffset: [String: Int64] = [:]
        var offset: Int64 = 0
        for w in words { inputOffset[w] = offset; offset += Int64(w.utf8.count) + 1 }
        var outputOffset: Int64 = 0
        var wrongValueSources: [String] = [], missedLines: [String] = []
        for w in sorted {
            let n = Int64(w.utf8.count), from = inputOffset[w]!
            let line = outputOffset..<(outputOffset + n)
            let expected = ["in \(from)-\(from + n)"]
            let found = refined.valueSources("out", bytes: line)
            if found != expected { wrongValueSources.append("out \(line.lowerBound)-\(line.upperBound) (\(w)): \(found), expected \(expected)") }
            let origins = refined.why("out", bytes: line).compactMap { s -> Range<Int64>? in
                let bounds = s.dropFirst(3).split(separator: "-").compactMap { Int64($0) }
                return s.hasPrefix("in ") && bounds.count == 2 ? bounds[0]..<bounds[1] : nil
            }
            if !origins.contains(where: { $0.lowerBound <= from && $0.upperBound >= from + n }) { missedLines.append("\(w): \(origins)") }
            outputOffset += n + 1
        }
        XCTAssertEqual(wrongValueSources.count, 0, "lines whose value sources are not exactly their input line (first 5 of \(wrongValueSources.count)):\n" + wrongValueSources.prefix(5).joined(separator: "\n"))
        XCTAssertEqual(missedLines, [], "why --bytes must name each line's own input bytes")
        XCTAssertEqual(try refined.refinedWhy("out"), ["in"])
    }

    /// `gzip -c in > mid.gz && gunzip -c mid.gz > out`: OUT is IN again. Truth: MID.GZ <- IN
    /// and OUT <- MID.GZ confirmed (Huffman coding and LZ77 are table-driven: much of it is
    /// address dependency), so `why out` names IN end to end, and the lineage of OUT's
    /// first bytes reaches IN's first bytes. Only the first line is all literals: a later
    /// byte that deflate encoded as a back-reference is a copy of earlier output, so by
    /// value it comes from the earlier input bytes (and the match code), not from its own
    /// position in IN, whose bytes only steered the match search (branches).
    func testGzipGunzipRoundTripIsConfirmedEndToEnd() throws {
        let dir = GroundTruth.scratch("gzip")
        let text = (0..<3000).map { "line \(($0 * 7919) % 4001) \(String(repeating: "x", count: $0 % 13))\n" }.joined()
        try text.write(toFile: "\(dir)/in", atomically: false, encoding: .utf8)
        let refined = try GroundTruth.refine(["sh", "-c", "gzip -c in > mid.gz && gunzip -c mid.gz > out"], in: dir)
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/out", encoding: .utf8), text)

        refined.assertStatuses([
            ("mid.gz", "in", "confirmed"),
            ("out", "mid.gz", "confirmed"),
        ])
        let why = try refined.refinedWhy("out")
        XCTAssertTrue(why.isSuperset(of: ["in", "mid.gz"]), "\(why)")
        let origins = refined.why("out", bytes: 0..<100)
        let fromInput = origins.filter { $0.hasPrefix("in ") }.compactMap { s -> Range<Int64>? in
            let bounds = s.dropFirst(3).split(separator: "-").compactMap { Int64($0) }
            return bounds.count == 2 ? bounds[0]..<bounds[1] : nil
        }
        XCTAssertTrue(fromInput.contains { $0.lowerBound <= 0 && $0.upperBound >= 8 }, "OUT[0, 8) (\"line 0 \\n\", literals) reaches IN[0, 8): \(origins)")
        XCTAssertTrue(fromInput.allSatisfy { $0.lowerBound < 200 }, "OUT[0, 100) comes from IN's beginning: \(origins)")
    }

    /// json_merge.py: OUT's "name" and "license" values are A's and B's strings; C is
    /// parsed and dropped. Truth: OUT <- A and OUT <- B confirmed, at the string's bytes;
    /// OUT <- C implicit (the parser branched on it; issue 8's rule: never refuted).
    func testJsonMergeConfirmsTwoInputsAndTheParsedAndDroppedOneIsImplicit() throws {
        let dir = GroundTruth.scratch("json")
        let a = #"{"name": "magprov-fixture", "version": "1.2.3", "description": "alpha only", "tags": ["x", "y"]}"#
        let b = #"{"license": "Apache-2.0", "authors": ["Ada Lovelace", "Grace Hopper"], "homepage": "https://example.invalid/b"}"#
        let c = #"{"ignoredTotally": [1, 2, 3, {"deep": "value that goes nowhere"}], "zzz": null, "weight": 3.25}"#
        for (name, text) in [("A.json", a), ("B.json", b), ("C.json", c)] {
            try (text + "\n").write(toFile: "\(dir)/\(name)", atomically: false, encoding: .utf8)
        }
        let refined = try GroundTruth.refine(["/usr/bin/python3", "-I", "-S", "\(FixtureCompiler.fixturesDirectory)/taint/json_merge.py",
                                              "A.json", "B.json", "C.json", "out.json"], in: dir)
        let out = try String(contentsOfFile: "\(dir)/out.json", encoding: .utf8)
        XCTAssertEqual(out, #"{"name": "magprov-fixture", "version": "1.2.3", "license": "Apache-2.0", "authors": ["Ada Lovelace", "Grace Hopper"]}"#)

        refined.assertStatuses([
            ("out.json", "A.json", "confirmed"),
            ("out.json", "B.json", "confirmed"),
            ("out.json", "C.json", "implicit"),
        ])
        func range(of needle: String, in text: String) -> Range<Int64> {
            let r = text.range(of: needle)!
            let start = Int64(text.utf8.distance(from: text.startIndex, to: r.lowerBound))
            return start..<(start + Int64(needle.utf8.count))
        }
        for (value, source, text) in [("magprov-fixture", "A.json", a), ("Apache-2.0", "B.json", b), ("Grace Hopper", "B.json", b)] {
            let from = range(of: value, in: text)
            let origins = refined.why("out.json", bytes: range(of: value, in: out))
            XCTAssertTrue(origins.contains("\(source) \(from.lowerBound)-\(from.upperBound)"), "\(value): \(origins)")
            XCTAssertFalse(origins.contains { $0.hasPrefix("C.json") }, "\(value): \(origins)")
        }
        XCTAssertTrue(try refined.refinedWhy("out.json").isSuperset(of: ["A.json", "B.json"]))
    }
}
