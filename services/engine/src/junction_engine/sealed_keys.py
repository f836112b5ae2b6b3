"""Provider keys opened from their sealed form, once per sealed value.

Routes carry every provider key sealed (AES-GCM under a key derived from
the internal secret); opening one costs a base64 decode and a decryption
per call. The plain key lives in this process's memory only, for as long as
its sealed value is in use, which is no longer than the engine needs it.
"""

from __future__ import annotations

from cachetools import LRUCache

from junction_contracts import CredentialRoute
from junction_contracts.sealing import unseal


class OpenedKeys:
    """Opens sealed credentials, remembering the result; raises SealError like `unseal`."""

    def __init__(self, sealing_key: bytes, *, maxsize: int = 10_000) -> None:
        self._sealing_key = sealing_key
        self._opened: LRUCache[tuple[str, str], str] = LRUCache(maxsize=maxsize)

    def open(self, credential: CredentialRoute) -> str:
        """The plain key of `credential`."""
        slot = (credential.id, credential.sealed_key)
        key = self._opened.get(slot)
        if key is None:
            key = unseal(self._sealing_key, credential.sealed_key, context=credential.id)
            self._opened[slot] = key
        return key
