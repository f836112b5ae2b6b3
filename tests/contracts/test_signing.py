from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from junction_contracts.errors import SignatureError
from junction_contracts.signing import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SignatureVerifier,
    sign,
)

SECRET = b"s" * 32
PATH = "/internal/v1/route/resolve"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_signed_call_verifies_once_and_its_replay_is_refused() -> None:
    clock = Clock()
    verifier = SignatureVerifier(SECRET, clock=clock)
    headers = sign(SECRET, "POST", PATH, b"{}", now=clock.now)
    verifier.verify("POST", PATH, b"{}", headers)
    with pytest.raises(SignatureError, match="replayed"):
        verifier.verify("POST", PATH, b"{}", headers)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: {}, "unsigned"),
        (lambda h: {**h, HEADER_SIGNATURE: "v1=" + "0" * 64}, "bad signature"),
        (lambda h: {**h, HEADER_SIGNATURE: "v0=abc"}, "unknown signature scheme"),
        (lambda h: {**h, HEADER_TIMESTAMP: "soon"}, "malformed timestamp"),
        (lambda h: {**h, HEADER_NONCE: "another"}, "bad signature"),
    ],
)
def test_tampered_headers_are_refused(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    headers = sign(SECRET, "POST", PATH, b"{}", now=clock.now)
    with pytest.raises(SignatureError, match=reason):
        SignatureVerifier(SECRET, clock=clock).verify("POST", PATH, b"{}", change(headers))


def test_stale_and_future_calls_are_refused() -> None:
    clock = Clock()
    verifier = SignatureVerifier(SECRET, clock=clock, window_seconds=30)
    old = sign(SECRET, "POST", PATH, b"{}", now=clock.now - 31)
    future = sign(SECRET, "POST", PATH, b"{}", now=clock.now + 31)
    for headers in (old, future):
        with pytest.raises(SignatureError, match="stale"):
            verifier.verify("POST", PATH, b"{}", headers)


def test_the_signature_covers_method_path_body_and_secret() -> None:
    clock = Clock()
    headers = sign(SECRET, "POST", PATH, b'{"a":1}', now=clock.now)
    for method, path, body, secret in [
        ("GET", PATH, b'{"a":1}', SECRET),
        ("POST", "/internal/v1/other", b'{"a":1}', SECRET),
        ("POST", PATH, b'{"a":2}', SECRET),
        ("POST", PATH, b'{"a":1}', b"t" * 32),
    ]:
        with pytest.raises(SignatureError):
            SignatureVerifier(secret, clock=clock).verify(method, path, body, headers)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        sign(b"short", "POST", PATH, b"")


@given(st.binary(max_size=512), st.sampled_from(["GET", "POST", "PUT"]))
def test_any_body_round_trips(body: bytes, method: str) -> None:
    clock = Clock()
    SignatureVerifier(SECRET, clock=clock).verify(
        method, PATH, body, sign(SECRET, method, PATH, body, now=clock.now)
    )


def test_nonces_outside_the_window_are_forgotten() -> None:
    clock = Clock()
    verifier = SignatureVerifier(SECRET, clock=clock, window_seconds=30)
    for _ in range(100):
        verifier.verify("POST", PATH, b"", sign(SECRET, "POST", PATH, b"", now=clock.now))
    clock.now += 31
    verifier.verify("POST", PATH, b"", sign(SECRET, "POST", PATH, b"", now=clock.now))
    assert len(verifier._seen) == 1
