"""Provider and credential endpoints. Keys go in, never out: responses show ``last4``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import col

from junction_control.admin.access import requires
from junction_control.admin.errors import ApiError
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.providers import service, writes
from junction_control.providers.errors import ProviderRefusal
from junction_control.providers.models import Credential, Provider
from junction_control.providers.schemas import (
    CredentialIn,
    CredentialKeyIn,
    CredentialOut,
    CredentialPage,
    CredentialPatch,
    ProviderIn,
    ProviderOut,
    ProviderPage,
    ProviderPatch,
)

router = Router("providers")
PROVIDER = "/tenants/{tenant_id}/providers/{provider_id}"
CREDENTIAL = PROVIDER + "/credentials/{credential_id}"


async def _provider(call: Call) -> Provider:
    return await service.get_provider_by_id(
        call.session, call.access.tenant_id, call.path("provider_id")
    )


async def _credential(call: Call) -> tuple[Provider, Credential]:
    provider = await _provider(call)
    credential = await service.get_credential_by_id(
        call.session, provider, call.path("credential_id")
    )
    return provider, credential


@contextmanager
def _refusals() -> Iterator[None]:
    """A refused header or a base URL moved without its keys: 422 with its own code."""
    try:
        yield
    except ProviderRefusal as exc:
        raise ApiError(422, exc.code, str(exc), field=exc.field) from None


@router.add(
    "GET",
    "/tenants/{tenant_id}/providers",
    summary="The tenant's providers",
    permission=requires("providers", "read"),
    query=PageQuery,
    response=ProviderPage,
)
async def list_providers(call: Call) -> ProviderPage:
    rows, next_cursor = await keyset_page(
        call.session,
        service.providers_query(call.access.tenant_id),
        at=col(Provider.created_at),
        row_id=col(Provider.id),
        key=lambda p: (p.created_at, p.id),
        page=call.query(PageQuery),
    )
    return ProviderPage(items=[ProviderOut.of(p) for p in rows], next_cursor=next_cursor)


@router.add(
    "POST",
    "/tenants/{tenant_id}/providers",
    summary="Add a provider",
    permission=requires("providers", "write"),
    body=ProviderIn,
    response=ProviderOut,
    status=201,
)
async def create_provider(call: Call) -> ProviderOut:
    data = call.body(ProviderIn)
    with _refusals():
        provider = await writes.create_provider(
            call.session,
            call.access.current_tenant,
            data.name,
            call.actor,
            type=data.type,
            base_url=data.base_url,
            egress=call.context.settings.egress,
            extra_headers=data.headers,
            keyring=call.context.settings.keyring,
        )
    return ProviderOut.of(provider)


@router.add(
    "GET",
    PROVIDER,
    summary="One provider",
    permission=requires("providers", "read"),
    response=ProviderOut,
)
async def get_provider(call: Call) -> ProviderOut:
    return ProviderOut.of(await _provider(call))


@router.add(
    "PATCH",
    PROVIDER,
    summary="Change a provider (headers are replaced as a whole; a new base URL needs its keys)",
    permission=requires("providers", "write"),
    body=ProviderPatch,
    response=ProviderOut,
)
async def update_provider(call: Call) -> ProviderOut:
    data = call.body(ProviderPatch)
    provider = await _provider(call)
    with _refusals():
        await writes.update_provider(
            call.session,
            provider,
            call.actor,
            fields=sorted(data.model_fields_set),
            name=data.name,
            type=data.type,
            base_url=data.base_url,
            egress=call.context.settings.egress,
            extra_headers=data.headers,
            keyring=call.context.settings.keyring,
            keys=data.keys,
        )
    return ProviderOut.of(provider)


@router.add(
    "DELETE",
    PROVIDER,
    summary="Delete a provider with its credentials and deployments",
    permission=requires("providers", "write"),
)
async def delete_provider(call: Call) -> None:
    await writes.delete_provider(call.session, await _provider(call), call.actor)


@router.add(
    "GET",
    PROVIDER + "/credentials",
    summary="The provider's credentials (keys are never shown)",
    permission=requires("credentials", "read"),
    query=PageQuery,
    response=CredentialPage,
)
async def list_credentials(call: Call) -> CredentialPage:
    provider = await _provider(call)
    rows, next_cursor = await keyset_page(
        call.session,
        service.credentials_query(provider.id),
        at=col(Credential.created_at),
        row_id=col(Credential.id),
        key=lambda c: (c.created_at, c.id),
        page=call.query(PageQuery),
    )
    return CredentialPage(items=[CredentialOut.of(c) for c in rows], next_cursor=next_cursor)


@router.add(
    "POST",
    PROVIDER + "/credentials",
    summary="Add a credential (its key is stored encrypted)",
    permission=requires("credentials", "write"),
    body=CredentialIn,
    response=CredentialOut,
    status=201,
)
async def create_credential(call: Call) -> CredentialOut:
    data = call.body(CredentialIn)
    credential = await writes.add_credential(
        call.session,
        call.context.settings.keyring,
        await _provider(call),
        data.name,
        data.key,
        call.actor,
        weight=data.weight,
        status=data.status,
    )
    return CredentialOut.of(credential)


@router.add(
    "GET",
    CREDENTIAL,
    summary="One credential",
    permission=requires("credentials", "read"),
    response=CredentialOut,
)
async def get_credential(call: Call) -> CredentialOut:
    _provider_row, credential = await _credential(call)
    return CredentialOut.of(credential)


@router.add(
    "PATCH",
    CREDENTIAL,
    summary="Rename a credential or change its weight or status",
    permission=requires("credentials", "write"),
    body=CredentialPatch,
    response=CredentialOut,
)
async def update_credential(call: Call) -> CredentialOut:
    data = call.body(CredentialPatch)
    provider, credential = await _credential(call)
    await writes.update_credential(
        call.session,
        provider,
        credential,
        call.actor,
        fields=sorted(data.model_fields_set),
        name=data.name,
        weight=data.weight,
        status=data.status,
    )
    return CredentialOut.of(credential)


@router.add(
    "PUT",
    CREDENTIAL + "/key",
    summary="Rotate a credential's key",
    permission=requires("credentials", "write"),
    body=CredentialKeyIn,
    response=CredentialOut,
)
async def rotate_credential_key(call: Call) -> CredentialOut:
    provider, credential = await _credential(call)
    await writes.rotate_credential_key(
        call.session,
        call.context.settings.keyring,
        provider,
        credential,
        call.body(CredentialKeyIn).key,
        call.actor,
    )
    return CredentialOut.of(credential)


@router.add(
    "DELETE",
    CREDENTIAL,
    summary="Delete a credential",
    permission=requires("credentials", "write"),
)
async def delete_credential(call: Call) -> None:
    provider, credential = await _credential(call)
    await writes.delete_credential(call.session, provider, credential, call.actor)
