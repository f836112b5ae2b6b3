"""junction_protocols."""
