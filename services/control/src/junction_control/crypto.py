"""Envelope encryption of provider keys under a versioned master keyring.

Each record gets its own random 32-byte data key. The data key encrypts the
provider key (AES-256-GCM); the master key wraps the data key (AES-256-GCM).
The record stores the ciphertext, both nonces and the version id of the master
key that wrapped it. Rotation only re-wraps the small data key, so the
keyring may hold old keys for decryption while everything moves to the newest
one, with no downtime. Both layers bind the record id as associated data, so
a ciphertext copied onto another row does not open.

Master key text form: ``v<N>:<base64 of 32 bytes>``; a keyring is several of
them separated by commas or newlines. The highest ``N`` is the primary key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from junction_control.errors import ConfigError, CryptoError

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION_RE = re.compile(r"^v(\d{1,9})$")
_DATA_AAD = b"junction provider key v1|"
_WRAP_AAD = b"junction data key v1|"


@dataclass(frozen=True, slots=True)
class MasterKey:
    """One master key and the version id stored with every record it wraps."""

    version: str
    key: bytes = field(repr=False)

    @property
    def number(self) -> int:
        """The numeric part of the version id (``v3`` -> 3), used to order keys."""
        match = _VERSION_RE.match(self.version)
        if match is None:  # pragma: no cover - guarded by the constructor helpers
            raise ConfigError(f"master key version {self.version!r} is not of the form vN")
        return int(match.group(1))

    def to_text(self) -> str:
        """The ``vN:base64`` form written to the key file."""
        return f"{self.version}:{base64.b64encode(self.key).decode()}"


@dataclass(frozen=True, slots=True)
class Keyring:
    """Master keys by version, oldest first; the one with the highest version encrypts."""

    keys: tuple[MasterKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("the master keyring is empty")
        versions = [k.version for k in self.keys]
        if len(set(versions)) != len(versions):
            raise ConfigError("the master keyring holds the same version id twice")
        # kept oldest first, so equal keyrings compare equal whatever the input order
        object.__setattr__(self, "keys", tuple(sorted(self.keys, key=lambda k: k.number)))

    @property
    def primary(self) -> MasterKey:
        """The key new records (and rotated records) are wrapped with."""
        return self.keys[-1]

    @property
    def versions(self) -> tuple[str, ...]:
        """Version ids, oldest first."""
        return tuple(k.version for k in self.keys)

    def get(self, version: str) -> MasterKey:
        """The key with that version id; CryptoError if the keyring lacks it."""
        for k in self.keys:
            if k.version == version:
                return k
        raise CryptoError(f"master key {version!r} is not in the keyring")

    def with_key(self, key: MasterKey) -> Keyring:
        """A keyring that also holds `key`."""
        return Keyring((*self.keys, key))

    def to_text(self) -> str:
        """One ``vN:base64`` line per key, oldest first."""
        return "".join(k.to_text() + "\n" for k in self.keys)


@dataclass(frozen=True, slots=True)
class EncryptedSecret:
    """What a record stores for one encrypted secret (all text columns)."""

    ciphertext: str  # base64: AES-GCM(data key) of the secret, tag included
    nonce: str  # base64: nonce of the data-key encryption
    wrapped_data_key: str  # base64: nonce || AES-GCM(master key) of the data key
    key_version: str  # version id of the master key that wrapped the data key


def generate_master_key(version: str = "v1") -> MasterKey:
    """A fresh random master key."""
    _check_version(version)
    return MasterKey(version=version, key=AESGCM.generate_key(bit_length=256))


def next_master_key(keyring: Keyring) -> MasterKey:
    """A fresh key whose version follows the keyring's newest one."""
    return generate_master_key(f"v{keyring.primary.number + 1}")


def parse_keyring(text: str, *, source: str) -> Keyring:
    """Parse ``vN:base64`` entries (comma or newline separated).

    A single entry without a version id is accepted as ``v1``. `source` names
    where the text came from, for error messages (never the key itself).
    """
    entries = [e.strip() for e in re.split(r"[,\n]", text) if e.strip()]
    if not entries:
        raise ConfigError(f"{source} holds no master key")
    keys = []
    for entry in entries:
        version, sep, encoded = entry.partition(":")
        if not sep:
            if len(entries) > 1:
                raise ConfigError(f"{source}: each master key needs a version id (vN:base64)")
            version, encoded = "v1", entry
        _check_version(version, source=source)
        keys.append(MasterKey(version=version, key=_decode_key(encoded, source=source)))
    return Keyring(tuple(keys))


def encrypt_secret(keyring: Keyring, plaintext: str, *, record_id: str) -> EncryptedSecret:
    """Encrypt `plaintext` for the record `record_id` under the primary master key."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), _DATA_AAD + record_id.encode())
    master = keyring.primary
    return EncryptedSecret(
        ciphertext=_b64(ciphertext),
        nonce=_b64(nonce),
        wrapped_data_key=_wrap(master, data_key, record_id),
        key_version=master.version,
    )


def decrypt_secret(keyring: Keyring, secret: EncryptedSecret, *, record_id: str) -> str:
    """Open a stored secret; CryptoError if it was tampered with or the key is gone."""
    data_key = _unwrap(keyring.get(secret.key_version), secret.wrapped_data_key, record_id)
    try:
        plaintext = AESGCM(data_key).decrypt(
            _unb64(secret.nonce), _unb64(secret.ciphertext), _DATA_AAD + record_id.encode()
        )
    except InvalidTag as exc:
        raise CryptoError(f"encrypted secret of record {record_id} does not open") from exc
    return plaintext.decode()


def rewrap_secret(keyring: Keyring, secret: EncryptedSecret, *, record_id: str) -> EncryptedSecret:
    """The same secret with its data key wrapped by the primary master key.

    The secret's own ciphertext is unchanged: only the data key is re-wrapped.
    """
    master = keyring.primary
    if secret.key_version == master.version:
        return secret
    data_key = _unwrap(keyring.get(secret.key_version), secret.wrapped_data_key, record_id)
    return EncryptedSecret(
        ciphertext=secret.ciphertext,
        nonce=secret.nonce,
        wrapped_data_key=_wrap(master, data_key, record_id),
        key_version=master.version,
    )


def _wrap(master: MasterKey, data_key: bytes, record_id: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    aad = _WRAP_AAD + f"{record_id}|{master.version}".encode()
    return _b64(nonce + AESGCM(master.key).encrypt(nonce, data_key, aad))


def _unwrap(master: MasterKey, wrapped: str, record_id: str) -> bytes:
    raw = _unb64(wrapped)
    aad = _WRAP_AAD + f"{record_id}|{master.version}".encode()
    try:
        return AESGCM(master.key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise CryptoError(
            f"data key of record {record_id} does not open with master key {master.version}"
        ) from exc


def _check_version(version: str, *, source: str = "master key") -> None:
    if _VERSION_RE.match(version) is None:
        raise ConfigError(f"{source}: version id {version!r} is not of the form vN (e.g. v1)")


def _decode_key(encoded: str, *, source: str) -> bytes:
    try:
        raw = base64.b64decode(
            _pad(encoded), altchars=b"-_" if _is_urlsafe(encoded) else None, validate=True
        )
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source}: master key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            f"{source}: master key must be {KEY_BYTES} bytes (base64), got {len(raw)} bytes"
        )
    return raw


def _is_urlsafe(encoded: str) -> bool:
    return "-" in encoded or "_" in encoded


def _pad(encoded: str) -> str:
    return encoded + "=" * (-len(encoded) % 4)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("stored ciphertext is not valid base64") from exc
