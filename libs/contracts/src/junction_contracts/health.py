"""Provider health reports: what the engine tells the control plane about its breakers.

Each engine process reports a breaker when it changes state (opened,
closed, credential marked invalid), never per request: changes wait a
moment, the latest per breaker wins, and they go out in one signed batch to
`POST /internal/v1/health/breakers`. Half-open is not reported: it comes
with time, and a reader derives it from ``open_until``.

The answer (202) counts the reports: ``{"accepted", "rejected"}`` (a report
naming a deployment or credential the control plane does not know is
rejected). A batch that is not this schema is refused whole with a 400.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from junction_contracts.errors import ContractError

HEALTH_VERSION = 1
HEALTH_PATH = "/internal/v1/health/breakers"
MAX_REPORTS = 1000

BreakerKind = Literal["deployment", "credential"]
ReportedState = Literal["closed", "open", "invalid"]
BREAKER_KINDS: tuple[BreakerKind, ...] = ("deployment", "credential")
REPORTED_STATES: tuple[ReportedState, ...] = ("closed", "open", "invalid")


@dataclass(frozen=True, slots=True)
class BreakerReport:
    """One breaker's state as one engine process sees it."""

    kind: BreakerKind
    target_id: str  # the deployment's or credential's id
    state: ReportedState
    #: consecutive failures when it changed
    failures: int
    #: the stable code of the last failure (upstream_timeout, upstream_auth_failed, ...)
    last_error: str | None
    #: unix seconds when it changed
    changed_at: float
    #: unix seconds when an open breaker lets a probe through; None unless open
    open_until: float | None
    engine_id: str

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: Any) -> BreakerReport:
        if not isinstance(data, dict):
            raise ContractError("a report must be an object")
        kind, state = data.get("kind"), data.get("state")
        if kind not in BREAKER_KINDS:
            raise ContractError(f"unknown breaker kind {kind!r}")
        if state not in REPORTED_STATES:
            raise ContractError(f"unknown breaker state {state!r}")
        return cls(
            kind=kind,
            target_id=_text(data, "target_id", 64),
            state=state,
            failures=_count(data.get("failures")),
            last_error=None if data.get("last_error") is None else _text(data, "last_error", 64),
            changed_at=_time(data.get("changed_at"), "changed_at"),
            open_until=(
                None if data.get("open_until") is None else _time(data["open_until"], "open_until")
            ),
            engine_id=_text(data, "engine_id", 200),
        )


def health_batch(reports: list[BreakerReport]) -> dict[str, Any]:
    """The body of one report batch."""
    return {"version": HEALTH_VERSION, "reports": [r.to_dict() for r in reports]}


def read_health_batch(data: Any) -> list[BreakerReport]:
    """The reports of a batch body; ContractError when it is not one."""
    if not isinstance(data, dict) or data.get("version") != HEALTH_VERSION:
        raise ContractError(f"a health batch is {{'version': {HEALTH_VERSION}, 'reports': [...]}}")
    reports = data.get("reports")
    if not isinstance(reports, list) or len(reports) > MAX_REPORTS:
        raise ContractError(f"'reports' must be a list of at most {MAX_REPORTS}")
    return [BreakerReport.from_dict(r) for r in reports]


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ContractError(f"'{name}' must be text of 1 to {limit} characters")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ContractError("'failures' must be a whole number >= 0")
    return value


def _time(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ContractError(f"'{name}' must be unix seconds")
    if not 0 <= value < 1e11:
        raise ContractError(f"'{name}' is out of range")
    return float(value)
