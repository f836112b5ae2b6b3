"""Provider and credential writes, with their side effects, for the admin API, CLI and ``apply -f``.

Each one makes the change (`service`), appends its audit row and notes the
tenant's routes as changed, in the caller's unit of work: whoever commits
the session commits them together and announces the routes after it.
Audit details are names, types, header names and ``last4``: never a key or
a header value.

``apply -f`` works out a provider's or a key's changes itself (it compares
decrypted values with the file); it then records them with
`provider_updated` / `credential_updated`, the same side effects the admin
API's updates have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.egress import Egress
from junction_control.audit.actor import Actor
from junction_control.audit.service import record_by
from junction_control.crypto import Keyring
from junction_control.providers import service
from junction_control.providers.models import Credential, Provider
from junction_control.route_changes import note_tenant_changed
from junction_control.tenants.models import Tenant


async def create_provider(
    session: AsyncSession,
    tenant: Tenant,
    name: str,
    actor: Actor,
    *,
    type: str,
    base_url: str,
    egress: Egress,
    extra_headers: Mapping[str, str] | None = None,
    keyring: Keyring | None = None,
) -> Provider:
    """Add a provider, audited and announced."""
    provider = await service.create_provider(
        session,
        tenant,
        name,
        type=type,
        base_url=base_url,
        egress=egress,
        extra_headers=extra_headers,
        keyring=keyring,
    )
    await _provider_audit(
        session,
        actor,
        provider,
        "create",
        name=name,
        type=provider.type,
        header_names=sorted(extra_headers or {}),  # names only: values may be secrets
    )
    return provider


async def update_provider(
    session: AsyncSession,
    provider: Provider,
    actor: Actor,
    *,
    fields: Sequence[str],
    name: str | None = None,
    type: str | None = None,
    base_url: str | None = None,
    egress: Egress | None = None,
    extra_headers: Mapping[str, str] | None = None,
    keyring: Keyring | None = None,
    keys: Mapping[str, str] | None = None,
) -> None:
    """Change the given fields of `provider` (`service.update_provider`), audited and announced."""
    await service.update_provider(
        session,
        provider,
        name=name,
        type=type,
        base_url=base_url,
        egress=egress,
        extra_headers=extra_headers,
        keyring=keyring,
        keys=keys,
    )
    await provider_updated(session, provider, actor, fields)


async def provider_updated(
    session: AsyncSession, provider: Provider, actor: Actor, fields: Sequence[str]
) -> None:
    """Audit and announce a change of `fields` of `provider` (flushed here)."""
    session.add(provider)
    await session.flush()
    await _provider_audit(session, actor, provider, "update", fields=sorted(fields))


async def delete_provider(session: AsyncSession, provider: Provider, actor: Actor) -> None:
    """Delete a provider with its credentials and deployments, audited and announced."""
    await _provider_audit(session, actor, provider, "delete", name=provider.name)
    await service.delete_row(session, provider)


async def add_credential(
    session: AsyncSession,
    keyring: Keyring,
    provider: Provider,
    name: str,
    key: str,
    actor: Actor,
    *,
    weight: int = 1,
    status: str = "active",
) -> Credential:
    """Store a new encrypted key of `provider`, audited (by ``last4``) and announced."""
    credential = await service.add_credential(
        session, keyring, provider, name, key, weight=weight, status=status
    )
    await _credential_audit(
        session, actor, provider, credential, "create", name=name, last4=credential.key_last4
    )
    return credential


async def update_credential(
    session: AsyncSession,
    provider: Provider,
    credential: Credential,
    actor: Actor,
    *,
    fields: Sequence[str],
    name: str | None = None,
    weight: int | None = None,
    status: str | None = None,
) -> None:
    """Rename a credential or change its weight or status, audited and announced."""
    if name is not None:
        await service.rename_credential(session, credential, name)
    if weight is not None:
        credential.weight = service.check_weight(weight)
    if status is not None:
        credential.status = service.check_status(status)
    await credential_updated(session, provider, credential, actor, fields)


async def credential_updated(
    session: AsyncSession,
    provider: Provider,
    credential: Credential,
    actor: Actor,
    fields: Sequence[str],
) -> None:
    """Audit and announce a change of `fields` of `credential` (flushed here)."""
    session.add(credential)
    await session.flush()
    await _credential_audit(session, actor, provider, credential, "update", fields=sorted(fields))


async def rotate_credential_key(
    session: AsyncSession,
    keyring: Keyring,
    provider: Provider,
    credential: Credential,
    key: str,
    actor: Actor,
) -> None:
    """Give a credential a new key, audited (by ``last4``) and announced."""
    service.set_credential_key(keyring, credential, key)
    session.add(credential)
    await session.flush()
    await _credential_audit(
        session, actor, provider, credential, "rotate", last4=credential.key_last4
    )


async def delete_credential(
    session: AsyncSession, provider: Provider, credential: Credential, actor: Actor
) -> None:
    """Delete a credential, audited and announced."""
    await _credential_audit(session, actor, provider, credential, "delete", name=credential.name)
    await service.delete_row(session, credential)


async def _provider_audit(
    session: AsyncSession, actor: Actor, provider: Provider, verb: str, **details: object
) -> None:
    await _audit(session, actor, provider, "provider", provider.id, verb, details)


async def _credential_audit(
    session: AsyncSession,
    actor: Actor,
    provider: Provider,
    credential: Credential,
    verb: str,
    **details: object,
) -> None:
    await _audit(session, actor, provider, "credential", credential.id, verb, details)


async def _audit(
    session: AsyncSession,
    actor: Actor,
    provider: Provider,
    object_type: str,
    object_id: str,
    verb: str,
    details: dict[str, object],
) -> None:
    # every provider or key write may move what the tenant's keys route to
    note_tenant_changed(session, provider.tenant_id)
    await record_by(
        session,
        actor,
        tenant_id=provider.tenant_id,
        action=f"{object_type}.{verb}",
        object_type=object_type,
        object_id=object_id,
        **details,
    )
