"""The shell's writes to a tenant's catalogue: providers with their first key, models.

Each runs in `commands.shell_work` (audited with the shell as actor; the
tenant's routes announced after the commit, as the admin API does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from junction_control.audit.service import record_by
from junction_control.commands import shell_work
from junction_control.errors import InvalidInput
from junction_control.models import service as models
from junction_control.providers import service as providers
from junction_control.route_changes import note_tenant_changed
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants


@dataclass(frozen=True, slots=True)
class DeploymentArg:
    """``PROVIDER:UPSTREAM_MODEL[:PRIORITY[:WEIGHT]]`` from the command line."""

    provider: str
    upstream_model: str
    priority: int = 0
    weight: int = 1

    @classmethod
    def parse(cls, text: str) -> DeploymentArg:
        """Parse the argument; trailing whole numbers are priority and weight.

        Upstream names may contain ":" (``ollama:llama3:8b``); a name ending in
        a number after ":" then needs explicit priority and weight.
        """
        provider, sep, rest = text.partition(":")
        parts = rest.split(":")
        numbers: list[int] = []
        while len(parts) > 1 and len(numbers) < 2 and _is_int(parts[-1]):
            numbers.insert(0, int(parts.pop()))
        upstream = ":".join(parts)
        if not sep or not provider or not upstream:
            raise InvalidInput(
                f"--deployment {text!r} must be PROVIDER:UPSTREAM_MODEL[:PRIORITY[:WEIGHT]]"
            )
        priority = numbers[0] if numbers else 0
        weight = numbers[1] if len(numbers) > 1 else 1
        return cls(provider, upstream, priority, weight)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


async def create_provider(
    settings: ControlSettings,
    *,
    tenant: str,
    name: str,
    type: str,
    base_url: str,
    key: str | None,
    key_name: str,
    headers: Mapping[str, str],
    out: TextIO,
) -> None:
    """Add a provider and, when given, its first key."""
    async with shell_work(settings) as work:
        session, actor = work.session, work.actor
        owner = await tenants.get_tenant(session, tenant)
        provider = await providers.create_provider(
            session,
            owner,
            name,
            type=type,
            base_url=base_url,
            egress=settings.egress,
            extra_headers=headers,
            keyring=settings.keyring,
        )
        await record_by(
            session,
            actor,
            tenant_id=owner.id,
            action="provider.create",
            object_type="provider",
            object_id=provider.id,
            name=name,
            type=type,
            header_names=sorted(headers),  # names only: values may be secrets
        )
        credential = None
        if key is not None:
            credential = await providers.add_credential(
                session, settings.keyring, provider, key_name, key
            )
            await record_by(
                session,
                actor,
                tenant_id=owner.id,
                action="credential.create",
                object_type="credential",
                object_id=credential.id,
                name=key_name,
                last4=credential.key_last4,
            )
        note_tenant_changed(session, owner.id)
    line = f"provider {tenant}/{provider.name} created (id {provider.id})"
    if credential is not None:
        line += f" with key {credential.name} ending in {credential.key_last4 or '****'}"
    print(line, file=out)


async def create_model(
    settings: ControlSettings,
    *,
    tenant: str,
    name: str,
    deployments: Sequence[DeploymentArg],
    pricing: models.ModelPricing,
    out: TextIO,
) -> None:
    """Add a model with its deployments."""
    async with shell_work(settings) as work:
        session, actor = work.session, work.actor
        owner = await tenants.get_tenant(session, tenant)
        model = await models.create_model(session, owner, name, pricing)
        await record_by(
            session,
            actor,
            tenant_id=owner.id,
            action="model.create",
            object_type="model",
            object_id=model.id,
            name=name,
        )
        for d in deployments:
            provider = await providers.get_provider(session, owner, d.provider)
            deployment = await models.add_deployment(
                session, model, provider, d.upstream_model, priority=d.priority, weight=d.weight
            )
            await record_by(
                session,
                actor,
                tenant_id=owner.id,
                action="deployment.create",
                object_type="deployment",
                object_id=deployment.id,
                provider=d.provider,
                upstream_model=d.upstream_model,
            )
        note_tenant_changed(session, owner.id)
    print(f"model {tenant}/{model.name} created with {len(deployments)} deployment(s)", file=out)
    if not pricing.priced:
        print(f"warning: {models.UNPRICED.format(name=f'{tenant}/{model.name}')}", file=out)
