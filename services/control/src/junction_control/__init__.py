"""junction_control."""
