"""Prometheus metrics of one engine, on a registry of its own (no module globals).

Per finished call, `observe` does one dict lookup for the call's label set
(its children are cached together) and a handful of attribute adds; the
attempts and failovers come from the call's attempt log, so the forwarding
loop itself counts nothing. Everything another object already knows
(in-flight requests, breakers, the route cache, the telemetry queue) is read
when Prometheus scrapes. The families and their labels are listed in the
README ("Metrics"); labels carry configured names and ids only (models,
deployments, providers, stable error codes), never a token or a path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from junction_contracts.telemetry import AttemptNote
from junction_engine.breakers import Change
from junction_engine.calls import CallRecord
from junction_engine.metrics_families import (
    CounterChild,
    CounterFamily,
    HistogramChild,
    HistogramFamily,
)
from junction_engine.metrics_scraped import (
    BREAKER_STATE_VALUES,
    BreakerStates,
    RouteCacheStats,
    TelemetryStats,
)
from junction_engine.route_cache import RouteCache
from junction_engine.telemetry_sink import TelemetrySink

__all__ = ["BREAKER_STATE_VALUES", "EngineMetrics"]

# few buckets: each is a series per label set, and a bisection per call
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: refusal codes that are a key's rate limit or budget, by the `kind` they are counted under
LIMIT_KINDS = {
    "requests_per_minute_exceeded": "rpm",
    "tokens_per_minute_exceeded": "tpm",
    "insufficient_quota": "budget",
}
#: why requests were shed, as `junction_engine_shed_total{reason}` says
SHED_IN_FLIGHT, SHED_NO_HEALTHY, SHED_TENANT = (
    "in_flight_cap",
    "no_healthy_deployment",
    "tenant_concurrency",
)
_NONE = "none"


class _Children:
    """The children one call's label set writes to (made once per label set)."""

    __slots__ = ("calls", "input_tokens", "latency", "output_tokens", "requests", "ttft")

    def __init__(self, metrics: EngineMetrics, record: CallRecord) -> None:
        model, protocol = record.model, record.client_protocol
        self.calls = metrics.calls.labels(model, protocol, record.status)
        self.requests = metrics.requests.labels(
            model,
            record.provider_id or _NONE,
            record.deployment_id or _NONE,
            protocol,
            record.status,
            str(record.http_status),
        )
        self.input_tokens = metrics.tokens.labels(model, "input")
        self.output_tokens = metrics.tokens.labels(model, "output")
        self.latency: HistogramChild = metrics.latency.labels(model, protocol)
        #: made on the first call that has a first byte to time (streams)
        self.ttft: HistogramChild | None = None


class EngineMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        families = (
            calls := CounterFamily(
                "junction_engine_calls",
                "Finished model calls (see junction_engine_requests_total for more labels)",
                ["model", "protocol", "status"],
            ),
            requests := CounterFamily(
                "junction_engine_requests",
                "Finished model calls by model, provider, deployment (the last tried), "
                "client protocol, status and the HTTP status answered",
                ["model", "provider", "deployment", "client_protocol", "status", "code"],
            ),
            tokens := CounterFamily(
                "junction_engine_tokens", "Tokens counted from provider usage", ["model", "kind"]
            ),
            latency := HistogramFamily(
                "junction_engine_request_seconds",
                "Call latency, from the request read to the last byte answered",
                ["model", "client_protocol"],
                LATENCY_BUCKETS,
            ),
            ttft := HistogramFamily(
                "junction_engine_ttft_seconds",
                "Time to the first byte of the provider's answer",
                ["model", "client_protocol"],
                TTFT_BUCKETS,
            ),
            images := CounterFamily(
                "junction_engine_images", "Images generated", ["model", "size"]
            ),
            refusals := CounterFamily(
                "junction_engine_refusals",
                "Requests refused with an error, by its stable code",
                ["code"],
            ),
            attempts := CounterFamily(
                "junction_engine_upstream_attempts",
                "Upstream attempts by deployment, provider, how they ended (answered, failed, "
                "rejected, cancelled) and the error code that ended them (none if answered)",
                ["deployment", "provider", "outcome", "reason"],
            ),
            failovers := CounterFamily(
                "junction_engine_failovers",
                "Attempts given up for the next deployment or credential, by the deployment "
                "left and why",
                ["deployment", "reason"],
            ),
            budget_exhausted := CounterFamily(
                "junction_engine_retry_budget_exhausted",
                "Failovers not made because the retry budget was spent",
            ),
        )
        self.calls, self.requests, self.tokens = calls, requests, tokens
        self.latency, self.ttft, self.images, self.refusals = latency, ttft, images, refusals
        self.attempts, self.failovers = attempts, failovers
        self.retry_budget_exhausted = budget_exhausted
        for family in families:
            self.registry.register(family)
        self._shed = {r: CounterChild() for r in (SHED_IN_FLIGHT, SHED_NO_HEALTHY)}
        #: counted by the ASGI app when a request finds the process at its in-flight cap
        self.requests_shed = self._shed[SHED_IN_FLIGHT]
        self.registry.register(_Derived(self._shed, refusals))
        self.in_flight = Gauge(
            "junction_engine_requests_in_flight",
            "Requests this process is serving (health, readiness and metrics aside)",
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        if GC_COLLECTOR is not None:  # absent on interpreters without gc stats
            GCCollector(registry=self.registry)
        self._children: dict[tuple[str, str, str, str | None, str | None, int], _Children] = {}
        self._attempt_children: dict[tuple[str, str, str, str | None], CounterChild] = {}
        self._failover_children: dict[tuple[str, str | None], CounterChild] = {}

    def observe(self, record: CallRecord) -> None:
        """Count one finished call: its request, tokens, latency and attempts."""
        key = (
            record.model,
            record.client_protocol,
            record.status,
            record.deployment_id,
            record.provider_id,
            record.http_status,
        )
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = _Children(self, record)
        children.calls.value += 1
        children.requests.value += 1
        usage = record.usage
        children.input_tokens.value += usage.input_tokens
        children.output_tokens.value += usage.output_tokens
        children.latency.observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            ttft = children.ttft
            if ttft is None:
                ttft = children.ttft = self.ttft.labels(record.model, record.client_protocol)
            ttft.observe(record.ttft_ms / 1000)
        if record.images:
            self.images.labels(record.model, record.image_size or "default").inc(record.images)
        notes = record.attempt_log
        if notes:
            self._count_attempts(notes)

    def _count_attempts(self, notes: tuple[AttemptNote, ...]) -> None:
        attempts = self._attempt_children
        for note in notes:
            key = (note.deployment_id, note.provider_id, note.outcome, note.error_code)
            child = attempts.get(key)
            if child is None:
                child = attempts[key] = self.attempts.labels(
                    note.deployment_id, note.provider_id, note.outcome, note.error_code or _NONE
                )
            child.value += 1
        if len(notes) > 1:  # every attempt but the last handed the call on
            failovers = self._failover_children
            for note in notes[:-1]:
                fkey = (note.deployment_id, note.error_code)
                fchild = failovers.get(fkey)
                if fchild is None:
                    fchild = failovers[fkey] = self.failovers.labels(
                        note.deployment_id, note.error_code or _NONE
                    )
                fchild.value += 1

    # --- the forwarder's counters (`forwarding.Counters`) ---

    def attempted(self, outcome: str) -> None:
        """Attempts are counted from each call's attempt log (`observe`), with more labels."""

    def budget_exhausted(self) -> None:
        self.retry_budget_exhausted.inc()

    def shed(self) -> None:
        self._shed[SHED_NO_HEALTHY].value += 1

    # --- what is read at scrape time ---

    def watch_breakers(self, changes: Callable[[], list[Change]]) -> None:
        """Expose each breaker's state, read when scraped (half-open comes with time)."""
        self.registry.register(BreakerStates(changes))

    def watch(self, routes: RouteCache, telemetry: TelemetrySink) -> None:
        """Expose the route cache's and the telemetry sink's counts, read when scraped."""
        self.registry.register(RouteCacheStats(routes))
        self.registry.register(TelemetryStats(telemetry))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Derived(Collector):
    """Families computed from others when scraped: sheds by reason, limit refusals by kind.

    `junction_engine_requests_shed_total` and `junction_engine_breaker_shed_total`
    are kept for the dashboards that read them: they are two of the reasons.
    """

    def __init__(self, shed: dict[str, CounterChild], refusals: CounterFamily) -> None:
        self._shed = shed
        self._refusals = refusals

    def collect(self) -> Iterator[Metric]:
        refused = {key[0]: value for key, value in self._refusals.values().items()}
        in_flight = self._shed[SHED_IN_FLIGHT].value
        no_healthy = self._shed[SHED_NO_HEALTHY].value
        shed = CounterMetricFamily(
            "junction_engine_shed",
            "Requests answered 503 at once without trying a provider: the process at its "
            "in-flight cap, every deployment's breaker open, a tenant at its concurrency cap",
            labels=["reason"],
        )
        shed.add_metric([SHED_IN_FLIGHT], in_flight)
        shed.add_metric([SHED_NO_HEALTHY], no_healthy)
        shed.add_metric([SHED_TENANT], refused.get("tenant_concurrency_limit", 0.0))
        yield shed
        yield CounterMetricFamily(
            "junction_engine_requests_shed",
            "Requests answered 503 overloaded at once: the process was at its in-flight cap",
            value=in_flight,
        )
        yield CounterMetricFamily(
            "junction_engine_breaker_shed",
            "Calls answered 503 because every deployment's breaker was open",
            value=no_healthy,
        )
        limits = CounterMetricFamily(
            "junction_engine_limit_refusals",
            "Requests refused by the key's limits: rpm and tpm (429), budget (402)",
            labels=["kind"],
        )
        for code, kind in LIMIT_KINDS.items():
            limits.add_metric([kind], refused.get(code, 0.0))
        yield limits
