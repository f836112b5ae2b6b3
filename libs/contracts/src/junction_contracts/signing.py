"""Signing of engine -> control internal calls.

Each call carries a timestamp, a random nonce and an HMAC-SHA256 over
method, path, timestamp, nonce and the SHA-256 of the body. The verifier
refuses calls outside a time window and any nonce it has already seen inside
that window, so a captured call cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from junction_contracts.errors import SignatureError

HEADER_TIMESTAMP = "x-junction-timestamp"
HEADER_NONCE = "x-junction-nonce"
HEADER_SIGNATURE = "x-junction-signature"
SCHEME = "v1"
DEFAULT_WINDOW_SECONDS = 30.0
_MIN_SECRET_BYTES = 32


def _message(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((SCHEME, method.upper(), path, timestamp, nonce, digest)).encode()


def _check_secret(secret: bytes) -> None:
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"signing secret must be at least {_MIN_SECRET_BYTES} bytes")


def sign(
    secret: bytes,
    method: str,
    path: str,
    body: bytes,
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers that authenticate one internal call."""
    _check_secret(secret)
    ts = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    mac = hmac.new(secret, _message(method, path, ts, nonce, body), hashlib.sha256).hexdigest()
    return {HEADER_TIMESTAMP: ts, HEADER_NONCE: nonce, HEADER_SIGNATURE: f"{SCHEME}={mac}"}


class SignatureVerifier:
    """Checks signatures, the time window and nonce reuse (in memory)."""

    def __init__(
        self,
        secret: bytes,
        *,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        max_nonces: int = 100_000,
    ) -> None:
        _check_secret(secret)
        self._secret = secret
        self._window = window_seconds
        self._clock = clock
        self._max_nonces = max_nonces
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> str:
        """Raise SignatureError unless the call is signed, fresh and new; its nonce.

        "New" is as far as this verifier saw: processes that share a replay
        cache check the nonce there too (it stays unique for `window_seconds`
        either side of the call's timestamp).
        """
        ts = headers.get(HEADER_TIMESTAMP)
        nonce = headers.get(HEADER_NONCE)
        sig = headers.get(HEADER_SIGNATURE)
        if not ts or not nonce or not sig:
            raise SignatureError("unsigned request")
        try:
            ts_value = int(ts)
        except ValueError:
            raise SignatureError("malformed timestamp") from None
        now = self._clock()
        if abs(now - ts_value) > self._window:
            raise SignatureError("stale request")
        scheme, _, mac = sig.partition("=")
        if scheme != SCHEME:
            raise SignatureError("unknown signature scheme")
        expected = hmac.new(
            self._secret, _message(method, path, ts, nonce, body), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, mac):
            raise SignatureError("bad signature")
        self._forget_expired(now)
        if nonce in self._seen:
            raise SignatureError("replayed request")
        self._seen[nonce] = ts_value
        if len(self._seen) > self._max_nonces:
            self._seen.popitem(last=False)
        return nonce

    @property
    def window_seconds(self) -> float:
        """How far a call's timestamp may be from now."""
        return self._window

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            _nonce, ts = next(iter(self._seen.items()))
            if now - ts <= self._window:
                break
            self._seen.popitem(last=False)
