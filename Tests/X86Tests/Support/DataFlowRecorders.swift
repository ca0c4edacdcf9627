// Two trackers defined outside the X86 module, as a taint engine would be: `HookLog`
// records every hook call (what the coverage sweep checks), `LabelTracker` propagates
// byte labels by the conventions documented on `DataFlowTracker` (what the chain tests
// follow from a source to a branch).
import X86

/// One hook call.
enum HookCall {
    case copy(to: DataLocation, from: DataLocation)
    case combine(into: DataLocation, from: DataLocation)
    case derive(to: DataLocation, from: DataLocation, DataLocation)
    case exchange(DataLocation, DataLocation)
    case clear(DataLocation)
    case flags(from: DataLocation)
    case addressDependency(of: DataLocation, base: Int, index: Int)
    case controlTransfer(from: DataLocation, target: UInt64)
    case flagsReachControl(at: UInt64)

    static let flagsByte = DataLocation(kind: .register, size: 1, offset: RegisterFile.flags)

    /// Locations the call names as written.
    var destinations: [DataLocation] {
        switch self {
        case .copy(let d, _), .combine(let d, _), .derive(let d, _, _), .clear(let d), .addressDependency(let d, _, _): return [d]
        case .exchange(let a, let b): return [a, b]
        case .flags: return [Self.flagsByte]
        case .controlTransfer, .flagsReachControl: return []
        }
    }

    /// True when the call moves the value of guest memory into another location (a load),
    /// which must come with `addressDependency`. Control transfers are exempt (address
    /// dependency is off for control alerts).
    var loadsMemory: Bool {
        switch self {
        case .copy(let d, let s), .combine(let d, let s): return s.kind == .memory && d != s
        case .derive(_, let a, let b): return a.kind == .memory || b.kind == .memory
        case .exchange(let a, let b): return (a.kind == .memory) != (b.kind == .memory)
        case .flags(let s): return s.kind == .memory
        default: return false
        }
    }

    var isControl: Bool {
        switch self {
        case .controlTransfer, .flagsReachControl: return true
        default: return false
        }
    }
}

/// Records hook calls. A class, because hooks are non-mutating (the interpreter holds the
/// tracker in a `let`).
final class HookLog: DataFlowTracker {
    var calls: [HookCall] = []

    func copy(to destination: DataLocation, from source: DataLocation) { calls.append(.copy(to: destination, from: source)) }
    func combine(into destination: DataLocation, from source: DataLocation) { calls.append(.combine(into: destination, from: source)) }
    func derive(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation) {
        calls.append(.derive(to: destination, from: source1, source2))
    }
    func exchange(_ first: DataLocation, _ second: DataLocation) { calls.append(.exchange(first, second)) }
    func clear(_ destination: DataLocation) { calls.append(.clear(destination)) }
    func flags(from source: DataLocation) { calls.append(.flags(from: source)) }
    func addressDependency(of destination: DataLocation, base: Int, index: Int) {
        calls.append(.addressDependency(of: destination, base: base, index: index))
    }
    func controlTransfer(from source: DataLocation, target: UInt64, instruction: UInt64) { calls.append(.controlTransfer(from: source, target: target)) }
    func flagsReachControl(at rip: UInt64) { calls.append(.flagsReachControl(at: rip)) }
}

/// A byte-level label propagator following `DataFlowTracker`'s documented meaning:
/// copy moves bytes in order (an extension or narrowing unions), combine adds every
/// source byte's labels to each destination byte, derive mixes all bytes of both sources,
/// a 4-byte GPR destination clears the upper half, flags(from:) replaces the flags byte,
/// addressDependency adds the address registers' labels.
final class LabelTracker: DataFlowTracker {
    var registers = [Set<String>](repeating: [], count: RegisterFile.size)
    var memory: [UInt64: Set<String>] = [:]
    /// The flags byte's labels at each flagsReachControl.
    var controlLabels: [Set<String>] = []
    var transfers: [(labels: Set<String>, target: UInt64)] = []

    func byte(_ l: DataLocation, _ i: Int) -> Set<String> {
        switch l.kind {
        case .register: return registers[Int(l.offset) + i]
        case .memory: return memory[l.offset &+ UInt64(i)] ?? []
        case .constant: return []
        }
    }

    func labels(_ l: DataLocation) -> Set<String> {
        (0..<Int(l.size)).reduce(into: Set<String>()) { $0.formUnion(byte(l, $1)) }
    }

    func set(_ l: DataLocation, _ value: (Int) -> Set<String>) {
        let values = (0..<Int(l.size)).map(value)  // read everything before writing
        for (i, v) in values.enumerated() {
            switch l.kind {
            case .register: registers[Int(l.offset) + i] = v
            case .memory: memory[l.offset &+ UInt64(i)] = v.isEmpty ? nil : v
            case .constant: break
            }
        }
        if l.kind == .register && l.size == 4 && l.offset < RegisterFile.xmm(0) && l.offset % 8 == 0 {
            for i in 4..<8 { registers[Int(l.offset) + i] = [] }
        }
    }

    /// Gives every byte of `l` the label `name`.
    func label(_ l: DataLocation, _ name: String) { set(l) { _ in [name] } }

    func copy(to destination: DataLocation, from source: DataLocation) {
        if destination.size == source.size {
            set(destination) { self.byte(source, $0) }
        } else {
            let all = labels(source)
            set(destination) { _ in all }
        }
    }

    func combine(into destination: DataLocation, from source: DataLocation) {
        let added = labels(source)
        set(destination) { self.byte(destination, $0).union(added) }
    }

    func derive(to destination: DataLocation, from source1: DataLocation, _ source2: DataLocation) {
        let all = labels(source1).union(labels(source2))
        set(destination) { _ in all }
    }

    func exchange(_ first: DataLocation, _ second: DataLocation) {
        let a = (0..<Int(first.size)).map { byte(first, $0) }, b = (0..<Int(second.size)).map { byte(second, $0) }
        if first.size == second.size {
            set(first) { b[$0] }
            set(second) { a[$0] }
        } else {
            let all = labels(first).union(labels(second))
            set(first) { _ in all }
            set(second) { _ in all }
        }
    }

    func clear(_ destination: DataLocation) { set(destination) { _ in [] } }

    func flags(from source: DataLocation) { registers[Int(RegisterFile.flags)] = labels(source) }

    func addressDependency(of destination: DataLocation, base: Int, index: Int) {
        var extra = Set<String>()
        for r in [base, index] where r >= 0 {
            extra.formUnion(labels(DataLocation(kind: .register, size: 8, offset: RegisterFile.gpr(r))))
        }
        set(destination) { self.byte(destination, $0).union(extra) }
    }

    func controlTransfer(from source: DataLocation, target: UInt64, instruction: UInt64) { transfers.append((labels(source), target)) }

    func flagsReachControl(at rip: UInt64) { controlLabels.append(registers[Int(RegisterFile.flags)]) }
}
