"""Prometheus metrics of one engine, on a registry of its own (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from junction_engine.calls import CallRecord

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


@dataclass(frozen=True, slots=True)
class _Children:
    """The metric children one label set writes to on every call."""

    calls: Counter
    input_tokens: Counter
    output_tokens: Counter
    latency: Histogram
    ttft: Histogram


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
        self._children: dict[tuple[str, str, str, bool], _Children] = {}

    def observe(self, record: CallRecord) -> None:
        labels = (record.model, record.client_protocol, record.status, record.stream)
        children = self._children.get(labels)
        if children is None:
            # a label lookup takes a lock and hashes its values: once per label set
            children = self._children[labels] = _Children(
                self.calls.labels(record.model, record.client_protocol, record.status),
                self.tokens.labels(record.model, "input"),
                self.tokens.labels(record.model, "output"),
                self.latency.labels(record.model, str(record.stream).lower()),
                self.ttft.labels(record.model),
            )
        children.calls.inc()
        children.input_tokens.inc(record.usage.input_tokens)
        children.output_tokens.inc(record.usage.output_tokens)
        children.latency.observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            children.ttft.observe(record.ttft_ms / 1000)
        if record.images:
            self.images.labels(record.model, record.image_size or "default").inc(record.images)

    def render(self) -> bytes:
        return generate_latest(self.registry)
