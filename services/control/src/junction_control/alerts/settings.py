"""Settings of the budget job and of webhook deliveries (part of `ControlSettings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from junction_contracts import setting_values as sv
from junction_contracts.setting_values import SettingError
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
        try:
            return cls._read(env)
        except SettingError as exc:
            raise ConfigError(str(exc)) from None

    @classmethod
    def _read(cls, env: Mapping[str, str]) -> AlertSettings:
        return cls(
            check_seconds=sv.number(env, "JUNCTION_BUDGET_CHECK_SECONDS", 30.0, 1.0, _DAY),
            settle_seconds=sv.number(env, "JUNCTION_BUDGET_SETTLE_SECONDS", 1200.0, 0.0, _DAY),
            webhook_timeout_seconds=sv.number(
                env, "JUNCTION_WEBHOOK_TIMEOUT_SECONDS", 10.0, 0.1, 300.0
            ),
            webhook_max_attempts=sv.integer(env, "JUNCTION_WEBHOOK_MAX_ATTEMPTS", 8, 1, 100),
            webhook_backoff_seconds=sv.number(
                env, "JUNCTION_WEBHOOK_BACKOFF_SECONDS", 30.0, 0.0, _DAY
            ),
            webhook_max_backoff_seconds=sv.number(
                env, "JUNCTION_WEBHOOK_MAX_BACKOFF_SECONDS", 3600.0, 0.0, 7 * _DAY
            ),
        )
