"""Engine settings: one frozen object, read once from the environment by the app factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from junction_contracts.egress import Egress


class SettingsError(ValueError):
    """A missing or unsafe setting; the process refuses to start."""


def load_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a `.env` file (KEY=VALUE, `#` comments, optional quotes); missing file: {}."""
    p = Path(path)
    if not p.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in p.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def decode_secret(text: str) -> bytes:
    """The internal secret is the UTF-8 of its text, whitespace stripped, 32 bytes or more.

    Both planes read it the same way, from JUNCTION_INTERNAL_SECRET or
    `<var_dir>/internal.key` (written by the control plane on first start).
    """
    secret = text.strip().encode()
    if len(secret) < 32:
        raise SettingsError("the internal secret must be at least 32 bytes")
    return secret


@dataclass(frozen=True, slots=True)
class EngineSettings:
    host: str = "127.0.0.1"
    port: int = 8090
    #: worker processes sharing the port (each a whole engine with its own caches)
    workers: int = 1
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

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = ".env",
    ) -> EngineSettings:
        """Build settings from `JUNCTION_*` variables (process env wins over the `.env` file)."""
        env: dict[str, str] = dict(load_env_file(env_file)) if env_file else {}
        env.update(os.environ if environ is None else environ)

        def get(name: str, default: str) -> str:
            return env.get(f"JUNCTION_{name}", default)

        def number(name: str, default: float) -> float:
            raw = get(name, str(default))
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"JUNCTION_{name} must be a number, got {raw!r}") from None
            if value <= 0:
                raise SettingsError(f"JUNCTION_{name} must be positive")
            return value

        def whole(name: str, default: int) -> int:
            raw = get(name, str(default))
            if not raw.isdigit() or int(raw) < 1:
                raise SettingsError(f"JUNCTION_{name} must be a whole number >= 1, got {raw!r}")
            return int(raw)

        def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
            raw = get(name, default).strip().lower()
            if raw not in allowed:
                raise SettingsError(f"JUNCTION_{name} must be one of {', '.join(allowed)}")
            return raw

        def count(name: str, default: int) -> int:
            raw = get(name, str(default)).strip()
            if not raw.isdigit():
                raise SettingsError(
                    f"JUNCTION_{name} must be a whole number >= 0 (0: no limit), got {raw!r}"
                )
            return int(raw)

        def share(name: str, default: float) -> float:
            value = number(name, default)
            if value > 1:
                raise SettingsError(f"JUNCTION_{name} must be a share between 0 and 1")
            return value

        def retries(name: str, default: int) -> int:
            raw = get(name, str(default)).strip()
            if not raw.isdigit():
                raise SettingsError(f"JUNCTION_{name} must be a whole number >= 0, got {raw!r}")
            return int(raw)

        def redis_timeout_ms() -> int:
            value = whole("REDIS_TIMEOUT_MS", 100)
            if value > 10_000:
                raise SettingsError(
                    "JUNCTION_REDIS_TIMEOUT_MS must be at most 10000: Redis is an accelerator, "
                    "a request should not wait longer for it than it would for the control plane"
                )
            return value

        def egress() -> Egress:
            try:
                return Egress.parse(get("EGRESS_ALLOW", ""))
            except ValueError as exc:
                raise SettingsError(f"JUNCTION_EGRESS_ALLOW: {exc}") from None

        var_dir = Path(get("VAR_DIR", "./var"))
        secret_text = env.get("JUNCTION_INTERNAL_SECRET")
        if secret_text is None:
            key_file = var_dir / "internal.key"
            if not key_file.is_file():
                raise SettingsError(
                    f"no internal secret: set JUNCTION_INTERNAL_SECRET or start the control "
                    f"plane once so that it writes {key_file}"
                )
            secret_text = key_file.read_text(encoding="utf-8")
        return cls(
            host=get("ENGINE_HOST", "127.0.0.1"),
            port=int(number("ENGINE_PORT", 8090)),
            workers=whole("ENGINE_WORKERS", 1),
            control_url=get("CONTROL_URL", "http://127.0.0.1:8082").rstrip("/"),
            internal_secret=decode_secret(secret_text),
            redis_url=env.get("JUNCTION_REDIS_URL") or None,
            redis_max_connections=whole("REDIS_MAX_CONNECTIONS", 64),
            redis_timeout_ms=redis_timeout_ms(),
            route_ttl_seconds=number("ROUTE_TTL_SECONDS", 30.0),
            route_max_stale_seconds=number("ROUTE_MAX_STALE_SECONDS", 900.0),
            unknown_key_ttl_seconds=number("UNKNOWN_KEY_TTL_SECONDS", 5.0),
            max_body_bytes=int(number("MAX_BODY_BYTES", 8 * 1024 * 1024)),
            connect_timeout=number("CONNECT_TIMEOUT", 5.0),
            first_byte_timeout=number("FIRST_BYTE_TIMEOUT", 120.0),
            idle_timeout=number("IDLE_TIMEOUT", 120.0),
            total_timeout=number("TOTAL_TIMEOUT", 900.0),
            max_attempts=int(number("MAX_ATTEMPTS", 4)),
            reserve_output_tokens=whole("RESERVE_OUTPUT_TOKENS", 4096),
            upstream_max_connections=int(number("UPSTREAM_MAX_CONNECTIONS", 1000)),
            egress=egress(),
            upstream_client=choice("UPSTREAM_CLIENT", "http1", ("http1", "aiohttp")),
            cooldown_seconds=number("COOLDOWN_SECONDS", 30.0),
            log_level=get("LOG_LEVEL", "info").lower(),
            log_format=choice("LOG_FORMAT", "text", ("text", "json")),
            call_log=choice("CALL_LOG", "on", ("on", "off")) == "on",
            var_dir=var_dir,
            spool_dir=Path(get("SPOOL_DIR", str(var_dir / "spool"))),
            telemetry_batch_size=int(number("TELEMETRY_BATCH_SIZE", 500)),
            telemetry_flush_seconds=number("TELEMETRY_FLUSH_SECONDS", 1.0),
            telemetry_max_memory=int(number("TELEMETRY_MAX_MEMORY", 20_000)),
            telemetry_max_backoff_seconds=number("TELEMETRY_MAX_BACKOFF_SECONDS", 30.0),
            breaker_failures=whole("BREAKER_FAILURES", 5),
            breaker_failure_rate=share("BREAKER_FAILURE_RATE", 0.5),
            breaker_window_seconds=number("BREAKER_WINDOW_SECONDS", 30.0),
            breaker_min_calls=whole("BREAKER_MIN_CALLS", 20),
            breaker_max_open_seconds=number("BREAKER_MAX_OPEN_SECONDS", 300.0),
            retry_budget_ratio=share("RETRY_BUDGET_RATIO", 0.2),
            retry_budget_floor=retries("RETRY_BUDGET_FLOOR", 3),
            retry_budget_window_seconds=number("RETRY_BUDGET_WINDOW_SECONDS", 10.0),
            breaker_sync_seconds=number("BREAKER_SYNC_SECONDS", 0.25),
            health_report_seconds=number("HEALTH_REPORT_SECONDS", 2.0),
            engine_id=get("ENGINE_ID", "").strip(),
            header_timeout_seconds=number("HEADER_TIMEOUT_SECONDS", 10.0),
            body_timeout_seconds=number("BODY_TIMEOUT_SECONDS", 60.0),
            keepalive_timeout_seconds=number("KEEPALIVE_TIMEOUT_SECONDS", 75.0),
            write_idle_timeout_seconds=number("WRITE_IDLE_TIMEOUT_SECONDS", 30.0),
            max_in_flight=count("MAX_IN_FLIGHT", 1024),
            tenant_max_in_flight=count("TENANT_MAX_IN_FLIGHT", 0),
        )
