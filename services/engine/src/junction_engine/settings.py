"""Engine settings: one frozen object, read once from the environment by the app factory.

Every variable is read by a bounded reader of `junction_contracts.setting_values`,
so a bad value stops the engine at start with one line naming it (exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from junction_contracts import setting_values as sv
from junction_contracts.egress import Egress
from junction_contracts.envfile import environment
from junction_contracts.setting_values import SettingError
from junction_tracing.settings import PREFIXES, TracingSettings

# a missing or unsafe setting; the process refuses to start (the shared error, by its engine name)
SettingsError = SettingError
SERVICE_NAME = "junction-engine"

MIN_SECRET_BYTES = 32
_DAY = 86_400.0
_HOUR = 3_600.0
_MAX_COUNT = 1_000_000


def decode_secret(text: str, *, source: str = "JUNCTION_INTERNAL_SECRET") -> bytes:
    """The internal secret is the UTF-8 of its text, whitespace stripped, 32 bytes or more.

    Both planes read it the same way, from JUNCTION_INTERNAL_SECRET or
    `<var_dir>/internal.key` (written by the control plane on first start).
    """
    secret = text.strip().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise SettingsError(f"{source} must be at least {MIN_SECRET_BYTES} bytes")
    return secret


@dataclass(frozen=True, slots=True)
class EngineSettings:
    host: str = "127.0.0.1"
    port: int = 8090
    #: worker processes sharing the port (each a whole engine with its own caches)
    workers: int = 1
    #: the control plane's internal API: one URL, or several (comma-separated) tried in turn
    control_url: str = "http://127.0.0.1:8082"
    internal_secret: bytes = b""
    redis_url: str | None = None
    #: connections to Redis at most; a request past them waits for one (briefly)
    redis_max_connections: int = 64
    # --- Redis as an accelerator: one short timeout, then a back-off ---
    #: how long one Redis command may take (route cache, revocations, limits) before
    #: Redis is skipped for a moment and the replica serves from what it holds
    redis_timeout_ms: int = 100
    route_ttl_seconds: float = 30.0
    route_max_stale_seconds: float = 900.0
    unknown_key_ttl_seconds: float = 5.0
    route_cache_size: int = 100_000
    max_body_bytes: int = 8 * 1024 * 1024
    connect_timeout: float = 5.0
    first_byte_timeout: float = 120.0
    idle_timeout: float = 120.0
    total_timeout: float = 900.0
    max_attempts: int = 4
    #: output tokens a call is assumed to use when the client set no cap (money held)
    reserve_output_tokens: int = 4096
    #: connections the engine keeps open to providers at most (all providers together)
    upstream_max_connections: int = 1000
    #: addresses providers may have besides public ones (CIDRs, addresses, host names)
    egress: Egress = field(default_factory=Egress)
    #: which client carries provider calls: "http1" (lean, the default) or "aiohttp"
    upstream_client: str = "http1"
    cooldown_seconds: float = 30.0
    log_level: str = "info"
    #: "text" for a terminal, "json" for one object per line (a log shipper's)
    log_format: str = "text"
    #: one INFO line per finished call (logger `junction.engine.calls`)
    call_log: bool = True
    var_dir: Path = Path("./var")
    #: where telemetry waits on disk while the control plane is unreachable
    spool_dir: Path | None = None
    telemetry_batch_size: int = 500
    telemetry_flush_seconds: float = 1.0
    telemetry_max_memory: int = 20_000
    telemetry_max_backoff_seconds: float = 30.0
    # --- provider health: breakers (base open time: cooldown_seconds), retry budget ---
    #: consecutive failures that open a deployment's or credential's breaker
    breaker_failures: int = 5
    #: failure share over the window that opens it, once the window saw breaker_min_calls
    breaker_failure_rate: float = 0.5
    breaker_window_seconds: float = 30.0
    breaker_min_calls: int = 20
    breaker_max_open_seconds: float = 300.0
    #: retries allowed per first attempt over the budget's window, plus the floor
    retry_budget_ratio: float = 0.2
    retry_budget_floor: int = 3
    retry_budget_window_seconds: float = 10.0
    #: how often the shared breaker states are read from Redis (when configured)
    breaker_sync_seconds: float = 0.25
    #: how often breaker changes are reported to the control plane
    health_report_seconds: float = 2.0
    #: names this process in health reports; empty: host name and process id
    engine_id: str = ""
    # slow and greedy clients: how long each part of a request may take, and how many at once
    #: the request line and headers must arrive within this (slowloris)
    header_timeout_seconds: float = 10.0
    #: the whole body must arrive within this once the handler reads it (408 past it)
    body_timeout_seconds: float = 60.0
    #: an idle keep-alive connection is closed after this; longer than Caddy's 60 s to the
    #: engine, so the proxy, not the engine, closes it and never sends on one being closed
    keepalive_timeout_seconds: float = 75.0
    #: a client that takes no bytes from its socket for this long is cut off (`client_stalled`)
    write_idle_timeout_seconds: float = 30.0
    #: requests in flight per process at most; past it 503 `overloaded` at once (0: no cap)
    max_in_flight: int = 1024
    #: requests in flight per tenant per process at most; past it 429 (0: no cap)
    tenant_max_in_flight: int = 0
    #: OpenTelemetry spans (the standard OTEL_* variables): off unless an OTLP endpoint is set
    tracing: TracingSettings = field(
        default_factory=lambda: TracingSettings(service_name=SERVICE_NAME)
    )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = ".env",
    ) -> EngineSettings:
        """Build settings from `JUNCTION_*` and `OTEL_*` variables (process env over `.env`)."""
        env = environment(os.environ if environ is None else environ, env_file, prefix=PREFIXES)
        var_dir = sv.directory(env, "JUNCTION_VAR_DIR", "./var")
        return cls(
            host=sv.host(env, "JUNCTION_ENGINE_HOST", "127.0.0.1"),
            port=sv.integer(env, "JUNCTION_ENGINE_PORT", 8090, 1, 65_535),
            workers=sv.integer(env, "JUNCTION_ENGINE_WORKERS", 1, 1, 256),
            control_url=",".join(_control_urls(env, "JUNCTION_CONTROL_URL")),
            internal_secret=_internal_secret(env, var_dir),
            redis_url=sv.url(
                env, "JUNCTION_REDIS_URL", None, ("redis", "rediss", "unix"), secret=True
            ),
            redis_max_connections=sv.integer(env, "JUNCTION_REDIS_MAX_CONNECTIONS", 64, 1, 10_000),
            # Redis is an accelerator: a request should not wait longer for it than it
            # would for the control plane
            redis_timeout_ms=sv.integer(env, "JUNCTION_REDIS_TIMEOUT_MS", 100, 1, 10_000),
            route_ttl_seconds=sv.seconds(env, "JUNCTION_ROUTE_TTL_SECONDS", 30.0, _DAY),
            route_max_stale_seconds=sv.seconds(
                env, "JUNCTION_ROUTE_MAX_STALE_SECONDS", 900.0, 7 * _DAY
            ),
            unknown_key_ttl_seconds=sv.seconds(env, "JUNCTION_UNKNOWN_KEY_TTL_SECONDS", 5.0, _HOUR),
            max_body_bytes=sv.integer(
                env, "JUNCTION_MAX_BODY_BYTES", 8 * 1024 * 1024, 1, 1024 * 1024 * 1024
            ),
            connect_timeout=sv.seconds(env, "JUNCTION_CONNECT_TIMEOUT", 5.0, _HOUR),
            first_byte_timeout=sv.seconds(env, "JUNCTION_FIRST_BYTE_TIMEOUT", 120.0, _DAY),
            idle_timeout=sv.seconds(env, "JUNCTION_IDLE_TIMEOUT", 120.0, _DAY),
            total_timeout=sv.seconds(env, "JUNCTION_TOTAL_TIMEOUT", 900.0, _DAY),
            max_attempts=sv.integer(env, "JUNCTION_MAX_ATTEMPTS", 4, 1, 10),
            reserve_output_tokens=sv.integer(
                env, "JUNCTION_RESERVE_OUTPUT_TOKENS", 4096, 1, 10_000_000
            ),
            upstream_max_connections=sv.integer(
                env, "JUNCTION_UPSTREAM_MAX_CONNECTIONS", 1000, 1, 100_000
            ),
            egress=_egress(env),
            upstream_client=sv.choice(
                env, "JUNCTION_UPSTREAM_CLIENT", "http1", ("http1", "aiohttp")
            ),
            cooldown_seconds=sv.seconds(env, "JUNCTION_COOLDOWN_SECONDS", 30.0, _DAY),
            log_level=sv.log_level(env, "JUNCTION_LOG_LEVEL"),
            log_format=sv.choice(env, "JUNCTION_LOG_FORMAT", "text", ("text", "json")),
            call_log=sv.choice(env, "JUNCTION_CALL_LOG", "on", ("on", "off")) == "on",
            var_dir=var_dir,
            spool_dir=sv.directory(env, "JUNCTION_SPOOL_DIR", str(var_dir / "spool")),
            telemetry_batch_size=sv.integer(env, "JUNCTION_TELEMETRY_BATCH_SIZE", 500, 1, 100_000),
            telemetry_flush_seconds=sv.seconds(env, "JUNCTION_TELEMETRY_FLUSH_SECONDS", 1.0, _HOUR),
            telemetry_max_memory=sv.integer(
                env, "JUNCTION_TELEMETRY_MAX_MEMORY", 20_000, 1, 10_000_000
            ),
            telemetry_max_backoff_seconds=sv.seconds(
                env, "JUNCTION_TELEMETRY_MAX_BACKOFF_SECONDS", 30.0, _DAY
            ),
            breaker_failures=sv.integer(env, "JUNCTION_BREAKER_FAILURES", 5, 1, 10_000),
            breaker_failure_rate=_share(env, "JUNCTION_BREAKER_FAILURE_RATE", 0.5),
            breaker_window_seconds=sv.seconds(env, "JUNCTION_BREAKER_WINDOW_SECONDS", 30.0, _DAY),
            breaker_min_calls=sv.integer(env, "JUNCTION_BREAKER_MIN_CALLS", 20, 1, _MAX_COUNT),
            breaker_max_open_seconds=sv.seconds(
                env, "JUNCTION_BREAKER_MAX_OPEN_SECONDS", 300.0, _DAY
            ),
            retry_budget_ratio=_share(env, "JUNCTION_RETRY_BUDGET_RATIO", 0.2),
            retry_budget_floor=sv.integer(env, "JUNCTION_RETRY_BUDGET_FLOOR", 3, 0, _MAX_COUNT),
            retry_budget_window_seconds=sv.seconds(
                env, "JUNCTION_RETRY_BUDGET_WINDOW_SECONDS", 10.0, _DAY
            ),
            breaker_sync_seconds=sv.seconds(env, "JUNCTION_BREAKER_SYNC_SECONDS", 0.25, _HOUR),
            health_report_seconds=sv.seconds(env, "JUNCTION_HEALTH_REPORT_SECONDS", 2.0, _HOUR),
            engine_id=sv.label(env, "JUNCTION_ENGINE_ID", ""),
            header_timeout_seconds=sv.seconds(env, "JUNCTION_HEADER_TIMEOUT_SECONDS", 10.0, _HOUR),
            body_timeout_seconds=sv.seconds(env, "JUNCTION_BODY_TIMEOUT_SECONDS", 60.0, _DAY),
            keepalive_timeout_seconds=sv.seconds(
                env, "JUNCTION_KEEPALIVE_TIMEOUT_SECONDS", 75.0, _DAY
            ),
            write_idle_timeout_seconds=sv.seconds(
                env, "JUNCTION_WRITE_IDLE_TIMEOUT_SECONDS", 30.0, _DAY
            ),
            # 0: no cap
            max_in_flight=sv.integer(env, "JUNCTION_MAX_IN_FLIGHT", 1024, 0, _MAX_COUNT),
            tenant_max_in_flight=sv.integer(env, "JUNCTION_TENANT_MAX_IN_FLIGHT", 0, 0, _MAX_COUNT),
            tracing=TracingSettings.from_env(env, service_name=SERVICE_NAME),
        )


def _internal_secret(env: Mapping[str, str], var_dir: Path) -> bytes:
    text = env.get("JUNCTION_INTERNAL_SECRET", "")
    if text.strip():
        return decode_secret(text)
    key_file = var_dir / "internal.key"
    try:
        text = key_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(
            f"JUNCTION_INTERNAL_SECRET is not set: set it or start the control plane once "
            f"so that it writes {key_file}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SettingsError(f"JUNCTION_INTERNAL_SECRET: cannot read {key_file}: {why}") from None
    return decode_secret(text, source=str(key_file))


def control_urls(text: str) -> tuple[str, ...]:
    """The URLs of a `control_url` value: comma- or space-separated, in order, no repeats."""
    found: list[str] = []
    for part in text.replace(",", " ").split():
        url = part.rstrip("/")
        if url not in found:
            found.append(url)
    return tuple(found)


def _control_urls(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """One control-plane URL or several (replicas the engine fails over between)."""
    default = "http://127.0.0.1:8082"
    urls = control_urls(env.get(name, ""))
    for url in urls:
        # each one must be a URL on its own; the error names the one refused
        sv.url({name: url}, name, default, ("http", "https"))
    return urls or (default,)


def _egress(env: Mapping[str, str]) -> Egress:
    try:
        return Egress.parse(env.get("JUNCTION_EGRESS_ALLOW", ""))
    except ValueError as exc:
        raise SettingsError(f"JUNCTION_EGRESS_ALLOW: {exc}") from None


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    """A share of calls: above 0, at most 1."""
    return sv.number(env, name, default, 0.0, 1.0, above_low=True)
