// `magprov alerts`: every place where bytes from a file, pipe or socket became an
// instruction pointer in the replay with taint, mapped to the objects and byte offsets
// they came from.

import ArgumentParser
import Foundation
import Provenance

struct Alerts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List where input bytes became an instruction pointer (needs `magprov replay --taint`).",
        discussion: """
        For each alert: the process, the control-transfer instruction (address, function, \
        instruction text) and where it jumped, and the input bytes the pointer's value was \
        built from: the object the process read them from and its byte offsets, and, when \
        those bytes had come through a pipe or file written in the recording, the objects \
        they came from before. A jump through a constant table indexed by input bytes (a \
        parser's `switch`) is not an alert; a code pointer whose value came from input is.

        Exit status: 0 with or without alerts; 5 when the trace has not been refined.

          magprov alerts trace
          magprov alerts trace --json
        """)

    @Argument(help: "Trace directory written by magprov record (and refined by magprov replay --taint).")
    var trace: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        try requireTrace(trace)
        let store = try GraphStore.openOrBuild(traceDirectory: trace, notice: TraceDamageNotice.storeNotice)
        let alerts = try store.alerts(traceDirectory: trace)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(["alerts": alerts]), as: UTF8.self))
        } else if alerts.isEmpty {
            print("no alerts: no input bytes became an instruction pointer")
        } else {
            print("\(alerts.count) alert\(alerts.count == 1 ? "" : "s"): input bytes became an instruction pointer")
            for a in alerts { print(a.text, terminator: "") }
        }
        try checkIntact(store)
    }
}
