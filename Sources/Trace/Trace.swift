// Trace: see DESIGN.md
