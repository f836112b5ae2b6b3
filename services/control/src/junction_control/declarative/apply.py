"""Make the database match a declarative spec: create or update by natural name.

Nothing is ever deleted or duplicated: a row named in the file is created if
missing and updated if it differs; rows the file does not name are left
alone. Applying the same file twice changes nothing the second time, and the
report says so. The whole file is applied in one transaction, and every row
it creates or changes goes through the same audited, announcing write the
admin API and the CLI use (`tokens.writes`, `providers.writes`,
`models.writes`, `users.members`), with ``apply`` as the actor.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.egress import Egress
from junction_control.audit.actor import Actor
from junction_control.crypto import Keyring
from junction_control.declarative import apply_people
from junction_control.declarative.report import ApplyReport, Run, unique
from junction_control.declarative.spec import KeySpec, ModelSpec, ProviderSpec, Spec, TenantSpec
from junction_control.errors import InvalidInput
from junction_control.models import service as models
from junction_control.models import writes as model_writes
from junction_control.providers import headers as provider_headers
from junction_control.providers import service as providers
from junction_control.providers import writes as provider_writes
from junction_control.providers.models import Provider
from junction_control.tenants import service as tenants
from junction_control.tenants.models import Tenant
from junction_control.users import service as users

APPLY = Actor(via="apply")


async def apply_spec(
    session: AsyncSession,
    keyring: Keyring,
    spec: Spec,
    *,
    egress: Egress | None = None,
    actor: Actor = APPLY,
) -> ApplyReport:
    """Apply `spec` through `session` (flushed; the caller commits).

    Provider URLs are checked against `egress` (the settings' allow-list;
    None: public addresses only). Audit rows name `actor`.
    """
    names = [t.name for t in spec.tenants]
    if len(set(names)) != len(names):
        raise InvalidInput("the file names a tenant twice")
    run = Run(session, keyring, egress or Egress(), actor)
    for tenant_spec in spec.tenants:
        await _apply_tenant(run, tenant_spec)
    return run.report


async def _apply_tenant(run: Run, spec: TenantSpec) -> None:
    tenant = await tenants.find_tenant(run.session, spec.name)
    if tenant is None:
        # its owner, when the file names one, joins with the users below
        tenant = await tenants.open_tenant(run.session, spec.name, None, run.actor)
        run.report.record("tenant", spec.name, "created")
    else:
        run.report.record("tenant", spec.name, "unchanged")
    unique([p.name for p in spec.providers], f"tenant {spec.name}: provider")
    unique([m.name for m in spec.models], f"tenant {spec.name}: model")
    unique([t.name for t in spec.tokens], f"tenant {spec.name}: token")
    for provider_spec in spec.providers:
        await _apply_provider(run, tenant, provider_spec)
    for model_spec in spec.models:
        await _apply_model(run, tenant, model_spec)
    await apply_people.apply_people(run, tenant, spec)
    if await users.owner_count(run.session, tenant.id) == 0:
        run.report.warnings.append(
            f"tenant {spec.name} has no owner: name one under its users with role: owner"
        )


async def _apply_provider(run: Run, tenant: Tenant, spec: ProviderSpec) -> None:
    session, keyring, egress = run.session, run.keyring, run.egress
    name = f"{tenant.name}/{spec.name}"
    provider = await providers.find_provider(session, tenant, spec.name)
    if provider is None:
        provider = await provider_writes.create_provider(
            session,
            tenant,
            spec.name,
            run.actor,
            type=spec.type,
            base_url=spec.base_url,
            egress=egress,
            extra_headers=spec.headers,
            keyring=keyring,
        )
        run.report.record("provider", name, "created")
    else:
        headers = provider_headers.check_headers(spec.headers)
        wanted = {
            "type": providers.check_provider_type(spec.type),
            "base_url": providers.check_base_url(spec.base_url, egress),
        }
        providers.check_type_url(str(wanted["type"]), str(wanted["base_url"]))
        current = {"type": provider.type, "base_url": provider.base_url}
        changed = [k for k in wanted if wanted[k] != current[k]]
        # compared by decrypting: the file holds the values, the row only their envelope
        if headers != provider_headers.opened_headers(keyring, provider):
            changed.append("headers")
        if "base_url" in changed:
            # the file states every header; its keys must name every key of the provider
            entered = {k.name for k in spec.keys}
            await providers.check_rekeyed(session, provider, entered, headers_given=True)
        if changed:
            provider.type = str(wanted["type"])
            provider.base_url = str(wanted["base_url"])
            if "headers" in changed:
                provider_headers.set_headers(keyring, provider, headers)
            await provider_writes.provider_updated(session, provider, run.actor, changed)
        run.report.record("provider", name, "updated" if changed else "unchanged", changed)
    unique([k.name for k in spec.keys], f"provider {name}: key")
    for key_spec in spec.keys:
        await _apply_key(run, tenant, provider, f"{name}/{key_spec.name}", key_spec)


async def _apply_key(
    run: Run, tenant: Tenant, provider: Provider, name: str, spec: KeySpec
) -> None:
    session, keyring = run.session, run.keyring
    credential = await providers.find_credential(session, provider, spec.name)
    if credential is None:
        await provider_writes.add_credential(
            session,
            keyring,
            provider,
            spec.name,
            spec.value,
            run.actor,
            weight=spec.weight,
            status=spec.status,
        )
        run.report.record("key", name, "created")
        return
    changed = []
    if credential.weight != providers.check_weight(spec.weight):
        credential.weight = spec.weight
        changed.append("weight")
    if credential.status != providers.check_status(spec.status):
        credential.status = spec.status
        changed.append("status")
    # compared by decrypting: the file holds the plain key, the row only ciphertext
    if not providers.credential_key_equals(keyring, credential, spec.value):
        providers.set_credential_key(keyring, credential, spec.value)
        changed.append("value")
    if changed:
        await provider_writes.credential_updated(session, provider, credential, run.actor, changed)
    run.report.record("key", name, "updated" if changed else "unchanged", changed)


async def _apply_model(run: Run, tenant: Tenant, spec: ModelSpec) -> None:
    session = run.session
    name = f"{tenant.name}/{spec.name}"
    model = await models.find_model(session, tenant, spec.name)
    if model is None:
        model = await model_writes.create_model(session, tenant, spec.name, spec.pricing, run.actor)
        run.report.record("model", name, "created")
    elif models.pricing_of(model) != spec.pricing:
        await model_writes.update_model(
            session, model, run.actor, fields=["pricing"], pricing=spec.pricing
        )
        run.report.record("model", name, "updated", ["pricing"])
    else:
        run.report.record("model", name, "unchanged")
    if not spec.pricing.priced:
        run.report.warnings.append(models.UNPRICED.format(name=name))
    unique([f"{d.provider}:{d.model}" for d in spec.deployments], f"model {name}: deployment")
    for d in spec.deployments:
        label = f"{name} -> {d.provider}:{d.model}"
        provider = await providers.get_provider(session, tenant, d.provider)
        deployment = await models.find_deployment(session, model, provider, d.model)
        if deployment is None:
            await model_writes.add_deployment(
                session,
                model,
                provider,
                d.model,
                run.actor,
                priority=d.priority,
                weight=d.weight,
                enabled=d.enabled,
            )
            run.report.record("deployment", label, "created")
            continue
        providers.check_weight(d.weight)
        wanted = {"priority": d.priority, "weight": d.weight, "enabled": d.enabled}
        current = {
            "priority": deployment.priority,
            "weight": deployment.weight,
            "enabled": deployment.enabled,
        }
        changed = [k for k in wanted if wanted[k] != current[k]]
        if changed:
            await model_writes.update_deployment(
                session,
                model,
                deployment,
                run.actor,
                fields=changed,
                priority=d.priority,
                weight=d.weight,
                enabled=d.enabled,
            )
        run.report.record("deployment", label, "updated" if changed else "unchanged", changed)
