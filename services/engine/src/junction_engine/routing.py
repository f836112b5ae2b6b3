"""Choosing which deployment and credential serve a call, in which order.

Priority groups first (lower number first). Inside a group, a weighted random
order (Efraimidis-Spirakis keys), with the deployment that has fewer calls in
flight winning near-ties. Two kinds of health shape the plan:

- a failure sends a deployment or credential to the back of the line for a
  cooldown (doubling on repeats; Retry-After wins): it is tried only after
  the healthy ones;
- its circuit breaker (`breakers`) takes it out of the line altogether while
  open, and lets one probe through once half-open. A plan that had to leave
  everything out says so (`Plan.shed`): the call is answered 503 without a
  provider being tried.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from junction_contracts import CredentialRoute, DeploymentRoute, ModelRoute
from junction_engine.breakers import Breaker, BreakerPolicy, Change, Kind, State

_MAX_COOLDOWN = 300.0
# one generator for every call: seeding a new one from the OS costs more than the plan
_RNG = random.Random()

Listener = Callable[[Change], None]


@lru_cache(maxsize=4096)
def key_fingerprint(sealed_key: str) -> str:
    """A short digest of a credential's sealed key: tells a new key from the one refused."""
    return hashlib.sha256(sealed_key.encode()).hexdigest()[:16]


@dataclass(slots=True)
class _Health:
    failures: int = 0
    until: float = 0.0


class HealthBoard:
    """Cooldowns, breakers and in-flight counts, per deployment or credential id.

    Breaker changes (opened, closed, marked invalid) go to `listeners`: the
    shared state in Redis, the reports to the control plane. Only keys that
    ever failed have a breaker; the others cost one dictionary miss.
    """

    def __init__(
        self,
        *,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        policy: BreakerPolicy | None = None,
    ):
        self._cooldown = cooldown
        self.clock = clock
        self.policy = policy or BreakerPolicy(base_open=cooldown)
        self._health: dict[str, _Health] = {}
        self.breakers: dict[str, Breaker] = {}
        self.inflight: dict[str, int] = {}
        self.listeners: list[Listener] = []

    def cooling(self, key: str) -> bool:
        """Whether `key` failed lately or its breaker is open (half-open waits for its probe)."""
        now = self.clock()
        b = self.breakers.get(key)
        if b is not None and (state := b.state(now)) != "closed":
            return state != "half_open"  # a probe goes in the deployment's own place
        h = self._health.get(key)
        return h is not None and h.until > now

    def state(self, key: str) -> State:
        b = self.breakers.get(key)
        return "closed" if b is None else b.state(self.clock())

    def failed(
        self,
        key: str,
        *,
        retry_after: float | None = None,
        error: str | None = None,
        kind: Kind = "deployment",
        counts: bool = True,
    ) -> None:
        """Cool `key` down and, when the failure `counts` against the provider, tell its breaker."""
        now = self.clock()
        h = self._health.setdefault(key, _Health())
        h.failures += 1
        if retry_after is not None and retry_after > 0:
            wait = min(retry_after, _MAX_COOLDOWN)
        else:
            wait = min(self._cooldown * 2 ** min(h.failures - 1, 8), _MAX_COOLDOWN)
        h.until = now + wait
        if not counts:
            return
        b = self._breaker(key, kind)
        if b.fail(now, retry_after=retry_after, error=error):
            self._tell(b.change(key, now, "local"))

    def invalid(self, credential: CredentialRoute, *, error: str | None = None) -> None:
        """The provider refused this credential's key: out until the route brings another."""
        now = self.clock()
        b = self._breaker(credential.id, "credential")
        if b.invalidate(key_fingerprint(credential.sealed_key), error):
            self._tell(b.change(credential.id, now, "local"))

    def succeeded(self, key: str) -> None:
        self._health.pop(key, None)
        b = self.breakers.get(key)
        if b is not None:
            now = self.clock()
            if b.succeed(now):
                self._tell(b.change(key, now, "local"))

    def usable(self, key: str) -> bool:
        """Whether a deployment's breaker lets a request through now."""
        b = self.breakers.get(key)
        return b is None or b.usable(self.clock())

    def credential_usable(self, credential: CredentialRoute) -> bool:
        b = self.breakers.get(credential.id)
        if b is None:
            return True
        return b.usable(self.clock(), key_fingerprint(credential.sealed_key))

    def admit(self, deployment: DeploymentRoute, credential: CredentialRoute) -> bool:
        """Take the pair's breakers (and their probes when half-open); False: skip it."""
        now = self.clock()
        d = self.breakers.get(deployment.id)
        if d is not None and not d.admit(now):
            return False
        c = self.breakers.get(credential.id)
        if c is not None:
            was_invalid = c.state(now) == "invalid"
            if not c.admit(now, key_fingerprint(credential.sealed_key)):
                if d is not None:
                    d.release()
                return False
            if was_invalid:
                self._tell(c.change(credential.id, now, "local"))  # a new key: closed again
        return True

    def settle(self, *keys: str) -> None:
        """The attempt is over: a probe it held and did not report on is free again."""
        for key in keys:
            b = self.breakers.get(key)
            if b is not None:
                b.release()

    def reopens_in(self, keys: Iterable[str]) -> float | None:
        """Seconds until the first open breaker among `keys` half-opens; None if none is open."""
        now = self.clock()
        waits = [
            w
            for key in keys
            if (b := self.breakers.get(key)) is not None and (w := b.reopens_in(now)) is not None
        ]
        return min(waits) if waits else None

    def changes(self) -> list[Change]:
        """Every breaker as it stands (for metrics and reads)."""
        now = self.clock()
        return [b.change(key, now, "local") for key, b in self.breakers.items()]

    def adopt(
        self, key: str, kind: Kind, state: State, until: float, opens: int, fingerprint: str | None
    ) -> None:
        """Another replica published this breaker's state (`until` by this board's clock)."""
        b = self._breaker(key, kind)
        if b.adopt(state, until, opens, fingerprint):
            self._tell(b.change(key, self.clock(), "shared"))

    def forget_shared(self, present: set[str]) -> None:
        """Close what was learned from (or told to) other replicas and is no longer shared."""
        now = self.clock()
        for key, b in self.breakers.items():
            if b.shared and key not in present and b.forget_shared():
                self._tell(b.change(key, now, "shared"))

    def enter(self, key: str) -> None:
        self.inflight[key] = self.inflight.get(key, 0) + 1

    def leave(self, key: str) -> None:
        n = self.inflight.get(key, 0) - 1
        if n <= 0:
            self.inflight.pop(key, None)
        else:
            self.inflight[key] = n

    def _breaker(self, key: str, kind: Kind) -> Breaker:
        b = self.breakers.get(key)
        if b is None:
            b = self.breakers[key] = Breaker(kind, self.policy)
        return b

    def _tell(self, change: Change) -> None:
        for listener in self.listeners:
            listener(change)


def resting(d: DeploymentRoute, board: HealthBoard) -> bool:
    """A deployment rests while it, or every one of its credentials, cools down."""
    if board.cooling(d.id):
        return True
    return bool(d.credentials) and all(board.cooling(c.id) for c in d.credentials)


def _weighted_order(
    items: Sequence[DeploymentRoute], board: HealthBoard, rng: random.Random
) -> list[DeploymentRoute]:
    def key(d: DeploymentRoute) -> tuple[bool, float]:
        w = max(d.weight, 0) or 1e-9
        score = rng.random() ** (1.0 / w)
        # fewer calls in flight nudges the score up: least-busy wins near-ties
        score /= 1.0 + 0.1 * board.inflight.get(d.id, 0)
        return (resting(d, board), -score)

    return sorted(items, key=key)


def _credential_order(
    creds: Sequence[CredentialRoute], board: HealthBoard, rng: random.Random
) -> list[CredentialRoute]:
    def key(c: CredentialRoute) -> tuple[bool, float]:
        w = max(c.weight, 0) or 1e-9
        return (board.cooling(c.id), -(rng.random() ** (1.0 / w)))

    return sorted(creds, key=key)


class Plan:
    """The (deployment, credential) pairs to try, in order.

    `shed` turns true when a breaker left a pair out; a call that was
    offered no pair at all for that reason is answered 503.
    """

    __slots__ = ("_pairs", "shed")

    def __init__(self, model: ModelRoute, board: HealthBoard, rng: random.Random) -> None:
        self.shed = False
        self._pairs = self._order(model, board, rng)

    def __iter__(self) -> Iterator[tuple[DeploymentRoute, CredentialRoute]]:
        return self

    def __next__(self) -> tuple[DeploymentRoute, CredentialRoute]:
        return next(self._pairs)

    def _order(
        self, model: ModelRoute, board: HealthBoard, rng: random.Random
    ) -> Iterator[tuple[DeploymentRoute, CredentialRoute]]:
        deployments = model.deployments
        if len(deployments) == 1:
            ordered = list(deployments)  # the common case: nothing to order between deployments
        else:
            priorities = sorted({d.priority for d in deployments})
            ordered = []
            for p in priorities:
                ordered.extend(
                    _weighted_order([d for d in deployments if d.priority == p], board, rng)
                )
            # a healthy lower-priority group beats a cooling higher-priority one
            ordered.sort(key=lambda d: resting(d, board))
        for deployment in ordered:
            if not board.usable(deployment.id):
                self.shed = True
                continue
            creds = deployment.credentials
            for credential in creds if len(creds) == 1 else _credential_order(creds, board, rng):
                if board.credential_usable(credential):
                    yield deployment, credential
                else:
                    self.shed = True


def plan(model: ModelRoute, board: HealthBoard, *, rng: random.Random | None = None) -> Plan:
    """The (deployment, credential) pairs of `model` to try, in order (see `Plan`)."""
    return Plan(model, board, rng or _RNG)
