// Syscalls: see DESIGN.md
