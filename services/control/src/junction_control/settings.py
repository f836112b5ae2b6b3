"""Settings of the control plane: one frozen object, built at start.

`ControlSettings.from_env()` reads ``JUNCTION_*`` variables (the process
environment wins over an optional `.env` file), generates the master keyring
and the internal secret under the var directory on first start, and fails
with a clear ConfigError on anything missing or unsafe: one line naming the
variable and what is allowed (the bounded readers of
`junction_contracts.setting_values`). It is called by the app factories'
callers and the CLI, never at import time.

The internal secret is shared with the engine: it signs engine -> control
calls and derives the key that seals provider keys in routes. Both planes use
the UTF-8 bytes of ``JUNCTION_INTERNAL_SECRET`` or, when that is unset, of
``<var_dir>/internal.key`` with surrounding whitespace stripped.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from junction_contracts import setting_values as sv
from junction_contracts.egress import Egress
from junction_contracts.envfile import environment
from junction_contracts.log_format import LogFormat, log_format
from junction_contracts.setting_values import SettingError
from junction_control.alerts.settings import AlertSettings
from junction_control.crypto import Keyring, generate_master_key, parse_keyring
from junction_control.errors import ConfigError
from junction_control.secret_files import read_or_create
from junction_tracing.settings import PREFIXES, TracingSettings

SERVICE_NAME = "junction-control"
MASTER_KEY_FILE = "master.key"
INTERNAL_SECRET_FILE = "internal.key"
MIN_INTERNAL_SECRET_BYTES = 32
# upper bounds of the durations: larger values overflow date arithmetic at run time
MAX_STUCK_CALL_MINUTES = 366 * 24 * 60  # a year
MAX_CALL_RETENTION_DAYS = 100 * 366  # a century
MAX_ADMIN_SESSION_HOURS = 366 * 24  # a year


@dataclass(frozen=True, slots=True)
class ControlSettings:
    """Everything the control plane needs to start, validated."""

    database_url: str
    var_dir: Path
    keyring: Keyring = field(repr=False)
    internal_secret: bytes = field(repr=False)
    master_key_file: Path | None = None  # None: the keyring came from the environment
    host: str = "127.0.0.1"
    admin_port: int = 8081
    internal_port: int = 8082
    log_level: str = "info"
    # one JSON object per log line, or text for a terminal (JUNCTION_LOG_FORMAT)
    log_format: LogFormat = "text"
    # calls still `processing` this long after they started are marked failed (stuck)
    stuck_call_minutes: int = 30
    # model_calls rows older than this are pruned (their hourly rollups stay)
    call_retention_days: int = 90
    # how long an admin API session lasts after login
    admin_session_hours: int = 12
    # where route changes are published to the engines (off when unset)
    redis_url: str | None = None
    # provider addresses allowed besides public ones (the engine's setting, checked on save)
    egress: Egress = field(default_factory=Egress)
    # budget periods and threshold webhooks (JUNCTION_BUDGET_*, JUNCTION_WEBHOOK_*)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    # whether `serve` applies pending migrations before it listens (JUNCTION_MIGRATE_ON_START);
    # off in the shipped manifests, where one migration step runs before any server
    migrate_on_start: bool = True
    # OpenTelemetry spans of resolve and ingest (OTEL_*): off unless an OTLP endpoint is set
    tracing: TracingSettings = field(
        default_factory=lambda: TracingSettings(service_name=SERVICE_NAME)
    )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] = os.environ,
        env_file: str | Path | None = ".env",
    ) -> ControlSettings:
        """Build settings from `environ` over `env_file`; ConfigError if unusable."""
        try:
            return cls._read(environment(environ, env_file, prefix=PREFIXES))
        except SettingError as exc:
            raise ConfigError(str(exc)) from None

    @classmethod
    def _read(cls, env: Mapping[str, str]) -> ControlSettings:
        var_dir = sv.directory(env, "JUNCTION_VAR_DIR", "./var").resolve()
        _ensure_dir(var_dir)
        keyring, key_file = _keyring(env.get("JUNCTION_MASTER_KEY"), var_dir)
        return cls(
            database_url=database_url(env.get("JUNCTION_DATABASE_URL"), var_dir),
            var_dir=var_dir,
            keyring=keyring,
            internal_secret=_internal_secret(env.get("JUNCTION_INTERNAL_SECRET"), var_dir),
            master_key_file=key_file,
            host=sv.host(env, "JUNCTION_CONTROL_HOST", "127.0.0.1"),
            admin_port=sv.integer(env, "JUNCTION_ADMIN_PORT", 8081, 1, 65_535),
            internal_port=sv.integer(env, "JUNCTION_INTERNAL_PORT", 8082, 1, 65_535),
            log_level=sv.log_level(env, "JUNCTION_LOG_LEVEL"),
            log_format=_log_format(env.get("JUNCTION_LOG_FORMAT")),
            stuck_call_minutes=sv.integer(
                env, "JUNCTION_STUCK_CALL_MINUTES", 30, 1, MAX_STUCK_CALL_MINUTES
            ),
            call_retention_days=sv.integer(
                env, "JUNCTION_CALL_RETENTION_DAYS", 90, 1, MAX_CALL_RETENTION_DAYS
            ),
            admin_session_hours=sv.integer(
                env, "JUNCTION_ADMIN_SESSION_HOURS", 12, 1, MAX_ADMIN_SESSION_HOURS
            ),
            redis_url=sv.url(
                env, "JUNCTION_REDIS_URL", None, ("redis", "rediss", "unix"), secret=True
            ),
            egress=_egress(env.get("JUNCTION_EGRESS_ALLOW")),
            alerts=AlertSettings.from_env(env),
            migrate_on_start=sv.flag(env, "JUNCTION_MIGRATE_ON_START", True),
            tracing=TracingSettings.from_env(env, service_name=SERVICE_NAME),
        )


def _egress(raw: str | None) -> Egress:
    try:
        return Egress.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"JUNCTION_EGRESS_ALLOW: {exc}") from None


def database_url(raw: str | None, var_dir: Path) -> str:
    """The SQLAlchemy async URL for `raw` (SQLite under `var_dir` when unset)."""
    if not raw:
        return f"sqlite+aiosqlite:///{var_dir / 'junction.db'}"
    scheme, sep, rest = raw.partition("://")
    if not sep:
        raise ConfigError("JUNCTION_DATABASE_URL must look like postgresql://… or sqlite:///…")
    drivers = {
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+asyncpg": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
    }
    driver = drivers.get(scheme.lower())
    if driver is None:
        raise ConfigError(
            f"JUNCTION_DATABASE_URL scheme {scheme!r} is not supported (use postgresql or sqlite)"
        )
    url = f"{driver}://{rest}"
    try:
        make_url(url)
    except ArgumentError:
        raise ConfigError("JUNCTION_DATABASE_URL is not a valid database URL") from None
    return url


def _keyring(raw: str | None, var_dir: Path) -> tuple[Keyring, Path | None]:
    if raw:
        return parse_keyring(raw, source="JUNCTION_MASTER_KEY"), None
    path = var_dir / MASTER_KEY_FILE
    text = read_or_create(path, lambda: generate_master_key("v1").to_text(), what="master key")
    return parse_keyring(text, source=str(path)), path


def _internal_secret(raw: str | None, var_dir: Path) -> bytes:
    if raw and raw.strip():
        secret, source = raw.strip(), "JUNCTION_INTERNAL_SECRET"
    else:
        path = var_dir / INTERNAL_SECRET_FILE
        source = str(path)
        secret = read_or_create(
            path, lambda: secrets.token_urlsafe(48) + "\n", what="internal secret"
        ).strip()
    encoded = secret.encode()
    if len(encoded) < MIN_INTERNAL_SECRET_BYTES:
        raise ConfigError(
            f"{source}: the internal secret must be at least {MIN_INTERNAL_SECRET_BYTES} bytes"
        )
    return encoded


def _log_format(raw: str | None) -> LogFormat:
    try:
        return log_format(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _ensure_dir(var_dir: Path) -> None:
    try:
        var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create JUNCTION_VAR_DIR {var_dir}: {exc.strerror}") from None
