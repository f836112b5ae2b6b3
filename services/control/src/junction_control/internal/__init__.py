"""The internal API the engine calls: route resolve, telemetry ingest, health, metrics."""
