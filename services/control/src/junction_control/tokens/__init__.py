"""User tokens: the keys client applications present to the engine."""
