extension Machine {
    func executeSSEFloat(_ p: UnsafePointer<Instruction>) -> ExecStatus { unsupported(p) }
}
