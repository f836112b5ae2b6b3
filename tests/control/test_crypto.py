"""Envelope encryption of provider keys: round trip, tampering, rotation."""

from __future__ import annotations

import base64
import dataclasses
import os

import pytest

from junction_control.crypto import (
    EncryptedSecret,
    Keyring,
    decrypt_secret,
    encrypt_secret,
    generate_master_key,
    next_master_key,
    parse_keyring,
    rewrap_secret,
)
from junction_control.errors import ConfigError, CryptoError

KEY = "sk-live-abcdefghijklmnop"


def _flip_last_byte(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring((generate_master_key("v1"),))


def test_round_trip(keyring: Keyring) -> None:
    secret = encrypt_secret(keyring, KEY, record_id="cred-1")

    assert secret.key_version == "v1"
    assert KEY not in repr(secret)
    assert decrypt_secret(keyring, secret, record_id="cred-1") == KEY


def test_each_encryption_uses_a_fresh_data_key_and_nonce(keyring: Keyring) -> None:
    a = encrypt_secret(keyring, KEY, record_id="cred-1")
    b = encrypt_secret(keyring, KEY, record_id="cred-1")
    assert a.ciphertext != b.ciphertext
    assert a.wrapped_data_key != b.wrapped_data_key


@pytest.mark.parametrize("field", ["ciphertext", "wrapped_data_key"])
def test_tampering_is_detected(keyring: Keyring, field: str) -> None:
    secret = encrypt_secret(keyring, KEY, record_id="cred-1")
    tampered = dataclasses.replace(secret, **{field: _flip_last_byte(getattr(secret, field))})

    with pytest.raises(CryptoError):
        decrypt_secret(keyring, tampered, record_id="cred-1")


def test_ciphertext_is_bound_to_its_record(keyring: Keyring) -> None:
    secret = encrypt_secret(keyring, KEY, record_id="cred-1")
    with pytest.raises(CryptoError):
        decrypt_secret(keyring, secret, record_id="cred-2")


def test_a_different_master_key_does_not_open_it(keyring: Keyring) -> None:
    secret = encrypt_secret(keyring, KEY, record_id="cred-1")
    other = Keyring((generate_master_key("v1"),))
    with pytest.raises(CryptoError):
        decrypt_secret(other, secret, record_id="cred-1")


def test_rotation_rewraps_the_data_key_under_the_newest_master_key(keyring: Keyring) -> None:
    old = encrypt_secret(keyring, KEY, record_id="cred-1")
    rotated_ring = keyring.with_key(next_master_key(keyring))

    rotated = rewrap_secret(rotated_ring, old, record_id="cred-1")

    assert rotated_ring.primary.version == "v2"
    assert rotated.key_version == "v2"
    assert rotated.ciphertext == old.ciphertext  # only the data key moves
    assert decrypt_secret(rotated_ring, rotated, record_id="cred-1") == KEY
    # once rotated, the old master key can leave the keyring
    only_new = Keyring((rotated_ring.get("v2"),))
    assert decrypt_secret(only_new, rotated, record_id="cred-1") == KEY
    assert rewrap_secret(rotated_ring, rotated, record_id="cred-1") is rotated


def test_a_record_under_a_key_missing_from_the_keyring_fails_clearly(keyring: Keyring) -> None:
    secret = EncryptedSecret(
        **{**dataclasses.asdict(encrypt_secret(keyring, KEY, record_id="c")), "key_version": "v9"}
    )
    with pytest.raises(CryptoError, match="'v9' is not in the keyring"):
        decrypt_secret(keyring, secret, record_id="c")


def test_keyring_text_parses_several_keys_and_picks_the_highest_version() -> None:
    k1, k2 = generate_master_key("v1"), generate_master_key("v10")
    ring = parse_keyring(f"{k2.to_text()}, {k1.to_text()}", source="test")

    assert ring.primary.version == "v10"
    assert ring.versions == ("v1", "v10")
    assert parse_keyring(ring.to_text(), source="test") == ring


def test_keyring_refuses_duplicate_versions_and_bad_ids() -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(ConfigError, match="same version id twice"):
        parse_keyring(f"v1:{key}\nv1:{key}", source="test")
    with pytest.raises(ConfigError, match="not of the form vN"):
        parse_keyring(f"one:{key}", source="test")
