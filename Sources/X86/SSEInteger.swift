extension Machine {
    func executeSSEInteger(_ p: UnsafePointer<Instruction>) -> ExecStatus { unsupported(p) }
}
