extension Machine {
    func executeX87(_ p: UnsafePointer<Instruction>) -> ExecStatus { unsupported(p) }
    func executeStateSave(_ p: UnsafePointer<Instruction>) -> ExecStatus { unsupported(p) }
}
