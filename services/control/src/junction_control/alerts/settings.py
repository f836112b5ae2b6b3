"""Settings of the budget job and of webhook deliveries (part of `ControlSettings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from junction_control.errors import ConfigError

_DAY = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """How often budgets are checked, and how webhooks are delivered and retried."""

    # how often budget periods are rolled over and thresholds checked
    check_seconds: float = 30.0
    # how long after a boundary late costs of the old period are still taken out of the new one
    settle_seconds: float = 1200.0
    # one delivery attempt, connect to last byte of the answer's head
    webhook_timeout_seconds: float = 10.0
    # attempts per event before it is given up
    webhook_max_attempts: int = 8
    # wait after the first failed attempt; doubled after each further one, up to the max
    webhook_backoff_seconds: float = 30.0
    webhook_max_backoff_seconds: float = 3600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AlertSettings:
        """From ``JUNCTION_BUDGET_*`` and ``JUNCTION_WEBHOOK_*``; ConfigError if out of range."""
        return cls(
            check_seconds=_seconds(env, "JUNCTION_BUDGET_CHECK_SECONDS", 30.0, 1.0, _DAY),
            settle_seconds=_seconds(env, "JUNCTION_BUDGET_SETTLE_SECONDS", 1200.0, 0.0, _DAY),
            webhook_timeout_seconds=_seconds(
                env, "JUNCTION_WEBHOOK_TIMEOUT_SECONDS", 10.0, 0.1, 300.0
            ),
            webhook_max_attempts=int(
                _seconds(env, "JUNCTION_WEBHOOK_MAX_ATTEMPTS", 8, 1, 100, whole=True)
            ),
            webhook_backoff_seconds=_seconds(
                env, "JUNCTION_WEBHOOK_BACKOFF_SECONDS", 30.0, 0.0, _DAY
            ),
            webhook_max_backoff_seconds=_seconds(
                env, "JUNCTION_WEBHOOK_MAX_BACKOFF_SECONDS", 3600.0, 0.0, 7 * _DAY
            ),
        )


def _seconds(
    env: Mapping[str, str],
    name: str,
    default: float,
    low: float,
    high: float,
    *,
    whole: bool = False,
) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if not low <= value <= high:  # NaN fails too
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw}")
    return value
