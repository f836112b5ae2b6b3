"""The shell's reads: ``list`` and ``show`` of tenants, members, keys, providers, models, usage.

Each prints a table by default and, with ``--json``, what the admin API's
read answers (`cli_views`). Nothing printed is a secret: keys by prefix,
credentials by last four, headers masked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from junction_control import cli_views
from junction_control.cli_table import Column, print_fields, print_table
from junction_control.columns import utcnow
from junction_control.commands import migrated_session
from junction_control.errors import InvalidInput
from junction_control.models.schemas import ModelOut
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.tenants.schemas import TenantOut
from junction_control.tokens.schemas import TokenOut
from junction_control.usage.schemas import ModelUsageOut
from junction_control.users.schemas import MemberOut

MAX_DAYS = 3660


def _price(model: ModelOut) -> str:
    p = model.pricing
    if p.free:
        return "free"
    return f"{p.input_per_mtok:g}/{p.output_per_mtok:g}"


TENANTS: list[Column[TenantOut]] = [
    Column("name", lambda t: t.name),
    Column("id", lambda t: t.id),
    Column("created", lambda t: t.created_at),
]
MEMBERS: list[Column[MemberOut]] = [
    Column("email", lambda m: m.email),
    Column("role", lambda m: m.role),
    Column("name", lambda m: m.name or None),
    Column("status", lambda m: "disabled" if m.disabled else "active"),
    Column("added", lambda m: m.created_at),
]
TOKENS: list[Column[TokenOut]] = [
    Column("name", lambda t: t.name),
    Column("prefix", lambda t: t.prefix + "…"),
    Column("models", lambda t: t.models or "all"),
    Column("rpm", lambda t: t.rpm),
    Column("budget usd", lambda t: t.budget_usd),
    Column("spent usd", lambda t: t.spent_usd),
    Column("expires", lambda t: t.expires_at),
    Column("state", lambda t: "revoked" if t.revoked_at else "live"),
]
PROVIDERS: list[Column[cli_views.ProviderShown]] = [
    Column("name", lambda p: p.name),
    Column("type", lambda p: p.type),
    Column("base url", lambda p: p.base_url),
    Column("keys", lambda p: [f"{k.name} …{k.last4} ({k.status})" for k in p.keys]),
    Column("headers", lambda p: p.header_names),
]
MODELS: list[Column[cli_views.ModelShown]] = [
    Column("name", lambda m: m.name),
    Column("price in/out per M", _price),
    Column(
        "deployments (failover order)",
        lambda m: [
            f"{d.provider}:{d.upstream_model}" + ("" if d.enabled else " (disabled)")
            for d in m.deployments
        ],
    ),
]
USAGE: list[Column[ModelUsageOut]] = [
    Column("model", lambda u: u.model),
    Column("calls", lambda u: u.calls),
    Column("failed", lambda u: u.failed_calls),
    Column("refused", lambda u: u.refused_calls),
    Column("input tokens", lambda u: u.input_tokens),
    Column("output tokens", lambda u: u.output_tokens),
    Column("cost usd", lambda u: u.cost_usd),
]


def add_commands(groups: Mapping[str, Any]) -> None:
    """Add the read actions to the command groups (`cli.build_parser` makes them)."""
    _read(groups["tenant"], "list", "every tenant", _tenant_list, tenant=False)
    show = _read(groups["tenant"], "show", "one tenant at a glance", _tenant_show, tenant=False)
    show.add_argument("name")
    _read(groups["member"], "list", "the tenant's members and roles", _member_list)
    _read(groups["token"], "list", "the tenant's keys (prefix only)", _token_list)
    _read(groups["provider"], "list", "the tenant's providers and keys", _provider_list)
    _read(groups["model"], "list", "the tenant's models and deployments", _model_list)
    usage = _read(groups["usage"], "summary", "per-model totals of recent calls", _usage)
    usage.add_argument("--days", type=int, default=30, help="the last N days (default 30)")


Command = Callable[[argparse.Namespace, ControlSettings], Awaitable[None]]


def _read(
    group: Any, action: str, help: str, command: Command, *, tenant: bool = True
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(action, help=help)
    if tenant:
        parser.add_argument("--tenant", required=True)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(command=command)
    return parser


def _json(value: BaseModel | Sequence[BaseModel]) -> None:
    print(json.dumps(cli_views.dump(value), indent=2), file=sys.stdout)


async def _tenant_list(args: argparse.Namespace, settings: ControlSettings) -> None:
    async with migrated_session(settings) as session:
        rows = await cli_views.list_tenants(session)
    if args.json:
        return _json(rows)
    print_table(rows, TENANTS, sys.stdout, empty="no tenants yet")


async def _tenant_show(args: argparse.Namespace, settings: ControlSettings) -> None:
    async with migrated_session(settings) as session:
        shown = await cli_views.show_tenant(session, await tenants.get_tenant(session, args.name))
    if args.json:
        return _json(shown)
    budget = shown.budget
    print_fields(
        [
            ("tenant", shown.name),
            ("id", shown.id),
            ("created", shown.created_at),
            ("owners", shown.owners or "none"),
            ("members", shown.members),
            ("providers", shown.providers),
            ("models", shown.models),
            ("live keys", shown.live_keys),
            ("billing", shown.billing),
            ("balance usd", shown.balance_usd),
            (
                "budget",
                "none"
                if budget is None
                else f"{budget.spent_usd:.2f} of {budget.limit_usd:.2f} USD ({budget.period})",
            ),
        ],
        sys.stdout,
    )


async def _member_list(args: argparse.Namespace, settings: ControlSettings) -> None:
    async with migrated_session(settings) as session:
        rows = await cli_views.list_members(session, await tenants.get_tenant(session, args.tenant))
    if args.json:
        return _json(rows)
    print_table(rows, MEMBERS, sys.stdout, empty=f"tenant {args.tenant} has no members")


async def _token_list(args: argparse.Namespace, settings: ControlSettings) -> None:
    async with migrated_session(settings) as session:
        rows = await cli_views.list_tokens(session, await tenants.get_tenant(session, args.tenant))
    if args.json:
        return _json(rows)
    print_table(rows, TOKENS, sys.stdout, empty=f"tenant {args.tenant} has no keys")


async def _provider_list(args: argparse.Namespace, settings: ControlSettings) -> None:
    async with migrated_session(settings) as session:
        found = await tenants.get_tenant(session, args.tenant)
        rows = await cli_views.list_providers(session, found)
    if args.json:
        return _json(rows)
    print_table(rows, PROVIDERS, sys.stdout, empty=f"tenant {args.tenant} has no providers")


async def _model_list(args: argparse.Namespace, settings: ControlSettings) -> None:
    async with migrated_session(settings) as session:
        rows = await cli_views.list_models(session, await tenants.get_tenant(session, args.tenant))
    if args.json:
        return _json(rows)
    print_table(rows, MODELS, sys.stdout, empty=f"tenant {args.tenant} has no models")


async def _usage(args: argparse.Namespace, settings: ControlSettings) -> None:
    if not 1 <= args.days <= MAX_DAYS:
        raise InvalidInput(f"--days must be between 1 and {MAX_DAYS}")
    until = utcnow()
    since = until - timedelta(days=args.days)
    retention = timedelta(days=settings.call_retention_days)
    async with migrated_session(settings) as session:
        found = await tenants.get_tenant(session, args.tenant)
        summary = await cli_views.usage_summary(session, found, since, until, retention)
    if args.json:
        return _json(summary)
    print(f"usage of tenant {args.tenant}, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC")
    print_table(summary.models, USAGE, sys.stdout, empty="no calls in that range")
