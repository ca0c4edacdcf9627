// Replayer: see DESIGN.md
