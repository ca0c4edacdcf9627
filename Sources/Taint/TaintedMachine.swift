// The interpreter loop specialized for byte taint, compiled in this module: X86 publishes
// its bodies (cross-module optimization), so `Machine<ByteTaintTracker>.run` becomes one
// concrete loop in which every hook is a direct, inlinable call (DESIGN.md, "Taint is a
// generic parameter, not a branch").

import X86

extension Machine where Tracker == ByteTaintTracker {
    /// `run(maxInstructions:)` specialized for `ByteTaintTracker` (hooks called directly,
    /// their clean fast paths inlined). Same contract as `run`.
    @inline(never)
    public func runSpecialized(maxInstructions: UInt64) -> StopReason {
        run(maxInstructions: maxInstructions)
    }
}
