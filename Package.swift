// swift-tools-version:6.1
// magprov: record cheaply with ptrace + seccomp, replay in an x86-64 interpreter, refine provenance.
import PackageDescription

/// The interpreter's hot loop is written like C and relies on its own bounds invariants;
/// release builds drop Swift's redundant checks there only (see DESIGN.md, "Speed headroom").
let interpreterFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

/// The interpreter module also publishes its function bodies (cross-module optimization), so
/// that `Taint` compiles `Machine.run` specialized for its own tracker: a generic call across
/// modules would pay a witness-table call per hook and generic code per instruction.
let x86Flags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo", "-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "magprov",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "magprov", targets: ["magprov"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // SHA-256 (BoringSSL, SHA-NI) for the frame chain and blob names; Ed25519 for signed traces.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // FileDescriptor and Errno: file I/O with retry-on-EINTR as a parameter, errors as values.
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // C libraries from Debian's -dev packages.
        .systemLibrary(name: "CCapstone", pkgConfig: "capstone",
                       providers: [.apt(["libcapstone-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CElf", pkgConfig: "libelf", providers: [.apt(["libelf-dev"])]),
        // Non-variadic wrappers for ptrace, seccomp, prctl, cpuid and rdtsc; the host-FPU
        // instructions the interpreter runs on this CPU's own unit.
        .target(name: "CSupport"),

        // The pinned kernel table is input to Scripts/generate-syscall-numbers, not a resource.
        .target(name: "Syscalls", exclude: ["syscall_64.tbl"]),
        .target(name: "Trace", dependencies: ["CLZ4", .product(name: "Crypto", package: "swift-crypto"),
                                              .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "Recorder", dependencies: ["CSupport", "CCapstone", "CElf", "Syscalls", "Trace", "X86", .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "X86", dependencies: ["CCapstone", "CSupport"], swiftSettings: x86Flags),
        // Byte-level taint: labels, union table, shadow memory and registers, sink summaries.
        .target(name: "Taint", dependencies: ["X86", "Trace"], swiftSettings: interpreterFlags),
        .target(name: "Replayer", dependencies: ["X86", "Taint", "Trace", "Syscalls", "CElf", "CCapstone"]),
        .target(name: "Lockstep", dependencies: ["CSupport", "Recorder", "Replayer", "Syscalls", "Trace", "X86"]),
        .target(name: "Provenance", dependencies: [
            "CSupport",
            "Trace", "Syscalls", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .executableTarget(name: "magprov", dependencies: [
            "Recorder", "Trace", "Syscalls", "Replayer", "Lockstep", "Provenance",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),

        // The trace reader as a libFuzzer target (Scripts/fuzz-trace-reader); a corpus
        // replayer when built normally.
        .executableTarget(name: "TraceReaderFuzzer", dependencies: ["Trace"], path: "Fuzz/TraceReader"),

        // The one fixture compiler every test target uses (gcc, once per test run).
        .target(name: "FixtureSupport", path: "Tests/FixtureSupport"),
        .testTarget(name: "TraceTests", dependencies: ["Trace"]),
        .testTarget(name: "SyscallsTests", dependencies: ["Syscalls"]),
        // The killed-recorder test runs the built magprov binary.
        .testTarget(name: "RecorderTests", dependencies: ["Recorder", "Trace", "Syscalls", "CSupport", "FixtureSupport", "magprov"]),
        // Native trampoline for the X86 differential tests (test-only C code).
        .target(name: "X86TestSupport"),
        .testTarget(name: "X86Tests", dependencies: ["X86", "X86TestSupport", "FixtureSupport"]),
        .testTarget(name: "TaintTests", dependencies: ["Taint", "X86", "Trace"]),
        .testTarget(name: "ReplayerTests", dependencies: ["Replayer", "Recorder", "Trace", "X86", "FixtureSupport"]),
        .testTarget(name: "ProvenanceTests", dependencies: ["Provenance", "Recorder", "Trace", "FixtureSupport"]),
        // Ground truth: fixtures with known flows, recorded, replayed with taint, refined.
        // The built magprov binary as a subprocess: --help, exit statuses, --json.
        .testTarget(name: "CLITests", dependencies: ["magprov", "Trace"]),
        .testTarget(name: "RefinementTests", dependencies: ["Provenance", "Recorder", "Replayer", "Taint", "Trace", "FixtureSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
