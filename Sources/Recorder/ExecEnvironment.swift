// Environment entries the recorder keeps in every program image of the recording: the
// CPU feature mask (MachineInfo.featureMask) and, with --syscall-buffer, the preload
// library. The recorder starts the command with them, and at every execve whose
// environment lost them (`env -i`, a program that builds its own) it writes a copy of the
// envp array with them into the task's scratch area and points the envp argument there
// until the syscall exit. The trace keeps the program's own arguments; the exec snapshot
// shows the environment the new image received.

import Syscalls

/// One `NAME=value` entry every program image gets, and how it joins a value the
/// environment already has.
struct RequiredEnvironmentEntry: Equatable {
    enum Merge: Equatable {
        /// A colon-separated list (LD_PRELOAD): ours first, then the program's own items.
        case prependToList
        /// A colon-separated list read left to right where the last setting of a name wins
        /// (GLIBC_TUNABLES, "name=value:name=value", glibc's tunables(7)): the program's own
        /// settings, then ours.
        case appendToList
        /// Ours replaces the program's.
        case replace
    }

    var name: String
    var value: String
    var merge: Merge

    /// Parses `NAME=value`.
    init(_ entry: String, merge: Merge) {
        name = String(entry.prefix(while: { $0 != "=" }))
        value = String(entry.dropFirst(name.count + 1))
        self.merge = merge
    }

    /// The feature mask entries: GLIBC_TUNABLES appended to the program's own tunables,
    /// OPENSSL_ia32cap replaced.
    static var featureMask: [RequiredEnvironmentEntry] {
        MachineInfo.featureMask.map { RequiredEnvironmentEntry($0, merge: $0.hasPrefix("GLIBC_TUNABLES=") ? .appendToList : .replace) }
    }

    /// The preload library of the syscall buffer, loaded before the program's own.
    static func preload(_ library: String) -> RequiredEnvironmentEntry {
        RequiredEnvironmentEntry("LD_PRELOAD=\(library)", merge: .prependToList)
    }

    /// The entry to use given the environment's current one (`NAME=...` bytes, nil when
    /// absent); nil when the current one already satisfies this requirement.
    func merged(with current: [UInt8]?) -> [UInt8]? {
        let prefix = Array((name + "=").utf8)
        let ours = Array(value.utf8)
        guard let current, current.starts(with: prefix) else { return prefix + ours }
        let theirs = Array(current.dropFirst(prefix.count))
        let colon = UInt8(ascii: ":")
        switch merge {
        case .prependToList:
            if theirs.split(separator: colon).contains(where: { Array($0) == ours }) { return nil }
            return prefix + ours + (theirs.isEmpty ? [] : [colon] + theirs)
        case .appendToList:
            if theirs == ours || theirs.split(separator: colon).last.map(Array.init) == ours { return nil }
            return prefix + (theirs.isEmpty ? [] : theirs + [colon]) + ours
        case .replace:
            return theirs == ours ? nil : prefix + ours
        }
    }

    /// `environment` (NAME=value strings) with every entry of `required` applied.
    static func apply(_ required: [RequiredEnvironmentEntry], to environment: [String]) -> [String] {
        var result = environment
        for entry in required {
            let prefix = entry.name + "="
            let index = result.firstIndex { $0.hasPrefix(prefix) }
            guard let merged = entry.merged(with: index.map { Array(result[$0].utf8) }) else { continue }
            let text = String(decoding: merged, as: UTF8.self)
            if let index { result[index] = text } else { result.append(text) }
        }
        return result
    }
}

extension Supervisor {
    /// At an execve entry: when the new environment lacks or changed a required entry,
    /// writes a copy of the envp array (with the merged entries) into the task's scratch
    /// area and points the envp argument there. Cost: one read of the envp array and its
    /// strings' prefixes; writes only when something is missing.
    /// - Returns: the redirected argument and its original value; nil when nothing changed
    ///   (all present, no scratch area, or an envp that cannot be read or does not fit).
    func requireExecEnvironment(_ task: TracedTask, number: Int, arguments: [UInt64]) throws -> (index: Int, original: UInt64)? {
        guard !requiredEnvironment.isEmpty, let scratch = task.scratch else { return nil }
        let index = number == SyscallTable.Number.execveat ? 3 : 2
        let access = task.access
        var pointers: [UInt64] = []
        var slots: [Int?] = Array(repeating: nil, count: requiredEnvironment.count)
        let prefixes = requiredEnvironment.map { Array(($0.name + "=").utf8) }
        let longest = prefixes.map(\.count).max() ?? 0
        var cursor = arguments[index]
        while cursor != 0, pointers.count < 4096, let pointer = access.readUInt64(at: cursor), pointer != 0 {
            // One short read per string, compared with every required name.
            if let start = access.readCStringBytes(at: pointer, limit: longest)?.bytes {
                for k in prefixes.indices where slots[k] == nil && start.starts(with: prefixes[k]) { slots[k] = pointers.count }
            }
            pointers.append(pointer)
            cursor += 8
        }
        // The merged strings first, then the array, in the scratch area (below the exec
        // path's slot, ScratchArguments.swift).
        var strings: [UInt8] = []
        var stringOffsets: [(slot: Int?, offset: Int)] = []
        for (k, entry) in requiredEnvironment.enumerated() {
            let current = slots[k].flatMap { access.readCStringBytes(at: pointers[$0], limit: 1 << 16)?.bytes }
            guard let merged = entry.merged(with: current) else { continue }
            stringOffsets.append((slots[k], strings.count))
            strings += merged + [0]
        }
        guard !stringOffsets.isEmpty else { return nil }
        let arrayAddress = scratch.address + ((UInt64(strings.count) + 15) & ~15)
        for (slot, offset) in stringOffsets {
            let address = scratch.address + UInt64(offset)
            if let slot { pointers[slot] = address } else { pointers.append(address) }
        }
        pointers.append(0)
        var array: [UInt8] = []
        for pointer in pointers { withUnsafeBytes(of: pointer.littleEndian) { array += $0 } }
        guard arrayAddress + UInt64(array.count) <= scratch.environmentLimit,
              writeScratch(task, strings, at: scratch.address), writeScratch(task, array, at: arrayAddress) else { return nil }
        var regs = try access.registers()
        regs[argumentRegisters[index]] = arrayAddress
        try access.setRegisters(regs)
        return (index, arguments[index])
    }
}
