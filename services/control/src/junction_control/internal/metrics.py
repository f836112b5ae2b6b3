"""Prometheus counters of the internal API, in a registry per app."""

from __future__ import annotations

import time
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: how far behind the engines' events arrive: seconds, from a healthy second to an outage's hour
INGEST_LAG_BUCKETS = (1, 5, 15, 60, 300, 900, 3600)
_AT = itemgetter("at")


class InternalMetrics:
    """Counters for resolves, refused calls and telemetry events; the ingest lag."""

    def __init__(self) -> None:
        # one registry per app, so several apps in one process (tests) do not clash
        self.registry = CollectorRegistry()
        self.resolves = Counter(
            "junction_control_route_resolves",
            "Route resolve calls by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "junction_control_internal_rejected",
            "Internal calls refused before handling, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.telemetry_events = Counter(
            "junction_control_telemetry_events",
            "Telemetry events by kind and outcome (accepted, duplicate, conflict, rejected)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.telemetry_batches = Counter(
            "junction_control_telemetry_batches",
            "Telemetry batches by outcome (stored, invalid, unavailable)",
            ["outcome"],
            registry=self.registry,
        )
        self.undecryptable_credentials = Counter(
            "junction_control_undecryptable_credentials",
            "Credentials left out of a route because their key did not decrypt",
            registry=self.registry,
        )

        self.ingest_lag = Histogram(
            "junction_control_ingest_lag_seconds",
            "Per stored telemetry batch: seconds from its oldest event to its ingest",
            buckets=INGEST_LAG_BUCKETS,
            registry=self.registry,
        )
        self.ingest_last_lag = Gauge(
            "junction_control_ingest_last_lag_seconds",
            "Seconds from the oldest event of the last stored batch to its ingest",
            registry=self.registry,
        )

    def ingested(self, events: Sequence[dict[str, Any]], now: float | None = None) -> None:
        """Note how late a stored batch's oldest event arrived (one observation per batch)."""
        if not events:
            return
        lag = max((time.time() if now is None else now) - min(map(_AT, events)), 0.0)
        self.ingest_lag.observe(lag)
        self.ingest_last_lag.set(lag)

    def render(self) -> bytes:
        """The Prometheus text exposition of every counter."""
        data: bytes = generate_latest(self.registry)
        return data
