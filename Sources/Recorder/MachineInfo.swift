// What the trace header says about the recording machine, and the environment that
// masks CPU feature selection in the recorded run.

import CSupport
import Foundation
import Trace

enum MachineInfo {
    /// Every CPUID leaf and the subleaves that carry data (Intel SDM vol. 2A, CPUID).
    static func cpuidLeaves() -> [CPUIDLeaf] {
        var leaves: [CPUIDLeaf] = []
        func query(_ leaf: UInt32, _ sub: UInt32) -> CPUIDLeaf {
            var out: [UInt32] = [0, 0, 0, 0]
            mp_cpuid(leaf, sub, &out)
            return CPUIDLeaf(leaf: leaf, subleaf: sub, eax: out[0], ebx: out[1], ecx: out[2], edx: out[3])
        }
        for base in [UInt32(0), 0x8000_0000] {
            let maximum = min(query(base, 0).eax, base + 0x40)
            guard maximum >= base else { continue }
            for leaf in base...maximum {
                let subleafed: Set<UInt32> = [4, 7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1f, 0x8000_001d, 0x8000_0020]
                let count: UInt32 = subleafed.contains(leaf) ? 8 : 1
                for sub in 0..<count { leaves.append(query(leaf, sub)) }
            }
        }
        return leaves
    }

    static func cpuModel() -> String {
        guard let text = readProcFile("/proc/cpuinfo") else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        return "unknown"
    }

    static func kernel() -> String {
        var u = utsname()
        uname(&u)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        return "\(field(u.sysname)) \(field(u.release)) \(field(u.version))"
    }

    static func hostname() -> String { ProcessInfo.processInfo.hostName }

    /// Environment entries that keep glibc and OpenSSL off instruction sets the replay
    /// interpreter does not model (AVX, AVX2, AVX-512, FMA, SHA-NI): their ifunc
    /// resolvers then pick the SSE2/SSSE3/SSE4 variants. CPUID itself cannot be faked
    /// here (no CPUID faulting), so the mask is applied where features are selected.
    static let featureMask: [String] = [
        "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512BW,-AVX512CD,-AVX512DQ,-AVX512VL,-AVX512ER,-AVX512PF,-AVX_Fast_Unaligned_Load,-FMA,-FMA4,-XSAVEC,-XSAVE,-RTM,-ERMS,-FSRM,-MOVBE,-F16C,-AVX_VNNI,-VAES,-VPCLMULQDQ",
        // Word 1: CPUID.1 (EDX | ECX<<32): clear AVX (ECX bit 28) and F16C (bit 29).
        // Word 2: CPUID.7.0 (EBX | ECX<<32): clear AVX2, AVX512F/DQ/CD/BW/VL, SHA.
        "OPENSSL_ia32cap=~0x3000000000000000:~0xF0030020",
    ]
}
