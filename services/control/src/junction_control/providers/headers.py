"""A provider's extra upstream headers: checked on every write, kept encrypted.

Header values may be secrets (a proxy's token, an organisation id), so they
are stored like provider keys: one envelope per provider (`crypto`), bound
to the provider's id, holding the name -> value object as JSON. The row
keeps the names alone (``extra_headers``, each with an empty value), for
reads, which show names with masked values and never a value.

Which names are refused, and why, is written once for both planes in
`junction_contracts.provider_headers`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.provider_headers import header_problem
from junction_control.crypto import (
    EncryptedSecret,
    Keyring,
    decrypt_secret,
    encrypt_secret,
    rewrap_secret,
)
from junction_control.db import Database
from junction_control.errors import CryptoError
from junction_control.providers.errors import ProviderRefusal
from junction_control.providers.models import Provider

log = logging.getLogger("junction_control.providers")

#: what a read shows in place of each header value
MASK = "********"


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Extra upstream headers, refusing names and values that must never be sent.

    A refusal is a ProviderRefusal (``header_not_allowed``, ``invalid_header``)
    whose message names the header but never quotes its value.
    """
    clean: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem is not None:
            raise ProviderRefusal(problem[0], problem[1], field="headers")
        if name.lower() in seen:
            raise ProviderRefusal(
                "invalid_header", f"header {name!r} is given twice", field="headers"
            )
        seen.add(name.lower())
        clean[name] = value
    return clean


def envelope_id(provider_id: str) -> str:
    """What a provider's header envelope is bound to: copied onto another, it does not open."""
    return f"provider-headers:{provider_id}"


def _record_id(provider: Provider) -> str:
    return envelope_id(provider.id)


def open_envelope(keyring: Keyring, provider_id: str, secret: EncryptedSecret) -> dict[str, str]:
    """The header values inside `secret`; CryptoError if it does not open."""
    try:
        opened = json.loads(decrypt_secret(keyring, secret, record_id=envelope_id(provider_id)))
    except ValueError:
        opened = None
    if not isinstance(opened, dict):
        raise CryptoError(f"the headers of provider {provider_id} are not an object")
    return {str(k): str(v) for k, v in opened.items()}


def set_headers(keyring: Keyring | None, provider: Provider, headers: Mapping[str, str]) -> None:
    """Check `headers` and keep them as `provider`'s extra headers, encrypted (not flushed).

    `keyring` may be None only when there are no headers to keep.
    """
    clean = check_headers(headers)
    if not clean:
        provider.store_headers([], None)
        return
    if keyring is None:
        raise ValueError("a keyring is needed to keep a provider's header values")
    text = json.dumps(clean, separators=(",", ":"), sort_keys=True)
    secret = encrypt_secret(keyring, text, record_id=_record_id(provider))
    provider.store_headers(sorted(clean), secret)


def opened_headers(keyring: Keyring, provider: Provider) -> dict[str, str]:
    """The plain extra headers of `provider` (for sealing and comparing; never log them).

    CryptoError if the envelope does not open. A row not yet sealed (written
    before revision 0012) answers its plain values.
    """
    secret = provider.encrypted_headers
    if secret is None:
        return dict(provider.extra_headers)
    return open_envelope(keyring, provider.id, secret)


def has_headers(provider: Provider) -> bool:
    """Whether `provider` sends extra headers (whose values may be secrets)."""
    return bool(provider.extra_headers)


def masked(provider: Provider) -> dict[str, str]:
    """Each header name with its value masked: what reads show."""
    return dict.fromkeys(sorted(provider.extra_headers), MASK)


def holds_plain_values(provider: Provider) -> bool:
    """A row from before revision 0012: names with their values, not yet encrypted."""
    return provider.encrypted_headers is None and any(provider.extra_headers.values())


async def seal_plain_headers(session: AsyncSession, keyring: Keyring) -> int:
    """Encrypt every provider's plain header values (rows from before 0012); the count sealed.

    The plain values go, the names stay. Run at start, after the migrations:
    a migration has no master key.
    """
    result = await session.exec(select(Provider).where(col(Provider.headers_ciphertext).is_(None)))
    sealed = 0
    for provider in result.all():
        if holds_plain_values(provider):
            set_headers(keyring, provider, dict(provider.extra_headers))
            session.add(provider)
            sealed += 1
    await session.flush()
    return sealed


async def seal_plain_headers_at_start(database: Database, keyring: Keyring) -> None:
    """`seal_plain_headers` in a transaction of its own, logged when it sealed any."""
    async with database.session() as session:
        sealed = await seal_plain_headers(session, keyring)
        await session.commit()
    if sealed:
        log.info("sealed the plain extra header values of %d provider(s)", sealed)


async def rewrap_headers(session: AsyncSession, keyring: Keyring) -> int:
    """Re-wrap every header envelope not under the primary master key; the count changed."""
    primary = keyring.primary.version
    query = select(Provider).where(
        col(Provider.headers_key_version).is_not(None),
        col(Provider.headers_key_version) != primary,
    )
    changed = 0
    for provider in (await session.exec(query)).all():
        secret = provider.encrypted_headers
        if secret is None:  # pragma: no cover - selected for having one
            continue
        wrapped: EncryptedSecret = rewrap_secret(keyring, secret, record_id=_record_id(provider))
        provider.store_headers(sorted(provider.extra_headers), wrapped)
        session.add(provider)
        changed += 1
    await session.flush()
    return changed
