"""Prometheus metrics of one engine, on a registry of its own (no module globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from junction_engine.breakers import Change
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
        # --- admission: requests in flight, and those shed at the in-flight cap ---
        self.in_flight = Gauge(
            "junction_engine_requests_in_flight",
            "Requests this process is serving (health, readiness and metrics aside)",
            registry=self.registry,
        )
        self.requests_shed = Counter(
            "junction_engine_requests_shed",
            "Requests answered 503 overloaded at once: the process was at its in-flight cap",
            registry=self.registry,
        )
        # --- provider health: breakers, the retry budget, calls shed ---
        self.upstream_attempts = Counter(
            "junction_engine_upstream_attempts",
            "Upstream attempts by how they ended (answered, failed, rejected, cancelled)",
            ["outcome"],
            registry=self.registry,
        )
        self._attempt_outcomes = {
            o: self.upstream_attempts.labels(o)
            for o in ("answered", "failed", "rejected", "cancelled")
        }
        self.retry_budget_exhausted = Counter(
            "junction_engine_retry_budget_exhausted",
            "Failovers not made because the retry budget was spent",
            registry=self.registry,
        )
        self.breaker_shed = Counter(
            "junction_engine_breaker_shed",
            "Calls answered 503 because every deployment's breaker was open",
            registry=self.registry,
        )

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

    def attempted(self, outcome: str) -> None:
        self._attempt_outcomes[outcome].inc()

    def budget_exhausted(self) -> None:
        self.retry_budget_exhausted.inc()

    def shed(self) -> None:
        self.breaker_shed.inc()

    def watch_breakers(self, changes: Callable[[], list[Change]]) -> None:
        """Expose each breaker's state, read when scraped (half-open comes with time)."""
        self.registry.register(_BreakerStates(changes))

    def render(self) -> bytes:
        return generate_latest(self.registry)


#: the breaker gauge's values: 0 closed, 1 half-open, 2 open, 3 invalid credential
BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2, "invalid": 3}


class _BreakerStates(Collector):
    def __init__(self, changes: Callable[[], list[Change]]) -> None:
        self._changes = changes

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "junction_engine_breaker_state",
            "Circuit breaker per deployment or credential: 0 closed, 1 half-open, 2 open, "
            "3 invalid credential",
            labels=["kind", "id"],
        )
        for c in self._changes():
            gauge.add_metric([c.kind, c.key], BREAKER_STATE_VALUES[c.state])
        yield gauge
