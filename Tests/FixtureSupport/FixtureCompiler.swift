// The one fixture compiler of the test targets: C programs in `Fixtures/` are built with
// gcc inside the tests, once per test run, into a temporary directory; binaries are never
// committed.

import Foundation

/// Builds `Fixtures/**/*.c` with gcc for the tests.
public enum FixtureCompiler {
    /// What went wrong building a fixture: gcc's command line and its diagnostics.
    public struct BuildError: Error, CustomStringConvertible {
        public var command: [String]
        public var status: Int32
        public var diagnostics: String
        public var description: String {
            "fixture build failed (status \(status)): \(command.joined(separator: " "))\n\(diagnostics)"
        }
    }

    /// The repository's `Fixtures` directory.
    public static let fixturesDirectory: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    /// Where this test process puts the binaries (one directory per process).
    public static let buildDirectory: String = {
        let dir = NSTemporaryDirectory() + "magprov-fixtures-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [String: String] = [:]

    /// The executable built from `Fixtures/SOURCE` (e.g. "recorder/threads.c") with gcc:
    /// `gcc FLAGS -o OUTPUT SOURCE LIBRARIES`, named `name` (default: the source's base name
    /// and the flags). Built once per test process and flag set; later calls return
    /// the same path. Cost: one gcc run (~0.1-0.5 s) the first time.
    /// - Throws: `BuildError` with gcc's diagnostics when gcc fails or cannot be started.
    public static func build(_ source: String, flags: [String] = [], libraries: [String] = [], name: String? = nil) throws -> String {
        let key = ([source, name ?? ""] + flags + ["--"] + libraries).joined(separator: "\u{0}")
        lock.lock(); defer { lock.unlock() }
        if let path = built[key] { return path }
        let base = name ?? URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
            + flags.joined().filter { $0.isLetter || $0.isNumber }
        let output = "\(buildDirectory)/\(base)"
        let arguments = flags + ["-o", output, "\(fixturesDirectory)/\(source)"] + libraries
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        process.arguments = arguments
        let diagnostics = Pipe()
        process.standardError = diagnostics
        process.standardOutput = diagnostics
        do { try process.run() } catch {
            throw BuildError(command: ["/usr/bin/gcc"] + arguments, status: -1, diagnostics: "\(error) (Scripts/setup installs gcc)")
        }
        let text = String(decoding: diagnostics.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BuildError(command: ["/usr/bin/gcc"] + arguments, status: process.terminationStatus, diagnostics: text)
        }
        built[key] = output
        return output
    }
}
