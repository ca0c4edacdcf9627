// X86: see DESIGN.md
