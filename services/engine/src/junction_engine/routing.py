"""Choosing which deployment and credential serve a call, in which order.

Priority groups first (lower number first). Inside a group, a weighted random
order (Efraimidis-Spirakis keys), with the deployment that has fewer calls in
flight winning near-ties. Deployments and credentials in cooldown go to the
back of the line rather than out of it: if everything is cooling down, trying
is better than refusing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from junction_contracts import CredentialRoute, DeploymentRoute, ModelRoute

_MAX_COOLDOWN = 300.0
# one generator for every call: seeding a new one from the OS costs more than the plan
_RNG = random.Random()


@dataclass(slots=True)
class _Health:
    failures: int = 0
    until: float = 0.0


class HealthBoard:
    """Cooldowns after failures and in-flight counts, per deployment or credential id."""

    def __init__(self, *, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._cooldown = cooldown
        self._clock = clock
        self._health: dict[str, _Health] = {}
        self.inflight: dict[str, int] = {}

    def cooling(self, key: str) -> bool:
        h = self._health.get(key)
        return h is not None and h.until > self._clock()

    def failed(self, key: str, *, retry_after: float | None = None) -> None:
        """Put `key` in cooldown: Retry-After when given, else exponential from the base."""
        h = self._health.setdefault(key, _Health())
        h.failures += 1
        if retry_after is not None and retry_after > 0:
            wait = min(retry_after, _MAX_COOLDOWN)
        else:
            wait = min(self._cooldown * 2 ** min(h.failures - 1, 8), _MAX_COOLDOWN)
        h.until = self._clock() + wait

    def succeeded(self, key: str) -> None:
        self._health.pop(key, None)

    def enter(self, key: str) -> None:
        self.inflight[key] = self.inflight.get(key, 0) + 1

    def leave(self, key: str) -> None:
        n = self.inflight.get(key, 0) - 1
        if n <= 0:
            self.inflight.pop(key, None)
        else:
            self.inflight[key] = n


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


def plan(
    model: ModelRoute,
    board: HealthBoard,
    *,
    rng: random.Random | None = None,
) -> Iterator[tuple[DeploymentRoute, CredentialRoute]]:
    """Yield (deployment, credential) pairs in the order they should be tried."""
    rng = rng or _RNG
    if len(model.deployments) == 1:
        # the common case: nothing to order between deployments
        only = model.deployments[0]
        creds = only.credentials
        yield from (
            ((only, c) for c in creds)
            if len(creds) == 1
            else ((only, c) for c in _credential_order(creds, board, rng))
        )
        return
    priorities = sorted({d.priority for d in model.deployments})
    groups = [[d for d in model.deployments if d.priority == p] for p in priorities]
    ordered: list[DeploymentRoute] = []
    for group in groups:
        ordered.extend(_weighted_order(group, board, rng))
    # a healthy lower-priority group beats a cooling higher-priority one
    ordered.sort(key=lambda d: resting(d, board))
    for deployment in ordered:
        for credential in _credential_order(deployment.credentials, board, rng):
            yield deployment, credential
