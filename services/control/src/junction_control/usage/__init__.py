"""Model calls: telemetry ingest, the stuck-call reaper and usage queries."""
