"""Providers and their credentials; provider keys are stored only encrypted."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_contracts.egress import REFUSED, Egress, EgressRefused
from junction_contracts.route import PROVIDER_TYPES
from junction_control.bounds import INT32_MAX, check_int
from junction_control.crypto import Keyring, decrypt_secret, encrypt_secret, rewrap_secret
from junction_control.errors import Conflict, InvalidInput, NotFound
from junction_control.naming import check_slug
from junction_control.providers.errors import ProviderRefusal
from junction_control.providers.headers import (
    check_headers,
    has_headers,
    rewrap_headers,
    seal_plain_headers,
    set_headers,
)
from junction_control.providers.models import CREDENTIAL_STATUSES, Credential, Provider
from junction_control.tenants.models import Tenant

_MIN_KEY_CHARS_FOR_LAST4 = 8
_AZURE_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")


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


def check_type_url(type: str, url: str) -> None:
    """InvalidInput when `url` does not fit the provider `type`.

    An ``azure-openai`` base URL is the resource (``https://{resource}.openai.azure.com``):
    the deployment comes from each route's upstream model, and the only query
    it may carry is the provider's ``api-version`` (``YYYY-MM-DD``, or with ``-preview``).
    """
    if type != "azure-openai":
        return
    parts = urlsplit(url)
    if "/deployments" in parts.path:
        raise InvalidInput(
            "base_url of an azure-openai provider is the resource URL "
            "(https://{resource}.openai.azure.com); the deployment is the model's upstream name"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    versions = query.pop("api-version", [])
    if query or len(versions) > 1 or any(not _AZURE_API_VERSION.fullmatch(v) for v in versions):
        raise InvalidInput(
            "base_url of an azure-openai provider may only carry ?api-version=YYYY-MM-DD "
            "(or YYYY-MM-DD-preview)"
        )


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
    keyring: Keyring | None = None,
) -> Provider:
    """Add a provider (flushed, not committed); Conflict if the name is taken.

    Extra header values are kept encrypted under `keyring` (needed when there are any).
    """
    check_slug(name, what="provider")
    headers = check_headers(extra_headers or {})
    if await find_provider(session, tenant, name) is not None:
        raise Conflict(f"provider {name!r} already exists in tenant {tenant.name!r}")
    provider = Provider(
        tenant_id=tenant.id,
        name=name,
        type=check_provider_type(type),
        base_url=check_base_url(base_url, egress),
    )
    check_type_url(provider.type, provider.base_url)
    if headers:
        set_headers(keyring, provider, headers)
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


def _needed(keyring: Keyring | None) -> Keyring:
    if keyring is None:
        raise ValueError("a keyring is needed to store a provider key")
    return keyring


async def rewrap_credentials(session: AsyncSession, keyring: Keyring) -> int:
    """Re-wrap every credential not yet under the primary master key; the count changed.

    Provider header envelopes are re-wrapped too (and plain ones from before
    revision 0012 sealed); they are not counted.
    """
    await seal_plain_headers(session, keyring)
    await rewrap_headers(session, keyring)
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
    """Weights pick among equals; they must be positive (and fit an INTEGER column)."""
    return check_int(weight, "weight", 1)


def check_priority(priority: int) -> int:
    """Priorities order deployments; any INTEGER, negative ones first."""
    return check_int(priority, "priority", -INT32_MAX)


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
    keyring: Keyring | None = None,
    keys: Mapping[str, str] | None = None,
) -> None:
    """Change the given fields of `provider` (flushed); Conflict if the new name is taken.

    `keys` (credential name -> key) enters keys again; a new base URL needs
    every key of the provider, and its headers when it has any (`check_rekeyed`).
    """
    headers = None if extra_headers is None else check_headers(extra_headers)
    url = None if base_url is None else check_base_url(base_url, egress or Egress())
    check_type_url(
        provider.type if type is None else check_provider_type(type),
        provider.base_url if url is None else url,
    )
    moving = url is not None and url != provider.base_url
    credentials = await _entered_again(session, provider, keys or {})
    if moving:
        await check_rekeyed(session, provider, set(keys or {}), headers_given=headers is not None)
    if name is not None and name != provider.name:
        check_slug(name, what="provider")
        taken = await session.exec(providers_query(provider.tenant_id).where(Provider.name == name))
        if taken.first() is not None:
            raise Conflict(f"provider {name!r} already exists")
        provider.name = name
    if type is not None:
        provider.type = check_provider_type(type)
    if url is not None:
        provider.base_url = url
    if headers is not None:
        set_headers(keyring, provider, headers)
    for credential, key in credentials:
        set_credential_key(_needed(keyring), credential, key)
        session.add(credential)
    session.add(provider)
    await session.flush()


async def check_rekeyed(
    session: AsyncSession, provider: Provider, entered: set[str], *, headers_given: bool
) -> None:
    """Refuse a new base URL unless every secret that would follow it is entered again.

    Whoever may edit a provider must not be able to point its stored keys
    (or header values) at a host of their choosing: moving the base URL
    takes every key of the provider again (`key_required`), and its extra
    headers when it has any (`headers_required`).
    """
    names = [c.name for c in (await session.exec(credentials_query(provider.id))).all()]
    missing = sorted(set(names) - entered)
    if missing:
        raise ProviderRefusal(
            "key_required",
            f"a new base_url needs every key of provider {provider.name!r} entered again "
            f"(missing: {', '.join(missing)})",
            field="keys",
        )
    if has_headers(provider) and not headers_given:
        raise ProviderRefusal(
            "headers_required",
            f"a new base_url needs the extra headers of provider {provider.name!r} entered again",
            field="headers",
        )


async def _entered_again(
    session: AsyncSession, provider: Provider, keys: Mapping[str, str]
) -> list[tuple[Credential, str]]:
    """The credentials named in `keys`, with their keys checked; InvalidInput if one is unknown."""
    found: list[tuple[Credential, str]] = []
    for name, key in keys.items():
        credential = await find_credential(session, provider, name)
        if credential is None:
            raise InvalidInput(f"provider {provider.name!r} has no key named {name!r}")
        found.append((credential, check_key(key)))
    return found


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
