"""Tracing settings: the standard OpenTelemetry variables, read like every other setting.

Tracing is on when an OTLP endpoint is set, off otherwise:

- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``: the full URL spans are posted to;
- else ``OTEL_EXPORTER_OTLP_ENDPOINT``: the collector's base URL, to which
  ``/v1/traces`` is added (as the OTLP/HTTP specification says);
- ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turn it off
  even with an endpoint;
- ``OTEL_SERVICE_NAME`` names the process (default: the service's own name);
- ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``: the standard sampler
  names (default ``parentbased_always_on``: a client's sampled flag decides).

They are read from the merged environment (the process env over ``.env``),
so a ``.env`` file can turn tracing on too. The exporter's other standard
variables (``OTEL_EXPORTER_OTLP_HEADERS``, ``…_TIMEOUT``, ``…_COMPRESSION``,
certificates) are read by the OpenTelemetry exporter itself from the process
environment. The module imports nothing of OpenTelemetry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from junction_contracts import setting_values as sv

SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
TRACES_PATH = "/v1/traces"
#: the variables a service reads from its environment besides its own ``JUNCTION_*``
PREFIXES = ("JUNCTION_", "OTEL_")


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """Where spans go, under which service name, and how many are kept."""

    #: the full OTLP/HTTP traces URL; None: tracing is off
    endpoint: str | None = None
    service_name: str = "junction"
    sampler: str = "parentbased_always_on"
    #: the ratio of the ``*traceidratio`` samplers
    sampler_arg: float = 1.0

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, service_name: str) -> TracingSettings:
        """Read the ``OTEL_*`` variables; `service_name` is the default of OTEL_SERVICE_NAME."""
        name = sv.label(env, "OTEL_SERVICE_NAME", service_name)
        sampler = sv.choice(env, "OTEL_TRACES_SAMPLER", "parentbased_always_on", SAMPLERS)
        ratio = sv.number(env, "OTEL_TRACES_SAMPLER_ARG", 1.0, 0.0, 1.0)
        return cls(_endpoint(env), name, sampler, ratio)


def _endpoint(env: Mapping[str, str]) -> str | None:
    if sv.flag(env, "OTEL_SDK_DISABLED", False):
        return None
    if sv.choice(env, "OTEL_TRACES_EXPORTER", "otlp", ("otlp", "none")) == "none":
        return None
    schemes = ("http", "https")
    # an endpoint may carry credentials in its URL: never repeated in an error
    traces = sv.url(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None, schemes, secret=True)
    if traces is not None:
        return traces
    base = sv.url(env, "OTEL_EXPORTER_OTLP_ENDPOINT", None, schemes, secret=True)
    return None if base is None else base.rstrip("/") + TRACES_PATH
