"""Prometheus metrics of one engine, on a registry of its own (no module globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from junction_engine.calls import CallRecord

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class EngineMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "junction_engine_calls",
            "Finished model calls",
            ["model", "protocol", "status"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "junction_engine_tokens",
            "Tokens counted from provider usage",
            ["model", "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "junction_engine_call_seconds",
            "Call latency",
            ["model", "stream"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "junction_engine_ttft_seconds",
            "Time to first streamed byte",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.images = Counter(
            "junction_engine_images", "Images generated", ["model", "size"], registry=self.registry
        )
        self.refusals = Counter(
            "junction_engine_refusals",
            "Requests refused before forwarding",
            ["code"],
            registry=self.registry,
        )

    def observe(self, record: CallRecord) -> None:
        self.calls.labels(record.model, record.client_protocol, record.status).inc()
        self.tokens.labels(record.model, "input").inc(record.usage.input_tokens)
        self.tokens.labels(record.model, "output").inc(record.usage.output_tokens)
        self.latency.labels(record.model, str(record.stream).lower()).observe(
            record.latency_ms / 1000
        )
        if record.images:
            self.images.labels(record.model, record.image_size or "default").inc(record.images)
        if record.ttft_ms is not None:
            self.ttft.labels(record.model).observe(record.ttft_ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
