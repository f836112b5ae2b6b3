"""A circuit breaker per deployment and per credential: closed, open, half-open, invalid.

    closed ──N consecutive failures, or a failure rate over the window──► open
    closed ──a failure that carries Retry-After─────────────────────────► open
    open ──its time passes──► half-open ──one probe succeeds──► closed
                                        └─the probe fails────► open (longer)
    any ──the provider refuses the credential (401/403)──► invalid
    invalid ──the route brings another key for it──► closed

An open breaker stays open for the base cooldown, doubled on each open in a
row (capped), or for the provider's Retry-After when that is longer. A
failure with Retry-After opens at once for what the provider asked: it said
when to come back. In half-open exactly one request is let through; until
it reports, everyone else treats the breaker as open. Only failures that
say the provider is unwell count (connect errors, timeouts, 5xx, 429,
malformed answers): a request the provider rejects says nothing about it.

A credential marked invalid stays out until its key changes: the route then
carries another sealed value for it (an admin entered a new key, or the
control plane sealed it anew), and one more try tells whether it works.

Pure state: the caller passes the time; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from junction_engine.rolling_window import RollingWindow

State = Literal["closed", "open", "half_open", "invalid"]
Kind = Literal["deployment", "credential"]
# open-until times that differ by less come from one event (clocks converted back and forth)
_SAME_TIME = 0.05


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and for how long (seconds)."""

    consecutive: int = 5
    #: failure share over the window that opens the breaker, once `min_volume` calls were seen
    rate: float = 0.5
    window: float = 30.0
    min_volume: int = 20
    base_open: float = 30.0
    max_open: float = 300.0
    #: a probe that never reports (its task was lost) stops blocking the next one after this
    probe_timeout: float = 150.0


@dataclass(frozen=True, slots=True)
class Change:
    """A breaker changed state (opened, closed, marked invalid)."""

    key: str
    kind: Kind
    state: State
    failures: int
    last_error: str | None
    #: by the board's clock; None unless open or half-open
    open_until: float | None
    #: "local": this engine saw it happen; "shared": it was learned from another replica
    origin: Literal["local", "shared"] = "local"
    fingerprint: str | None = None
    opens: int = 0


class Breaker:
    """The breaker of one deployment or credential."""

    __slots__ = (
        "_policy",
        "_state",
        "failures",
        "fingerprint",
        "kind",
        "last_error",
        "opens",
        "probe_since",
        "shared",
        "until",
        "window",
    )

    def __init__(self, kind: Kind, policy: BreakerPolicy) -> None:
        self._policy = policy
        self.kind: Kind = kind
        self._state: State = "closed"
        #: consecutive failures since the last success
        self.failures = 0
        #: opens in a row without a close: each one waits longer
        self.opens = 0
        self.until = 0.0
        self.last_error: str | None = None
        self.probe_since: float | None = None
        self.fingerprint: str | None = None
        #: other replicas know this state (published, or learned from them)
        self.shared = False
        self.window = RollingWindow(policy.window)

    def state(self, now: float) -> State:
        if self._state == "open" and now >= self.until:
            return "half_open"
        return self._state

    def usable(self, now: float, fingerprint: str | None = None) -> bool:
        """Whether a request may be sent now (without taking the probe)."""
        state = self.state(now)
        if state == "closed":
            return True
        if state == "invalid":
            return fingerprint is not None and fingerprint != self.fingerprint
        if state == "half_open":
            return self.probe_since is None or now - self.probe_since > self._policy.probe_timeout
        return False

    def admit(self, now: float, fingerprint: str | None = None) -> bool:
        """Let one request through if the state allows; a half-open breaker gives its probe."""
        state = self.state(now)
        if state == "invalid" and fingerprint is not None and fingerprint != self.fingerprint:
            self._close()  # another key: judged afresh
            return True
        if not self.usable(now, fingerprint):
            return False
        if state == "half_open":
            self.probe_since = now
        return True

    def release(self) -> None:
        """The admitted request ended without saying anything about the provider."""
        self.probe_since = None

    def succeed(self, now: float) -> bool:
        """A success; True when it closed the breaker.

        Only a half-open breaker closes: a call that was sent before it
        opened and answered after says less than the failures that opened it.
        """
        self.window.add(now, a=1)
        state = self.state(now)
        if state == "half_open":
            self._close()
            return True
        if state == "closed":
            self.failures = 0
        return False

    def fail(self, now: float, *, retry_after: float | None, error: str | None) -> bool:
        """A failure that counts; True when it opened (or re-opened) the breaker."""
        self.window.add(now, b=1)
        self.failures += 1
        self.last_error = error
        probing = self.probe_since is not None or self.state(now) == "half_open"
        self.probe_since = None
        if self._state == "invalid" or (self._state == "open" and now < self.until):
            return False  # a call sent before it opened: already counted in the open
        p = self._policy
        if retry_after is not None and retry_after > 0 and not probing:
            return self._open(now, min(retry_after, p.max_open), backoff=False)
        if probing or self.failures >= p.consecutive or self._rate_exceeded(now):
            wait = min(p.base_open * 2 ** min(self.opens, 10), p.max_open)
            return self._open(now, max(wait, min(retry_after or 0.0, p.max_open)), backoff=True)
        return False

    def invalidate(self, fingerprint: str | None, error: str | None) -> bool:
        """The provider refused the credential; True when that is news."""
        news = self._state != "invalid" or self.fingerprint != fingerprint
        self._state = "invalid"
        self.fingerprint = fingerprint
        self.last_error = error
        self.failures += 1
        self.probe_since = None
        return news

    def adopt(self, state: State, until: float, opens: int, fingerprint: str | None) -> bool:
        """Take the state another replica published; True when this breaker changed."""
        self.shared = True
        if state == "invalid":
            if self._state == "invalid" and self.fingerprint == fingerprint:
                return False
            self._state, self.fingerprint = "invalid", fingerprint
            return True
        if self._state == "open" and self.until >= until - _SAME_TIME:
            return False  # what it knows already (its own word, read back)
        if self._state == "invalid":
            return False
        self._state, self.until = "open", until
        self.opens = max(self.opens, opens)
        self.probe_since = None
        return True

    def forget_shared(self) -> bool:
        """Another replica closed what this one learned from it; True when this one closes."""
        if self._state == "closed":
            self.shared = False
            return False
        self._close()
        return True

    def reopens_in(self, now: float) -> float | None:
        """Seconds until this open breaker half-opens (0 when it already has)."""
        if self._state != "open":
            return None
        return max(self.until - now, 0.0)

    def change(self, key: str, now: float, origin: Literal["local", "shared"]) -> Change:
        state = self.state(now)
        return Change(
            key=key,
            kind=self.kind,
            state=state,
            failures=self.failures,
            last_error=self.last_error,
            open_until=self.until if self._state == "open" else None,
            origin=origin,
            fingerprint=self.fingerprint,
            opens=self.opens,
        )

    def _open(self, now: float, wait: float, *, backoff: bool) -> bool:
        self._state = "open"
        self.until = now + max(wait, 0.001)
        if backoff:
            self.opens += 1
        self.window.clear()  # a fresh window once it closes again
        return True

    def _close(self) -> None:
        self._state = "closed"
        self.failures = 0
        self.opens = 0
        self.until = 0.0
        self.probe_since = None
        self.fingerprint = None

    def _rate_exceeded(self, now: float) -> bool:
        ok, failed = self.window.totals(now)
        seen = ok + failed
        return seen >= self._policy.min_volume and failed >= self._policy.rate * seen
