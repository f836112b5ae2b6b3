"""Sealing of provider keys on their way from control to engine.

The control plane decrypts a provider key from the database and re-seals it
with AES-256-GCM under a key derived (HKDF-SHA256) from the shared internal
secret. The engine opens it only when it builds the upstream request, so a
route cached in memory, Redis or printed in a log never holds a plain key.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from junction_contracts.errors import SealError

_PREFIX = "sealed.v1."
_INFO = b"junction route sealing v1"


def derive_sealing_key(shared_secret: bytes) -> bytes:
    """The 32-byte AES key both planes derive from the internal secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(shared_secret)


def seal(sealing_key: bytes, plaintext: str, *, context: str = "") -> str:
    """Encrypt `plaintext`; `context` (e.g. the credential id) is bound as AAD."""
    nonce = os.urandom(12)
    ct = AESGCM(sealing_key).encrypt(nonce, plaintext.encode(), context.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + ct).decode()


def unseal(sealing_key: bytes, sealed: str, *, context: str = "") -> str:
    """Open a sealed value; raise SealError if it was tampered with or the key differs."""
    if not sealed.startswith(_PREFIX):
        raise SealError("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(_PREFIX) :])
        return AESGCM(sealing_key).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise SealError("sealed value cannot be opened") from exc
