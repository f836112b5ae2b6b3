"""Prometheus counters of the internal API, in a registry per app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest


class InternalMetrics:
    """Counters for resolves, refused calls and telemetry events."""

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

    def render(self) -> bytes:
        """The Prometheus text exposition of every counter."""
        data: bytes = generate_latest(self.registry)
        return data
