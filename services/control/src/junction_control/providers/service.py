"""Providers and their credentials; provider keys are stored only encrypted."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_contracts.egress import REFUSED, Egress, EgressRefused
from junction_contracts.route import PROVIDER_TYPES
from junction_control.crypto import Keyring, decrypt_secret, encrypt_secret, rewrap_secret
from junction_control.errors import Conflict, InvalidInput, NotFound
from junction_control.naming import check_slug
from junction_control.providers.models import CREDENTIAL_STATUSES, Credential, Provider
from junction_control.tenants.models import Tenant

_HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_MIN_KEY_CHARS_FOR_LAST4 = 8


def check_provider_type(value: str) -> str:
    """`value` if it is a provider type the engine speaks, else InvalidInput."""
    if value not in PROVIDER_TYPES:
        raise InvalidInput(f"provider type {value!r} is not one of {', '.join(PROVIDER_TYPES)}")
    return value


def check_url_shape(value: str) -> str:
    """`value` if it is an absolute http(s) URL, else InvalidInput (where it may point: below)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # the URL is not quoted: it may carry credentials (https://user:secret@host)
        raise InvalidInput("base_url must be an absolute http:// or https:// URL")
    return value.rstrip("/")


def check_base_url(value: str, egress: Egress) -> str:
    """`value` if it is an absolute http(s) URL the engine may call, else InvalidInput.

    Credentials in the URL and hosts written as a refused address (in any
    numeric form) are refused here, with the same message for every target.
    A host name is checked by the engine when it connects, against what it
    resolves to then: an answer read now could change before any call.
    """
    check_url_shape(value)
    try:
        egress.check_literal(egress.target(value).host)
    except EgressRefused:
        raise InvalidInput(
            f"base_url: {REFUSED} (public addresses only, unless JUNCTION_EGRESS_ALLOW lists "
            "it; and no credentials in the URL)"
        ) from None
    return value.rstrip("/")


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Extra upstream headers, refusing names or values that could split a request."""
    clean: dict[str, str] = {}
    for name, value in headers.items():
        if not _HEADER_NAME_RE.match(name):
            raise InvalidInput(f"header name {name!r} is not a valid HTTP header name")
        if "\r" in value or "\n" in value:
            raise InvalidInput(f"header {name!r} has a line break in its value")
        clean[name] = value
    return clean


def check_key(key: str) -> str:
    """A provider key must be non-empty text without whitespace."""
    if not key or any(c.isspace() for c in key):
        raise InvalidInput("a provider key must be non-empty and contain no whitespace")
    return key


def last4(key: str) -> str:
    """The last four characters shown to admins (none for very short keys)."""
    return key[-4:] if len(key) >= _MIN_KEY_CHARS_FOR_LAST4 else ""


async def find_provider(session: AsyncSession, tenant: Tenant, name: str) -> Provider | None:
    """The provider called `name` in `tenant`, if any."""
    result = await session.exec(
        select(Provider).where(Provider.tenant_id == tenant.id, Provider.name == name)
    )
    return result.first()


async def get_provider(session: AsyncSession, tenant: Tenant, name: str) -> Provider:
    """The provider called `name` in `tenant`; NotFound otherwise."""
    provider = await find_provider(session, tenant, name)
    if provider is None:
        raise NotFound(f"provider {name!r} does not exist in tenant {tenant.name!r}")
    return provider


async def create_provider(
    session: AsyncSession,
    tenant: Tenant,
    name: str,
    *,
    type: str,
    base_url: str,
    egress: Egress,
    extra_headers: Mapping[str, str] | None = None,
) -> Provider:
    """Add a provider (flushed, not committed); Conflict if the name is taken."""
    check_slug(name, what="provider")
    if await find_provider(session, tenant, name) is not None:
        raise Conflict(f"provider {name!r} already exists in tenant {tenant.name!r}")
    provider = Provider(
        tenant_id=tenant.id,
        name=name,
        type=check_provider_type(type),
        base_url=check_base_url(base_url, egress),
        extra_headers=check_headers(extra_headers or {}),
    )
    session.add(provider)
    await session.flush()
    return provider


async def find_credential(
    session: AsyncSession, provider: Provider, name: str
) -> Credential | None:
    """The credential called `name` of `provider`, if any."""
    result = await session.exec(
        select(Credential).where(Credential.provider_id == provider.id, Credential.name == name)
    )
    return result.first()


async def add_credential(
    session: AsyncSession,
    keyring: Keyring,
    provider: Provider,
    name: str,
    key: str,
    *,
    weight: int = 1,
    status: str = "active",
) -> Credential:
    """Encrypt `key` and store it as a credential of `provider` (flushed, not committed)."""
    check_slug(name, what="key")
    check_key(key)
    check_weight(weight)
    check_status(status)
    if await find_credential(session, provider, name) is not None:
        raise Conflict(f"key {name!r} already exists for provider {provider.name!r}")
    credential = Credential(
        provider_id=provider.id,
        name=name,
        weight=weight,
        status=status,
        key_ciphertext="",
        key_nonce="",
        wrapped_data_key="",
        key_version="",
        key_last4="",
    )
    # the id exists before encryption so the ciphertext is bound to this row
    set_credential_key(keyring, credential, key)
    session.add(credential)
    await session.flush()
    return credential


def set_credential_key(keyring: Keyring, credential: Credential, key: str) -> None:
    """Encrypt `key` into `credential` under the keyring's primary master key."""
    check_key(key)
    secret = encrypt_secret(keyring, key, record_id=credential.id)
    credential.store_key(secret, last4=last4(key))


def credential_key(keyring: Keyring, credential: Credential) -> str:
    """The plain provider key of `credential` (for sealing only; never log it)."""
    return decrypt_secret(keyring, credential.encrypted_key, record_id=credential.id)


def credential_key_equals(keyring: Keyring, credential: Credential, key: str) -> bool:
    """Whether `credential` holds exactly `key` (compared in constant time)."""
    return hmac.compare_digest(credential_key(keyring, credential).encode(), key.encode())


async def rewrap_credentials(session: AsyncSession, keyring: Keyring) -> int:
    """Re-wrap every credential not yet under the primary master key; the count changed."""
    primary = keyring.primary.version
    result = await session.exec(select(Credential).where(col(Credential.key_version) != primary))
    changed = 0
    for credential in result.all():
        secret = rewrap_secret(keyring, credential.encrypted_key, record_id=credential.id)
        credential.store_key(secret, last4=credential.key_last4)
        session.add(credential)
        changed += 1
    await session.flush()
    return changed


def check_weight(weight: int) -> int:
    """Weights pick among equals; they must be positive."""
    if weight < 1:
        raise InvalidInput(f"weight must be at least 1, got {weight}")
    return weight


def check_status(status: str) -> str:
    """`status` if it is a credential status, else InvalidInput."""
    if status not in CREDENTIAL_STATUSES:
        raise InvalidInput(f"key status {status!r} is not one of {', '.join(CREDENTIAL_STATUSES)}")
    return status


def providers_query(tenant_id: str) -> SelectOfScalar[Provider]:
    """The tenant's providers."""
    return select(Provider).where(Provider.tenant_id == tenant_id)


async def get_provider_by_id(session: AsyncSession, tenant_id: str, provider_id: str) -> Provider:
    """The provider `provider_id` of the tenant; NotFound otherwise (also for another tenant's)."""
    result = await session.exec(providers_query(tenant_id).where(Provider.id == provider_id))
    provider = result.first()
    if provider is None:
        raise NotFound("provider not found")
    return provider


async def update_provider(
    session: AsyncSession,
    provider: Provider,
    *,
    name: str | None = None,
    type: str | None = None,
    base_url: str | None = None,
    egress: Egress | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> None:
    """Change the given fields of `provider` (flushed); Conflict if the new name is taken."""
    if name is not None and name != provider.name:
        check_slug(name, what="provider")
        taken = await session.exec(providers_query(provider.tenant_id).where(Provider.name == name))
        if taken.first() is not None:
            raise Conflict(f"provider {name!r} already exists")
        provider.name = name
    if type is not None:
        provider.type = check_provider_type(type)
    if base_url is not None:
        provider.base_url = check_base_url(base_url, egress or Egress())
    if extra_headers is not None:
        provider.extra_headers = check_headers(extra_headers)
    session.add(provider)
    await session.flush()


async def delete_row(session: AsyncSession, row: Provider | Credential) -> None:
    """Delete a provider (with its credentials and deployments) or one credential."""
    await session.delete(row)
    await session.flush()


def credentials_query(provider_id: str) -> SelectOfScalar[Credential]:
    """The provider's credentials."""
    return select(Credential).where(Credential.provider_id == provider_id)


async def get_credential_by_id(
    session: AsyncSession, provider: Provider, credential_id: str
) -> Credential:
    """The credential `credential_id` of `provider`; NotFound otherwise."""
    result = await session.exec(
        credentials_query(provider.id).where(Credential.id == credential_id)
    )
    credential = result.first()
    if credential is None:
        raise NotFound("credential not found")
    return credential


async def rename_credential(session: AsyncSession, credential: Credential, name: str) -> None:
    """Rename a credential; Conflict if its provider has one of that name."""
    check_slug(name, what="key")
    if name == credential.name:
        return
    taken = await session.exec(
        credentials_query(credential.provider_id).where(Credential.name == name)
    )
    if taken.first() is not None:
        raise Conflict(f"key {name!r} already exists for this provider")
    credential.name = name
