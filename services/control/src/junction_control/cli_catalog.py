"""The shell's writes to a tenant's catalogue: providers with their first key, models.

Each runs in `commands.shell_work` with the shell as actor, through the same
audited, announcing writes the admin API uses (`providers.writes`,
`models.writes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from junction_control.commands import shell_work
from junction_control.errors import InvalidInput
from junction_control.models import service as models
from junction_control.models import writes as model_writes
from junction_control.providers import service as providers
from junction_control.providers import writes as provider_writes
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
        provider = await provider_writes.create_provider(
            session,
            owner,
            name,
            actor,
            type=type,
            base_url=base_url,
            egress=settings.egress,
            extra_headers=headers,
            keyring=settings.keyring,
        )
        credential = None
        if key is not None:
            credential = await provider_writes.add_credential(
                session, settings.keyring, provider, key_name, key, actor
            )
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
        model = await model_writes.create_model(session, owner, name, pricing, actor)
        for d in deployments:
            provider = await providers.get_provider(session, owner, d.provider)
            await model_writes.add_deployment(
                session,
                model,
                provider,
                d.upstream_model,
                actor,
                priority=d.priority,
                weight=d.weight,
            )
    print(f"model {tenant}/{model.name} created with {len(deployments)} deployment(s)", file=out)
    if not pricing.priced:
        print(f"warning: {models.UNPRICED.format(name=f'{tenant}/{model.name}')}", file=out)
