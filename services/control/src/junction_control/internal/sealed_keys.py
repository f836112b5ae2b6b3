"""Provider keys and headers sealed for the engine, kept per stored envelope: each opened once.

A route carries every active key of its providers, so a burst of route
resolves (engines starting, keys revoked) would decrypt and re-seal the same
few keys thousands of times. The cache key is the credential id together with
its whole stored envelope (ciphertext, nonces, wrapped data key, master key
version): a new key, a rotation or a re-wrap is a new entry, never a stale one.
Only sealed values are kept, never a plain key; they are safe wherever a route
may go. A key that does not open is not cached, so each resolve reports it.
A provider's extra headers are sealed the same way, as one value.
"""

from __future__ import annotations

from collections.abc import Mapping

from junction_contracts.provider_headers import seal_headers
from junction_contracts.sealing import seal
from junction_control.crypto import EncryptedSecret, Keyring, decrypt_secret
from junction_control.providers.headers import envelope_id, open_envelope

DEFAULT_CAPACITY = 4096


class SealedKeys:
    """Seals provider keys for routes, remembering the last `capacity` of them."""

    def __init__(
        self, keyring: Keyring, sealing_key: bytes, *, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        self._keyring = keyring
        self._sealing_key = sealing_key
        self._capacity = capacity
        self._sealed: dict[tuple[str, EncryptedSecret], str] = {}

    def sealed(self, credential_id: str, secret: EncryptedSecret) -> str:
        """The key in `secret`, sealed for the engine; CryptoError if it does not open."""
        entry = (credential_id, secret)
        found = self._sealed.get(entry)
        if found is None:
            plain = decrypt_secret(self._keyring, secret, record_id=credential_id)
            found = seal(self._sealing_key, plain, context=credential_id)
            self._remember(entry, found)
        return found

    def headers(
        self, provider_id: str, secret: EncryptedSecret | None, plain: Mapping[str, str]
    ) -> str:
        """A provider's extra headers sealed for the engine ("" when it has none).

        `secret` is the stored envelope of their values; a row from before it
        existed (`plain` still holding values) is sealed from `plain`, uncached.
        CryptoError if the envelope does not open.
        """
        if secret is None:
            legacy = any(plain.values())
            return seal_headers(self._sealing_key, provider_id, plain) if legacy else ""
        entry = (envelope_id(provider_id), secret)
        found = self._sealed.get(entry)
        if found is None:
            opened = open_envelope(self._keyring, provider_id, secret)
            found = seal_headers(self._sealing_key, provider_id, opened)
            self._remember(entry, found)
        return found

    def _remember(self, entry: tuple[str, EncryptedSecret], sealed: str) -> None:
        if len(self._sealed) >= self._capacity:
            # oldest first: dicts keep insertion order
            del self._sealed[next(iter(self._sealed))]
        self._sealed[entry] = sealed

    def __len__(self) -> int:
        return len(self._sealed)
