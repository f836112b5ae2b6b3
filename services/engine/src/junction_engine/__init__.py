"""junction_engine."""
