// A sink the kernel takes from a register rather than from memory: the status argument of
// exit and exit_group, which the parent later reads back through wait4 (wait(2)). The
// status is one value, so its bytes get one run with the union of the register bytes'
// labels, never a byte-for-byte copy.

extension ByteTaintTracker {
    /// The kernel took register-file bytes `[registerOffset, registerOffset + size)` as
    /// bytes `[eventOffset, eventOffset + size)` of the sink event `event`.
    ///
    /// Cost: `size` shadow reads and at most `size - 1` unions (a table hit each).
    public func recordRegisterSink(event: UInt64, registerOffset: UInt64, size: Int, eventOffset: Int64) {
        guard size > 0 else { return }
        log.sinkBytes &+= UInt64(size)
        guard hot.pointee.active else { return }
        var label: Label = 0
        for k in 0 ..< size {
            let l = shadowRegisters[Int(clamping: registerOffset) &+ k]
            if l != 0 { label = label == 0 ? l : labels.union(label, l) }
        }
        guard label != 0 else { return }
        log.sinkRuns.append(TaintLog.SinkRun(event: event, outputStart: eventOffset, length: Int64(size), label: label,
                                             stride: 0, coarsened: false))
    }
}
