"""Provider secrets opened from their sealed form, once per sealed value.

Routes carry every provider key, and each provider's extra header values,
sealed (AES-GCM under a key derived from the internal secret); opening one
costs a base64 decode and a decryption. The plain values live in this
process's memory only, for as long as their sealed value is in use, which is
no longer than the engine needs them. A call pays a dictionary lookup.

Each credential's redactor (what removes every trace of its key from a
provider's error text) is built the first time an error needs it, and kept
beside the opened key: building one costs a few thousand set insertions.
"""

from __future__ import annotations

from collections.abc import Mapping

from cachetools import LRUCache

from junction_contracts import CredentialRoute, ProviderRoute
from junction_contracts.provider_headers import open_headers
from junction_contracts.sealing import unseal
from junction_protocols.redaction import SecretRedactor


class OpenedKeys:
    """Opens sealed keys and headers, remembering the result; raises SealError like `unseal`."""

    def __init__(self, sealing_key: bytes, *, maxsize: int = 10_000) -> None:
        self._sealing_key = sealing_key
        self._opened: LRUCache[tuple[str, str], str] = LRUCache(maxsize=maxsize)
        self._headers: LRUCache[tuple[str, str], Mapping[str, str]] = LRUCache(maxsize=maxsize)
        # a redactor holds a few thousand short strings and only errors need one
        self._redactors: LRUCache[tuple[str, str], SecretRedactor] = LRUCache(maxsize=256)

    def open(self, credential: CredentialRoute) -> str:
        """The plain key of `credential`."""
        slot = (credential.id, credential.sealed_key)
        key = self._opened.get(slot)
        if key is None:
            key = unseal(self._sealing_key, credential.sealed_key, context=credential.id)
            self._opened[slot] = key
        return key

    def headers(self, provider: ProviderRoute) -> Mapping[str, str]:
        """The extra headers of `provider`: its plain ones, then its sealed ones opened."""
        if not provider.sealed_headers:
            return provider.extra_headers
        slot = (provider.id, provider.sealed_headers)
        found = self._headers.get(slot)
        if found is None:
            opened = open_headers(self._sealing_key, provider.id, provider.sealed_headers)
            found = self._headers[slot] = {**provider.extra_headers, **opened}
        return found

    def redactor(self, credential: CredentialRoute) -> SecretRedactor:
        """What removes every trace of `credential`'s key from a text; SealError like `open`."""
        slot = (credential.id, credential.sealed_key)
        found = self._redactors.get(slot)
        if found is None:
            found = self._redactors[slot] = SecretRedactor(self.open(credential))
        return found
