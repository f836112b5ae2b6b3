"""OpenTelemetry tracing for both planes, off unless an OTLP endpoint is configured.

`settings` reads the standard ``OTEL_*`` variables (no OpenTelemetry import:
a service with tracing off loads nothing of it); `provider` builds the SDK's
tracer provider with a batch span processor and the OTLP/HTTP exporter, and
is imported only when tracing is on.
"""
