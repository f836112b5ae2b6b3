"""Engine metrics read when Prometheus scrapes, never updated per request.

Breaker states, the route cache's counts and the telemetry queue already
live in their own objects; these collectors read them at scrape time, so
the request path pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from junction_engine.breakers import Change
from junction_engine.route_cache import RouteCache
from junction_engine.telemetry_sink import TelemetrySink

#: the breaker gauge's values: 0 closed, 1 half-open, 2 open, 3 invalid credential
BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2, "invalid": 3}


class BreakerStates(Collector):
    """``junction_engine_breaker_state{kind,id}``: one series per deployment or credential.

    The ids are those of the routes' deployments and credentials, so the
    series are bounded by configuration (half-open comes with time, hence
    read when scraped).
    """

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


class RouteCacheStats(Collector):
    """The route cache's lookups by result, its size and its background refreshes."""

    def __init__(self, routes: RouteCache) -> None:
        self._routes = routes

    def collect(self) -> Iterator[Metric]:
        r = self._routes
        lookups = CounterMetricFamily(
            "junction_engine_route_cache_lookups",
            "Route lookups by key hash: hit (fresh in memory), stale (served past its TTL), "
            "miss (asked of Redis or the control plane), unknown (a key known not to exist)",
            labels=["result"],
        )
        lookups.add_metric(["hit"], r.hits)
        lookups.add_metric(["stale"], r.stale_served)
        lookups.add_metric(["miss"], r.misses)
        lookups.add_metric(["unknown"], r.unknown_hits)
        yield lookups
        yield _counter(
            "junction_engine_route_cache_shared_hits",
            "Route cache misses answered by the shared (Redis) cache",
            r.shared_hits,
        )
        yield _counter(
            "junction_engine_route_resolves",
            "Route resolves asked of the control plane",
            r.control_calls,
        )
        yield _gauge("junction_engine_route_cache_entries", "Routes held in memory", r.size)
        yield _gauge(
            "junction_engine_route_cache_refreshing",
            "Background refreshes of stale routes running now",
            r.refreshing,
        )


class TelemetryStats(Collector):
    """The telemetry sink: events waiting, sent, spooled to disk, replayed and dropped."""

    def __init__(self, sink: TelemetrySink) -> None:
        self._sink = sink

    def collect(self) -> Iterator[Metric]:
        s = self._sink
        yield _gauge(
            "junction_engine_telemetry_queue_depth",
            "Telemetry events waiting in memory to be sent",
            s.pending,
        )
        yield _counter(
            "junction_engine_telemetry_sent", "Telemetry events the control plane took", s.sent
        )
        yield _counter(
            "junction_engine_telemetry_spooled",
            "Telemetry events written to the spool file (memory bound reached or send failing)",
            s.spooled,
        )
        yield _counter(
            "junction_engine_telemetry_replayed",
            "Spooled telemetry events sent later",
            s.replayed,
        )
        yield _counter(
            "junction_engine_telemetry_dropped",
            "Telemetry events lost: refused by the control plane, or no spool to hold them",
            s.dropped,
        )


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
