// Capstone's text for one instruction, for reports (not on any hot path).
import CCapstone
import X86

public enum InstructionText {
    public static func describe(_ bytes: [UInt8], at address: UInt64) -> String {
        guard !bytes.isEmpty, var handle = try? CapstoneHandle.open(detail: false) else { return "?" }
        defer { cs_close(&handle) }
        var insn: UnsafeMutablePointer<cs_insn>?
        let count = bytes.withUnsafeBufferPointer { cs_disasm(handle, $0.baseAddress, $0.count, address, 1, &insn) }
        guard count > 0, let first = insn else { return "(undecodable)" }
        defer { cs_free(insn, count) }
        let mnemonic = withUnsafeBytes(of: first.pointee.mnemonic) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let operands = withUnsafeBytes(of: first.pointee.op_str) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let raw = bytes.prefix(Int(first.pointee.size)).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        return "\(raw)  \(mnemonic) \(operands)"
    }
}
