// Provenance: see DESIGN.md
