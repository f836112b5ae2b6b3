"""The shell's write commands: their arguments, and the call into the unit of work.

tenant create NAME [--owner EMAIL]
tenant budget NAME (--usd X [--period P] [--timezone TZ] | --clear)
member add --tenant T --email E --role R [--password-env VAR] [--name N]
member role --tenant T --email E --role R
member remove --tenant T --email E
provider create --tenant T --name N --type TYPE --base-url URL
                [--key KEY | --key-env VAR] [--header K=V ...]
model create --tenant T --name PUBLIC [--deployment PROVIDER:UPSTREAM[:PRIORITY[:WEIGHT]] ...]
             [--input-price X --output-price Y --cached-input-price Z] [--free]
token create --tenant T --name N [--models a,b] [--rpm N] [--tpm N] [--budget-usd X]
             [--budget-period P] [--budget-timezone TZ] [--expires-in-days D] [--json]
token revoke --tenant T --name N
user create --email E --password-env VAR [--name N] [--platform-admin]
            [--tenant T --role owner|admin|member|viewer]
credits grant --tenant T --amount X [--note N] [--adjustment]
credits billing --tenant T --mode prepaid|postpaid [--credit-limit X]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from junction_contracts.periods import PERIODS
from junction_contracts.route import PROVIDER_TYPES
from junction_control import cli_catalog, cli_tenants, commands
from junction_control.errors import InvalidInput
from junction_control.models.service import ModelPricing
from junction_control.settings import ControlSettings
from junction_control.tenants.budgets import BudgetSpec
from junction_control.tokens.service import TokenLimits
from junction_control.users.models import ROLES


def add_commands(groups: Mapping[str, Any]) -> None:
    """Add the write actions to the command groups (`cli.build_parser` makes them)."""
    _tenant(groups["tenant"])
    _member(groups["member"])
    _provider(groups["provider"])
    _model(groups["model"])
    _token(groups["token"])
    _user(groups["user"])
    _credits(groups["credits"])


def _tenant(group: Any) -> None:
    create = group.add_parser("create", help="add a tenant with its first owner")
    create.add_argument("name")
    create.add_argument("--owner", metavar="EMAIL", help="an existing user, the first owner")
    create.set_defaults(command=_tenant_create)
    budget = group.add_parser("budget", help="set or lift a tenant's budget over all its keys")
    budget.add_argument("name")
    what = budget.add_mutually_exclusive_group(required=True)
    what.add_argument("--usd", type=float, help="the limit, in USD")
    what.add_argument("--clear", action="store_true", help="lift the budget")
    budget.add_argument("--period", choices=PERIODS, default="lifetime", help="when it resets")
    budget.add_argument("--timezone", default="UTC", help="IANA zone of the reset (default UTC)")
    budget.set_defaults(command=_tenant_budget)


def _member(group: Any) -> None:
    add = group.add_parser("add", help="give a user a role in a tenant")
    add.add_argument("--tenant", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-env", metavar="VAR", help="create the user with $VAR's password")
    add.add_argument("--name", default="")
    add.set_defaults(command=_member_add)
    role = group.add_parser("role", help="change a member's role (a tenant keeps an owner)")
    role.add_argument("--tenant", required=True)
    role.add_argument("--email", required=True)
    role.add_argument("--role", required=True, choices=ROLES)
    role.set_defaults(command=_member_role)
    remove = group.add_parser("remove", help="take a member out, revoking their keys there")
    remove.add_argument("--tenant", required=True)
    remove.add_argument("--email", required=True)
    remove.set_defaults(command=_member_remove)


def _provider(group: Any) -> None:
    pc = group.add_parser("create", help="add a provider (and its first key)")
    pc.add_argument("--tenant", required=True)
    pc.add_argument("--name", required=True)
    pc.add_argument("--type", required=True, choices=PROVIDER_TYPES)
    pc.add_argument("--base-url", required=True)
    keys = pc.add_mutually_exclusive_group()
    keys.add_argument("--key", help="the provider key (visible in shell history; prefer --key-env)")
    keys.add_argument("--key-env", metavar="VAR", help="read the provider key from $VAR")
    pc.add_argument("--key-name", default="default", help="name of the key (default: default)")
    pc.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="K=V",
        help="extra header sent upstream (repeatable)",
    )
    pc.set_defaults(command=_provider_create)


def _model(group: Any) -> None:
    mc = group.add_parser("create", help="add a model and its deployments")
    mc.add_argument("--tenant", required=True)
    mc.add_argument("--name", required=True, help="public model name clients ask for")
    mc.add_argument(
        "--deployment", action="append", default=[], metavar="PROVIDER:UPSTREAM[:PRIORITY[:WEIGHT]]"
    )
    mc.add_argument("--input-price", type=float, default=0.0, help="USD per million tokens")
    mc.add_argument("--output-price", type=float, default=0.0, help="USD per million tokens")
    mc.add_argument("--cached-input-price", type=float, default=0.0, help="USD per million tokens")
    mc.add_argument(
        "--free", action="store_true", help="serve it at no cost (without a price it is refused)"
    )
    mc.set_defaults(command=_model_create)


def _token(group: Any) -> None:
    tc = group.add_parser("create", help="add a token and print it once")
    tc.add_argument("--tenant", required=True)
    tc.add_argument("--name", required=True)
    tc.add_argument("--models", help="comma-separated model names (default: every model)")
    tc.add_argument("--rpm", type=int)
    tc.add_argument("--tpm", type=int)
    tc.add_argument("--budget-usd", type=float)
    tc.add_argument("--budget-period", choices=PERIODS, default="lifetime")
    tc.add_argument("--budget-timezone", default="UTC", help="IANA zone of the budget's reset")
    tc.add_argument("--expires-in-days", type=float)
    tc.add_argument("--json", action="store_true", help="print a JSON object")
    tc.set_defaults(command=_token_create)
    tr = group.add_parser("revoke", help="revoke a token")
    tr.add_argument("--tenant", required=True)
    tr.add_argument("--name", required=True)
    tr.set_defaults(command=_token_revoke)


def _user(group: Any) -> None:
    uc = group.add_parser("create", help="add a user who logs in to the admin API")
    uc.add_argument("--email", required=True)
    uc.add_argument(
        "--password-env", required=True, metavar="VAR", help="read the password from $VAR"
    )
    uc.add_argument("--name", default="")
    uc.add_argument("--platform-admin", action="store_true", help="may act in every tenant")
    uc.add_argument("--tenant", help="make the user a member of this tenant")
    uc.add_argument("--role", choices=ROLES, help="the role in --tenant")
    uc.set_defaults(command=_user_create)


def _credits(group: Any) -> None:
    cg = group.add_parser("grant", help="add credit to a tenant (or adjust it)")
    cg.add_argument("--tenant", required=True)
    cg.add_argument("--amount", required=True, type=float, help="USD")
    cg.add_argument("--note", default="")
    cg.add_argument(
        "--adjustment",
        action="store_true",
        help="record a correction (may be negative) instead of a grant",
    )
    cg.set_defaults(command=_credits_grant)
    cb = group.add_parser("billing", help="make a tenant prepaid or postpaid")
    cb.add_argument("--tenant", required=True)
    cb.add_argument("--mode", required=True, choices=("prepaid", "postpaid"))
    cb.add_argument(
        "--credit-limit", type=float, default=None, help="USD below zero (postpaid only)"
    )
    cb.set_defaults(command=_credits_billing)


async def _tenant_create(args: argparse.Namespace, settings: ControlSettings) -> None:
    await cli_tenants.create_tenant(settings, args.name, args.owner, sys.stdout)


async def _tenant_budget(args: argparse.Namespace, settings: ControlSettings) -> None:
    spec = None if args.clear else BudgetSpec(args.usd, args.period, args.timezone)
    await cli_tenants.set_tenant_budget(settings, tenant=args.name, spec=spec, out=sys.stdout)


async def _member_add(args: argparse.Namespace, settings: ControlSettings) -> None:
    password = None if args.password_env is None else _from_env(args.password_env)
    await cli_tenants.add_member(
        settings,
        tenant=args.tenant,
        email=args.email,
        role=args.role,
        password=password,
        name=args.name,
        out=sys.stdout,
    )


async def _member_role(args: argparse.Namespace, settings: ControlSettings) -> None:
    await cli_tenants.set_member_role(
        settings, tenant=args.tenant, email=args.email, role=args.role, out=sys.stdout
    )


async def _member_remove(args: argparse.Namespace, settings: ControlSettings) -> None:
    await cli_tenants.remove_member(settings, tenant=args.tenant, email=args.email, out=sys.stdout)


async def _credits_billing(args: argparse.Namespace, settings: ControlSettings) -> None:
    await cli_tenants.set_billing(
        settings,
        tenant=args.tenant,
        billing=args.mode,
        credit_limit_usd=args.credit_limit,
        out=sys.stdout,
    )


async def _credits_grant(args: argparse.Namespace, settings: ControlSettings) -> None:
    await cli_tenants.grant_credits(
        settings,
        tenant=args.tenant,
        amount_usd=args.amount,
        note=args.note,
        kind="adjustment" if args.adjustment else "grant",
        out=sys.stdout,
    )


async def _provider_create(args: argparse.Namespace, settings: ControlSettings) -> None:
    key: str | None = _from_env(args.key_env) if args.key_env else args.key
    await cli_catalog.create_provider(
        settings,
        tenant=args.tenant,
        name=args.name,
        type=args.type,
        base_url=args.base_url,
        key=key,
        key_name=args.key_name,
        headers=_headers(args.header),
        out=sys.stdout,
    )


async def _model_create(args: argparse.Namespace, settings: ControlSettings) -> None:
    await cli_catalog.create_model(
        settings,
        tenant=args.tenant,
        name=args.name,
        deployments=[cli_catalog.DeploymentArg.parse(d) for d in args.deployment],
        pricing=ModelPricing(
            input_per_mtok=args.input_price,
            output_per_mtok=args.output_price,
            cached_input_per_mtok=args.cached_input_price,
            free=args.free,
        ),
        out=sys.stdout,
    )


async def _token_create(args: argparse.Namespace, settings: ControlSettings) -> None:
    allowed = None
    if args.models is not None:
        allowed = tuple(m.strip() for m in args.models.split(",") if m.strip())
    await commands.create_token(
        settings,
        tenant=args.tenant,
        name=args.name,
        limits=TokenLimits(
            allowed_models=allowed,
            rpm=args.rpm,
            tpm=args.tpm,
            budget_usd=args.budget_usd,
            budget_period=args.budget_period,
            budget_timezone=args.budget_timezone,
        ),
        expires_in_days=args.expires_in_days,
        as_json=args.json,
        out=sys.stdout,
    )


async def _token_revoke(args: argparse.Namespace, settings: ControlSettings) -> None:
    await commands.revoke_token(settings, tenant=args.tenant, name=args.name, out=sys.stdout)


async def _user_create(args: argparse.Namespace, settings: ControlSettings) -> None:
    await cli_tenants.create_user(
        settings,
        email=args.email,
        password=_from_env(args.password_env),
        name=args.name,
        platform_admin=args.platform_admin,
        tenant=args.tenant,
        role=args.role,
        out=sys.stdout,
    )


def _from_env(var: str) -> str:
    value = commands.process_environ().get(var)
    if not value:
        raise InvalidInput(f"environment variable {var} is not set")
    return value


def _headers(pairs: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--header {pair!r} must be NAME=VALUE")
        headers[name.strip()] = value
    return headers
