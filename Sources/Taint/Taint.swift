// Taint: byte-level labels, the union table, shadow memory and registers, and the
// tracker the interpreter calls (docs/ARCHITECTURE.md, "Taint").
