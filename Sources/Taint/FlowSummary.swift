// From sink runs to flows: output byte ranges of each sink event and the input byte
// ranges they were computed from (`TaintFlow`, TaintSummary.swift). A run of consecutive
// base labels is a copy (cat, head, cut) and becomes `shifted` flows split at event
// boundaries; a run of one label becomes one flow per input range of its set. Flows of one
// sink event are bounded: past `maxFlowsPerSink`, neighbouring output ranges are merged
// per input event (hull ranges, `coarsened`), never dropping an input; and the input events
// one sink's flows name are bounded (`maxInputsPerSink` per flag): a set over many events
// gives flows over spans of events (`TaintFlow.throughInput`), never one flow per event.

import Trace

extension ByteTaintTracker {
    /// Most distinct input events (per address-only flag) the flows of one sink event name
    /// before consecutive ones are merged into spans (`TaintFlow.throughInput`).
    public static let maxInputsPerSink = 256
    /// Most coarsened flows (per address-only flag) one sink event keeps: coarsened flows
    /// only say the true bytes lie within, so past this they merge, in input order, into
    /// hulls (spans of events where they cover several). Exact flows are not touched.
    public static let maxCoarsenedFlowsPerSink = 64
    /// Coarsened flows (per flag) a sink keeps as they are: only past this many are they
    /// merged down to `maxCoarsenedFlowsPerSink` (an interpreter's table lookups give a few
    /// hundred with narrow outputs worth keeping; tar's headers thousands per block).
    public static let coarsenedFlowsBeforeMerge = 1024

    /// The explicit flows of `log`, grouped by sink event in the order sinks happened,
    /// sorted by output offset within a sink.
    /// Cost: O(runs × label-set size), plus a sort per sink event.
    public func flows(of log: TaintLog) -> [TaintFlow] {
        log.settledFlows + flows(ofRuns: log.sinkRuns[...])
    }

    /// Summarises the runs of every sink event but the last one of `log` into
    /// `settledFlows` (the last event may still receive runs, from a later iovec).
    func settle(_ log: TaintLog) {
        guard let last = log.sinkRuns.last?.event else { return }
        var split = log.sinkRuns.count
        while split > 0 && log.sinkRuns[split - 1].event == last { split -= 1 }
        guard split > 0 else { return }
        log.settledFlows.append(contentsOf: flows(ofRuns: log.sinkRuns[..<split]))
        log.sinkRuns.removeFirst(split)
    }

    /// The flows of `runs`, grouped by sink event in order of appearance.
    func flows(ofRuns runs: ArraySlice<TaintLog.SinkRun>) -> [TaintFlow] {
        var order: [UInt64] = []
        var runsByEvent: [UInt64: [Int]] = [:]
        for (i, run) in zip(runs.indices, runs) {
            if runsByEvent[run.event] == nil { order.append(run.event) }
            runsByEvent[run.event, default: []].append(i)
        }
        var all: [TaintFlow] = []
        for event in order {
            var builder = FlowBuilder()
            for i in runsByEvent[event] ?? [] { addFlows(of: runs[i], to: &builder) }
            var flows = builder.flows
            flows = Self.boundInputs(flows, to: Self.maxInputsPerSink)
            flows = Self.boundCoarsened(flows, to: Self.maxCoarsenedFlowsPerSink, past: Self.coarsenedFlowsBeforeMerge)
            if flows.count > maxFlowsPerSink { flows = Self.bound(flows, to: max(1, maxFlowsPerSink)) }
            flows.sort {
                ($0.outputStart, $0.input, $0.inputStart, $0.outputEnd) < ($1.outputStart, $1.input, $1.inputStart, $1.outputEnd)
            }
            all.append(contentsOf: flows)
        }
        return all
    }

    func addFlows(of run: TaintLog.SinkRun, to builder: inout FlowBuilder) {
        if run.stride == 1 && run.length > 1 {
            labels.forEachBasePiece(first: run.label, count: Int(run.length)) { event, inputStart, runOffset, count, _ in
                let outputStart = run.outputStart + Int64(runOffset)
                builder.add(TaintFlow(output: run.event, outputStart: outputStart, outputEnd: outputStart + Int64(count),
                                      input: event, inputStart: inputStart, inputEnd: inputStart + Int64(count),
                                      shifted: true, addressOnly: false, coarsened: run.coarsened))
            }
            return
        }
        let coarsened = run.coarsened || labels.isCoarsened(run.label)
        if labels.mayExceed(run.label, maxEntries: Self.maxInputsPerSink) {
            // A set over many events (inputs gathered by address dependency, one small event
            // after another): at most `maxInputsPerSink` entries per flag, spans of events
            // past that, never one flow per event.
            for e in labels.boundedSources(run.label, maxEntries: Self.maxInputsPerSink).entries {
                builder.add(TaintFlow(output: run.event, outputStart: run.outputStart, outputEnd: run.outputStart + run.length,
                                      input: e.event, inputStart: e.start, inputEnd: e.end, shifted: false,
                                      addressOnly: e.addressOnly, coarsened: coarsened || e.isSpan,
                                      throughInput: e.isSpan ? e.throughEvent : nil))
            }
            return
        }
        labels.forEachSource(run.label) { event, start, end, addressOnly, _ in
            // One output byte from one input byte is a copy whichever way it was labelled.
            let oneToOne = run.length == 1 && end - start == 1 && !coarsened
            builder.add(TaintFlow(output: run.event, outputStart: run.outputStart, outputEnd: run.outputStart + run.length,
                                  input: event, inputStart: start, inputEnd: end,
                                  shifted: oneToOne, addressOnly: addressOnly, coarsened: coarsened))
        }
    }

    /// Bounds the input events one sink's flows name: per address-only flag, when the flows
    /// name more than `bound` distinct input events (spans counted once), consecutive ones
    /// in event order are merged evenly into `bound` flows, each standing for the span of
    /// its events (`throughInput`), the hull of their outputs and input bytes, coarsened.
    /// Flows of a flag within the bound are kept as they are. Cost: O(flows log flows).
    static func boundInputs(_ flows: [TaintFlow], to bound: Int) -> [TaintFlow] {
        var out: [TaintFlow] = []
        var spans = false
        for flag in [false, true] {
            var group = flows.filter { $0.addressOnly == flag }
            var inputs = 0
            var lastInput: UInt64?
            group.sort { ($0.input, $0.lastInput, $0.outputStart) < ($1.input, $1.lastInput, $1.outputStart) }
            for f in group where lastInput.map({ f.input > $0 }) ?? true {
                inputs += 1
                lastInput = f.lastInput
            }
            guard inputs > bound else { continue }
            spans = true
            // Chunks of about inputs / bound consecutive events (a span counts once).
            let chunk = (inputs + bound - 1) / bound
            var current: TaintFlow?
            var eventsInCurrent = 0
            var currentLast: UInt64 = 0
            for f in group {
                if var c = current {
                    let newEvent = f.input > currentLast
                    if newEvent && eventsInCurrent >= chunk {
                        out.append(c)
                        current = nil
                    } else {
                        if newEvent { eventsInCurrent += 1 }
                        c.outputStart = min(c.outputStart, f.outputStart)
                        c.outputEnd = max(c.outputEnd, f.outputEnd)
                        c.inputStart = min(c.inputStart, f.inputStart)
                        c.inputEnd = max(c.inputEnd, f.inputEnd)
                        currentLast = max(currentLast, f.lastInput)
                        c.throughInput = currentLast == c.input ? nil : currentLast
                        c.shifted = false
                        c.coarsened = true
                        current = c
                        continue
                    }
                }
                var c = f
                c.shifted = false
                c.coarsened = true
                current = c
                currentLast = f.lastInput
                eventsInCurrent = 1
            }
            if let c = current { out.append(c) }
        }
        guard spans else { return flows }
        // Flags within the bound keep their flows as they were.
        var kept: [TaintFlow] = []
        for flag in [false, true] where !out.contains(where: { $0.addressOnly == flag }) {
            kept.append(contentsOf: flows.filter { $0.addressOnly == flag })
        }
        return kept + out
    }

    /// Bounds one sink's coarsened flows: per address-only flag, when there are more than
    /// `threshold` (at least `bound`), they are sorted by input event and merged evenly into
    /// `bound` hulls (outputs,
    /// input bytes, and the span of their input events, `throughInput`), coarsened. Other
    /// flows are kept as they are. Cost: O(flows log flows).
    static func boundCoarsened(_ flows: [TaintFlow], to bound: Int, past threshold: Int = 0) -> [TaintFlow] {
        let limit = max(1, bound)
        var out: [TaintFlow] = []
        var changed = false
        for flag in [false, true] {
            var group = flows.filter { $0.addressOnly == flag && $0.coarsened && !$0.shifted }
            out.append(contentsOf: flows.filter { $0.addressOnly == flag && !($0.coarsened && !$0.shifted) })
            guard group.count > max(limit, threshold) else {
                out.append(contentsOf: group)
                continue
            }
            changed = true
            group.sort { ($0.input, $0.lastInput, $0.outputStart) < ($1.input, $1.lastInput, $1.outputStart) }
            let chunk = (group.count + limit - 1) / limit
            var i = 0
            while i < group.count {
                var hull = group[i]
                var last = hull.lastInput
                for f in group[i + 1 ..< min(group.count, i + chunk)] {
                    hull.outputStart = min(hull.outputStart, f.outputStart)
                    hull.outputEnd = max(hull.outputEnd, f.outputEnd)
                    hull.inputStart = min(hull.inputStart, f.inputStart)
                    hull.inputEnd = max(hull.inputEnd, f.inputEnd)
                    last = max(last, f.lastInput)
                }
                hull.throughInput = last == hull.input ? nil : last
                out.append(hull)
                i += chunk
            }
        }
        return changed ? out : flows
    }

    /// Merges neighbouring flows per (input event, address-only) group so that about
    /// `bound` remain: each group keeps a share proportional to its size (at least one),
    /// a merged flow spans the hull of its outputs and of its inputs.
    static func bound(_ flows: [TaintFlow], to bound: Int) -> [TaintFlow] {
        struct GroupKey: Hashable { var input: UInt64; var addressOnly: Bool }
        var order: [GroupKey] = []
        var groups: [GroupKey: [TaintFlow]] = [:]
        for f in flows {
            let key = GroupKey(input: f.input, addressOnly: f.addressOnly)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(f)
        }
        let total = flows.count
        var out: [TaintFlow] = []
        for key in order {
            guard var group = groups[key] else { continue }
            let share = max(1, bound * group.count / total)
            if group.count <= share {
                out.append(contentsOf: group)
                continue
            }
            group.sort { ($0.outputStart, $0.inputStart) < ($1.outputStart, $1.inputStart) }
            let chunk = (group.count + share - 1) / share
            var i = 0
            while i < group.count {
                var hull = group[i]
                for f in group[i + 1 ..< min(group.count, i + chunk)] {
                    hull.outputStart = min(hull.outputStart, f.outputStart)
                    hull.outputEnd = max(hull.outputEnd, f.outputEnd)
                    hull.inputStart = min(hull.inputStart, f.inputStart)
                    hull.inputEnd = max(hull.inputEnd, f.inputEnd)
                    let last = max(hull.lastInput, f.lastInput)
                    hull.throughInput = last == hull.input ? nil : last
                }
                hull.shifted = false
                hull.coarsened = true
                out.append(hull)
                i += chunk
            }
        }
        return out
    }
}

/// Accumulates the flows of one sink event, merging each new flow into an earlier flow of
/// its kind when the two are contiguous: shifted flows contiguous in output and input with
/// the last shifted flow of their input; unshifted flows with the flow of the same input
/// range whose output they extend or repeat (each input range of a label set keeps its
/// own open flow, so a set of several ranges per input event, the same for a whole run of
/// output bytes, gives one flow per range, not one per byte and range), or with the last
/// flow of their input when both have the same output and touching inputs; a coarsened
/// address-only flow also joins the last flow of its input whose output it touches and
/// whose input it overlaps (their hull: both were approximations already).
/// Cost: one or two dictionary probes per added flow.
struct FlowBuilder {
    struct Key: Hashable {
        var input: UInt64
        /// The last input event (`input` unless the flow is a span): flows of different
        /// spans never merge, so no span loses its later events.
        var lastInput: UInt64
        var addressOnly: Bool
        var shifted: Bool
        var coarsened: Bool
    }
    /// An unshifted flow's kind and input range.
    struct RangeKey: Hashable {
        var key: Key
        var inputStart: Int64
        var inputEnd: Int64
    }
    var flows: [TaintFlow] = []
    /// The last flow of each kind.
    var last: [Key: Int] = [:]
    /// The last unshifted flow of each kind and input range (it may since have been
    /// widened in input by a touching range: checked before use).
    var lastByRange: [RangeKey: Int] = [:]

    mutating func add(_ flow: TaintFlow) {
        let key = Key(input: flow.input, lastInput: flow.lastInput, addressOnly: flow.addressOnly, shifted: flow.shifted,
                      coarsened: flow.coarsened)
        if flow.shifted {
            if let j = last[key] {
                let p = flows[j]
                if p.outputEnd == flow.outputStart && p.inputEnd == flow.inputStart {
                    flows[j].outputEnd = flow.outputEnd
                    flows[j].inputEnd = flow.inputEnd
                    return
                }
            }
        } else {
            let rangeKey = RangeKey(key: key, inputStart: flow.inputStart, inputEnd: flow.inputEnd)
            if let j = lastByRange[rangeKey] {
                let p = flows[j]
                if p.inputStart == flow.inputStart && p.inputEnd == flow.inputEnd {
                    if p.outputEnd == flow.outputStart {
                        flows[j].outputEnd = flow.outputEnd
                        last[key] = j
                        return
                    }
                    if p.outputStart == flow.outputStart && p.outputEnd == flow.outputEnd { return }
                }
            }
            if let j = last[key] {
                let p = flows[j]
                if p.outputStart == flow.outputStart && p.outputEnd == flow.outputEnd
                    && flow.inputStart <= p.inputEnd && flow.inputEnd >= p.inputStart {
                    flows[j].inputStart = min(p.inputStart, flow.inputStart)
                    flows[j].inputEnd = max(p.inputEnd, flow.inputEnd)
                    lastByRange[RangeKey(key: key, inputStart: flows[j].inputStart, inputEnd: flows[j].inputEnd)] = j
                    return
                }
            }
            // Coarsened address-only flows (table lookups at widened input granules) vary
            // their input hull from output byte to output byte (sort's locale tables): the
            // next one joins the last of its input when the outputs touch and the inputs
            // overlap, as the hull of both. Its input range already said only that the true
            // bytes lie within; now its output range says the same, per input event.
            if flow.coarsened && flow.addressOnly, let j = last[key] {
                let p = flows[j]
                if p.outputStart <= flow.outputStart && flow.outputStart <= p.outputEnd
                    && flow.inputStart <= p.inputEnd && flow.inputEnd >= p.inputStart {
                    flows[j].outputEnd = max(p.outputEnd, flow.outputEnd)
                    flows[j].inputStart = min(p.inputStart, flow.inputStart)
                    flows[j].inputEnd = max(p.inputEnd, flow.inputEnd)
                    lastByRange[RangeKey(key: key, inputStart: flows[j].inputStart, inputEnd: flows[j].inputEnd)] = j
                    return
                }
            }
            lastByRange[rangeKey] = flows.count
        }
        last[key] = flows.count
        flows.append(flow)
    }
}
