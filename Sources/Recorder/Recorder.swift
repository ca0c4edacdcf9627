// Recorder: see DESIGN.md
