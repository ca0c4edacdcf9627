// The C fixtures of Fixtures/taint, each recorded, replayed with taint and refined: the
// statuses, byte ranges and alerts must be exactly what the fixture's header states.

import Foundation
import Provenance
import XCTest

final class CProgramGroundTruthTests: XCTestCase {
    /// one_of_three.c: OUT[0, 100) <- IN2[100, 200) byte for byte; IN1 and IN3 read and dropped.
    func testOutputBuiltFromOneOfThreeInputsConfirmsItAndRefutesTheOthers() throws {
        let dir = GroundTruth.scratch("one-of-three")
        try GroundTruth.write(GroundTruth.noise(count: 5000, seed: 11), to: "\(dir)/in1")  // two read events
        try GroundTruth.write(GroundTruth.pattern(count: 300, multiplier: 7, offset: 3), to: "\(dir)/in2")
        try GroundTruth.write(GroundTruth.noise(count: 700, seed: 13), to: "\(dir)/in3")
        let refined = try GroundTruth.refine([try GroundTruth.compile("one_of_three"), "in1", "in2", "in3", "out"], in: dir)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out")),
                       Data(GroundTruth.pattern(count: 300, multiplier: 7, offset: 3)[100..<200]))

        refined.assertStatuses([
            ("out", "in2", "confirmed"),
            ("out", "in1", "refuted"),
            ("out", "in3", "refuted"),
        ])
        XCTAssertEqual(refined.flowKinds(of: "out", from: "in2"), ["value"])
        XCTAssertEqual(refined.why("out", bytes: 0..<100), ["in2 100-200"])
        XCTAssertEqual(refined.valueSources("out", bytes: 0..<100), ["in2 100-200"])
        XCTAssertEqual(refined.why("out", bytes: 10..<11), ["in2 110-111"])
        XCTAssertEqual(refined.why("out", bytes: 60..<75), ["in2 160-175"])
        XCTAssertEqual(refined.impact("in2", bytes: 0..<300), ["out 0-100"])
        XCTAssertEqual(refined.impact("in2", bytes: 0..<100), [], "IN2's first 100 bytes reach nothing")
        XCTAssertEqual(refined.impact("in1", bytes: 0..<5000), [])
        XCTAssertEqual(try refined.refinedWhy("out"), ["in2"])
        XCTAssertTrue(try refined.coarseWhy("out").isSuperset(of: ["in1", "in2", "in3"]), "the coarse graph keeps every read")
        XCTAssertEqual(refined.report.alerts.count, 0, "no alert: \(refined.alertOverview())")
    }

    /// xor_two.c: OUT[k] <- IN1[k], IN2[k]; IN3 read and dropped.
    func testXorOfTwoInputsConfirmsBothByteForByteAndRefutesTheThird() throws {
        let dir = GroundTruth.scratch("xor-two")
        let in1 = GroundTruth.pattern(count: 1000, multiplier: 13, offset: 1)
        let in2 = in1.enumerated().map { $0.element ^ UInt8(1 + $0.offset % 255) }  // differs from IN1 everywhere
        try GroundTruth.write(in1, to: "\(dir)/in1")
        try GroundTruth.write(in2, to: "\(dir)/in2")
        try GroundTruth.write(GroundTruth.noise(count: 700, seed: 17), to: "\(dir)/in3")
        let refined = try GroundTruth.refine([try GroundTruth.compile("xor_two"), "in1", "in2", "in3", "out"], in: dir)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out")), Data(zip(in1, in2).map { $0 ^ $1 }))

        refined.assertStatuses([
            ("out", "in1", "confirmed"),
            ("out", "in2", "confirmed"),
            ("out", "in3", "refuted"),
        ])
        XCTAssertEqual(refined.flowKinds(of: "out", from: "in1"), ["value"])
        XCTAssertEqual(refined.flowKinds(of: "out", from: "in2"), ["value"])
        XCTAssertEqual(refined.why("out", bytes: 0..<1000), ["in1 0-1000", "in2 0-1000"])
        XCTAssertEqual(refined.why("out", bytes: 500..<501), ["in1 500-501", "in2 500-501"])
        XCTAssertEqual(refined.why("out", bytes: 37..<45), ["in1 37-45", "in2 37-45"], "pxor keeps bytes apart")
        XCTAssertEqual(refined.valueSources("out", bytes: 37..<45), ["in1 37-45", "in2 37-45"])
        XCTAssertEqual(refined.impact("in3", bytes: 0..<700), [])
        XCTAssertEqual(try refined.refinedWhy("out"), ["in1", "in2"])
    }

    static let switchText = Array(("the quick brown fox {jumps} over 0 lazy dogs\n" + String(repeating: "aeo {}0\n", count: 40)).utf8)
        + [200, 201, 200]

    func recordTableAndSwitch(addressDependency: Bool) throws -> RefinedTrace {
        let dir = GroundTruth.scratch("table-switch")
        try GroundTruth.write(GroundTruth.noise(count: 6000, seed: 19), to: "\(dir)/in1")  // reads of 4096 + 1904
        try GroundTruth.write(Self.switchText, to: "\(dir)/in2")
        let program = try GroundTruth.compile("table_and_switch", flags: ["-O2", "-fno-tree-switch-conversion", "-fno-jump-tables"])
        let refined = try GroundTruth.refine([program, "in1", "in2", "b64", "switch"], in: dir, addressDependency: addressDependency)
        let encoded = Data(GroundTruth.noise(count: 6000, seed: 19)).base64EncodedData()
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/b64")), encoded)
        return refined
    }

    /// table_and_switch.c, base64 half: every output character is ALPHABET[index from IN1
    /// bytes]: data through address dependency only, at exact group ranges.
    func testBase64TableLookupIsConfirmedThroughAddressDependencyAtGroupRanges() throws {
        let refined = try recordTableAndSwitch(addressDependency: true)
        refined.assertStatuses([
            ("b64", "in1", "confirmed"),
            ("b64", "in2", "refuted"),
        ])
        XCTAssertEqual(refined.flowKinds(of: "b64", from: "in1"), ["address"], "a table lookup is address-only flow")
        XCTAssertEqual(refined.why("b64", bytes: 0..<8000), ["in1 0-6000"])
        XCTAssertEqual(refined.why("b64", bytes: 4..<8), ["in1 3-6"])
        XCTAssertEqual(refined.why("b64", bytes: 4..<5), ["in1 3-4"], "first character: top 6 bits of byte 3k")
        XCTAssertEqual(refined.why("b64", bytes: 5..<6), ["in1 3-5"], "second character: bytes 3k and 3k+1")
        XCTAssertEqual(refined.why("b64", bytes: 6..<7), ["in1 4-6"], "third character: bytes 3k+1 and 3k+2")
        XCTAssertEqual(refined.why("b64", bytes: 7..<8), ["in1 5-6"], "fourth character: low 6 bits of byte 3k+2")
        // Group 1365 is IN1[4095, 4098): its bytes came in two different read events.
        XCTAssertEqual(refined.why("b64", bytes: 5460..<5464), ["in1 4095-4098"])
        XCTAssertEqual(refined.impact("in1", bytes: 3..<4), ["b64 4-6"])
        XCTAssertEqual(try refined.refinedWhy("b64"), ["in1"])
    }

    /// table_and_switch.c, switch half: constants chosen by branches on IN2.
    func testSwitchOnInputBytesIsImplicitOnly() throws {
        let refined = try recordTableAndSwitch(addressDependency: true)
        refined.assertStatuses([
            ("switch", "in2", "implicit"),
            ("switch", "in1", "refuted"),
        ])
        XCTAssertEqual(refined.why("switch", bytes: 0..<Int64(Self.switchText.count)), [], "no byte of the output came from data")
        XCTAssertEqual(try refined.refinedWhy("switch"), ["in2"], "refined lineage follows implicit derivations")
        XCTAssertGreaterThanOrEqual(refined.report.implicit, 1)
    }

    /// With `--address-dependency off` the base64 lookup carries no labels and nothing else
    /// links IN1 to the output: what the option gives up.
    func testBase64WithoutAddressDependencyIsRefuted() throws {
        let refined = try recordTableAndSwitch(addressDependency: false)
        refined.assertStatuses([
            ("b64", "in1", "refuted"),
            ("b64", "in2", "refuted"),
            ("switch", "in2", "implicit"),
            ("switch", "in1", "refuted"),
        ])
        XCTAssertEqual(refined.why("b64", bytes: 0..<8000), [])
    }

    /// code_pointer.c: the call target's value is built from IN[0, 8) by XOR: one alert,
    /// at the indirect call in main, naming IN's bytes 0-8; OUT[0, 8) <- IN[8, 16).
    func testCodePointerBuiltFromInputBytesIsAnAlert() throws {
        let dir = GroundTruth.scratch("code-pointer")
        let input = GroundTruth.pattern(count: 64, multiplier: 1, offset: 16)
        try GroundTruth.write(input, to: "\(dir)/in")
        let refined = try GroundTruth.refine([try GroundTruth.compile("code_pointer"), "in", "out"], in: dir)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out")), Data(input[8..<16]))

        let mine = refined.alerts(from: "in")
        XCTAssertEqual(mine.count, 1, "exactly one alert comes from IN: \(mine.map(\.text))")
        XCTAssertEqual(refined.report.alerts.count, 1, "no other alert: \(refined.alertOverview())")
        let alert = try XCTUnwrap(mine.first)
        XCTAssertTrue(alert.executable.hasSuffix("/code_pointer-O2"), alert.executable)
        XCTAssertTrue(alert.function?.hasPrefix("main+") ?? false, alert.text)
        XCTAssertTrue(alert.replayCompleted)
        XCTAssertEqual(refined.sources(of: alert), ["in 0-8"], alert.text)

        refined.assertStatuses([("out", "in", "confirmed")])
        XCTAssertEqual(refined.why("out", bytes: 0..<8), ["in 8-16"])
        XCTAssertTrue(alert.instruction.contains("call"), "the alert names the indirect call itself: \(alert.text)")
    }

    /// jump_table.c: a PIE jump table indexed by input bytes (-O2, 12 dense cases): the
    /// target is loaded at an input-derived address, not computed from input: no alert.
    func testJumpTableIndexedByInputBytesIsNoAlert() throws {
        let dir = GroundTruth.scratch("jump-table")
        let text = Array(String(repeating: "abcdefghijklmnopqrstuvwxyz\n", count: 20).utf8)
        try GroundTruth.write(text, to: "\(dir)/in")
        let refined = try GroundTruth.refine([try GroundTruth.compile("jump_table", flags: ["-O2", "-fno-tree-switch-conversion"]), "in", "out"],
                                             in: dir)
        let letters = Array("12358DLYx!#%".utf8)  // what 'a'...'l' select; anything else gives '-'
        let expected = text.map { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "l") ? letters[Int($0 - UInt8(ascii: "a"))] : UInt8(ascii: "-") }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out")), Data(expected))

        XCTAssertEqual(refined.alerts(from: "in").map(\.text), [], "the jump table indexed by IN's bytes is no alert")
        XCTAssertEqual(refined.report.alerts.count, 0, "no alert at all: \(refined.alertOverview())")
        refined.assertStatuses([("out", "in", "implicit")])
        XCTAssertEqual(refined.why("out", bytes: 0..<Int64(text.count)), [])
    }
}
