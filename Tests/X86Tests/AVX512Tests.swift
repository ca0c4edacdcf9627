// AVX-512 groundwork (issue 9): the EVEX prefix fields, and the element semantics in
// AVX512.swift checked against this CPU (Fixtures/x86/avx512_semantics.c prints inputs and
// the hardware's results; skipped on a CPU without avx512f/bw/vl).
import FixtureSupport
import Foundation
import X86
import XCTest

final class AVX512Tests: XCTestCase {
    func testEVEXPrefixOfVpbroadcastbFromGlibcStrchr() throws {
        // 62 e2 7d 28 7a ce: vpbroadcastb ymm17, esi (libc.so.6 __strchr_evex).
        let p = try XCTUnwrap(EVEXPrefix.parse([0x62, 0xE2, 0x7D, 0x28, 0x7A, 0xCE]))
        XCTAssertEqual(p.map, 2)
        XCTAssertEqual(p.pp, 1)
        XCTAssertFalse(p.w)
        XCTAssertTrue(p.rPrime)
        XCTAssertFalse(p.r)
        XCTAssertEqual(p.vectorBytes, 32)
        XCTAssertEqual(p.mask, 0)
        XCTAssertFalse(p.zeroing)
        XCTAssertEqual(p.vvvv, 0)
        XCTAssertEqual(p.prefixLength, 4)
        // 62 f1 7f a9 6f 07: vmovdqu8 ymm0 {k1} {z}, [rdi].
        let m = try XCTUnwrap(EVEXPrefix.parse([0x62, 0xF1, 0x7F, 0xA9, 0x6F, 0x07]))
        XCTAssertEqual(m.map, 1)
        XCTAssertEqual(m.pp, 3)
        XCTAssertEqual(m.mask, 1)
        XCTAssertTrue(m.zeroing)
        XCTAssertEqual(m.vectorBytes, 32)
        XCTAssertFalse(m.rPrime)
        // 62 e1 fe 48 6f 07 is vmovdqu64 zmm16, [rdi]: 512 bits, W1, F3.
        let z = try XCTUnwrap(EVEXPrefix.parse([0x62, 0xE1, 0xFE, 0x48, 0x6F, 0x07]))
        XCTAssertEqual(z.vectorBytes, 64)
        XCTAssertTrue(z.w)
        XCTAssertEqual(z.pp, 2)
        XCTAssertTrue(z.rPrime)
        XCTAssertFalse(z.r)
        // Not EVEX: a VEX prefix, and 62h with the fixed bits wrong.
        XCTAssertNil(EVEXPrefix.parse([0xC5, 0xFD, 0x6F, 0x07]))
        XCTAssertNil(EVEXPrefix.parse([0x62, 0xF1, 0x79, 0x28, 0x6F]))
    }

    func testMaskInstructionIdentities() {
        XCTAssertTrue(AVX512Semantics.kortest(0, 0, bits: 32).zf)
        XCTAssertTrue(AVX512Semantics.kortest(0xFFFF_0000, 0xFFFF, bits: 32).cf)
        XCTAssertFalse(AVX512Semantics.kortest(0xFFFF_0000, 0xFFFF, bits: 64).cf)
        XCTAssertEqual(AVX512Semantics.kunpack(0x1234_5678_AB, 0xCD, halfBits: 8), 0xABCD)
    }

    private static func bytes(_ hex: Substring) -> [UInt8] {
        var out = [UInt8]()
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }

    /// Every case the fixture prints: the Swift semantics give the hardware's result.
    func testSemanticsMatchThisCPU() throws {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        for feature in ["avx512f", "avx512bw", "avx512vl"] where !flags.contains(" \(feature)") {
            throw XCTSkip("this CPU has no \(feature): the AVX-512 differential test needs avx512f, avx512bw and avx512vl")
        }
        let binary = try FixtureCompiler.build("x86/avx512_semantics.c", flags: ["-O1", "-mavx512f", "-mavx512bw", "-mavx512vl"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        var checked = 0
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f[0] == "kunpckdq" {
                let x = UInt64(f[1], radix: 16)!, y = UInt64(f[2], radix: 16)!
                XCTAssertEqual(AVX512Semantics.kunpack(x, y, halfBits: 32), UInt64(f[3], radix: 16)!, String(line))
                checked += 1
                continue
            }
            guard f.count == 7 else { XCTFail("bad fixture line: \(line)"); continue }
            let param = UInt32(f[1])!
            let a = Self.bytes(f[2]), b = Self.bytes(f[3]), c = Self.bytes(f[4])
            let k = UInt64(f[5], radix: 16)!
            let vectorResult = f[6].count == 128 ? Self.bytes(f[6]) : nil
            let maskResult = f[6].count == 16 ? UInt64(f[6], radix: 16) : nil
            typealias S = AVX512Semantics
            let name = String(f[0])
            switch name {
            case "cmpub", "cmpb", "cmpud", "cmpd":
                let size = name.hasSuffix("b") ? 1 : 4
                let got = S.compare(a, b, elementBytes: size, signed: !name.hasPrefix("cmpu"),
                                    predicate: S.Predicate(rawValue: UInt8(param))!, writemask: size == 4 ? k & 0xFFFF : k)
                XCTAssertEqual(got, maskResult, String(line))
            case "testmb", "testnmb", "testmd", "testnmd":
                let size = name.hasSuffix("b") ? 1 : 4
                let got = S.test(a, b, elementBytes: size, negate: name.hasPrefix("testn"), writemask: k)
                XCTAssertEqual(got, maskResult, String(line))
            case "minubz":
                let got = S.applyMask(result: S.minUnsigned(a, b, elementBytes: 1), destination: c, mask: k, elementBytes: 1, zeroing: true)
                XCTAssertEqual(got, vectorResult, String(line))
            case "minudm":
                let got = S.applyMask(result: S.minUnsigned(a, b, elementBytes: 4), destination: c, mask: k, elementBytes: 4, zeroing: false)
                XCTAssertEqual(got, vectorResult, String(line))
            case "ternlogd":
                XCTAssertEqual(S.ternaryLogic(a, b, c, imm: UInt8(param)), vectorResult, String(line))
            case "bcastbz", "bcastdm":
                let g = UInt64(a[0]) | UInt64(a[1]) << 8 | UInt64(a[2]) << 16 | UInt64(a[3]) << 24
                let size = name == "bcastbz" ? 1 : 4
                let got = S.applyMask(result: S.broadcast(g, elementBytes: size, vectorBytes: 64), destination: c,
                                      mask: k, elementBytes: size, zeroing: size == 1)
                XCTAssertEqual(got, vectorResult, String(line))
            case "kortestq", "kortestd", "ktestd":
                let y = maskResult ?? 0
                let bits = name == "kortestq" ? 64 : 32
                let (zf, cf) = name == "ktestd" ? S.ktest(k, y, bits: bits) : S.kortest(k, y, bits: bits)
                XCTAssertEqual((zf ? 1 : 0) | (cf ? 2 : 0), param, String(line))
            case "kunpckbw":
                XCTAssertEqual(S.kunpack(k, maskResult ?? 0, halfBits: 8), UInt64(param), String(line))
            default:
                XCTFail("unknown fixture case \(name)")
                continue
            }
            checked += 1
        }
        XCTAssertEqual(checked, 2000)
    }
}
