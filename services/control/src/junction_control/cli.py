"""``junction-control``: run the control plane and manage it from a shell.

    junction-control migrate
    junction-control serve
    junction-control tenant create NAME
    junction-control provider create --tenant T --name N --type TYPE --base-url URL
                                     [--key KEY | --key-env VAR] [--header K=V ...]
    junction-control model create --tenant T --name PUBLIC
                                  [--deployment PROVIDER:UPSTREAM[:PRIORITY[:WEIGHT]] ...]
                                  [--input-price X --output-price Y --cached-input-price Z]
                                  [--free]
    junction-control tenant budget NAME (--usd X [--period P] [--timezone TZ] | --clear)
    junction-control token create --tenant T --name N [--models a,b] [--rpm N] [--tpm N]
                                  [--budget-usd X] [--budget-period P] [--budget-timezone TZ]
                                  [--expires-in-days D] [--json]
    junction-control token revoke --tenant T --name N
    junction-control user create --email E --password-env VAR [--name N] [--platform-admin]
                                 [--tenant T --role owner|admin|member|viewer]
    junction-control apply -f junction.yaml
    junction-control add-master-key
    junction-control rotate-master-key
    junction-control reap-stuck [--older-than-minutes N]
    junction-control rollup [--since-hours N] [--prune]
    junction-control credits grant --tenant T --amount X [--note N] [--adjustment]
    junction-control credits billing --tenant T --mode prepaid|postpaid [--credit-limit X]

User mistakes exit with code 2 and one line on stderr; operational failures
(database down, undecryptable key) exit with code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from junction_contracts.log_format import LogFormat, configure_logging
from junction_contracts.periods import PERIODS
from junction_contracts.route import PROVIDER_TYPES
from junction_control import commands
from junction_control.errors import ConfigError, Conflict, ControlError, InvalidInput, NotFound
from junction_control.models.service import ModelPricing
from junction_control.server import serve
from junction_control.settings import MAX_STUCK_CALL_MINUTES, ControlSettings
from junction_control.tenants.budgets import BudgetSpec
from junction_control.tokens.service import TokenLimits
from junction_control.users.models import ROLES

PROG = "junction-control"
_USER_ERRORS = (ConfigError, InvalidInput, NotFound, Conflict)

Command = Callable[[argparse.Namespace, ControlSettings], Coroutine[Any, Any, None]]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code is returned (0 success, 1 failure, 2 usage)."""
    args = build_parser().parse_args(argv)
    command: Command = args.command
    try:
        settings = ControlSettings.from_env()
        _configure_logging(
            settings.log_level if args.command is _serve else "warning", settings.log_format
        )
        _run(command(args, settings))
    except _USER_ERRORS as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except ControlError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run a command to completion on uvloop where it is installed (uvicorn[standard]).

    The server spends a good part of its CPU in the event loop and socket
    transports; uvloop's are several times cheaper than asyncio's own.
    """
    try:
        import uvloop
    except ImportError:  # platforms without uvloop (Windows)
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(prog=PROG, description="Junction control plane")
    sub = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    sub.add_parser("migrate", help="apply database migrations").set_defaults(command=_migrate)
    sub.add_parser("serve", help="run the admin and internal APIs").set_defaults(command=_serve)

    apply = sub.add_parser("apply", help="apply a declarative YAML file idempotently")
    apply.add_argument("-f", "--file", required=True, type=Path, help="path to junction.yaml")
    apply.set_defaults(command=_apply)

    sub.add_parser(
        "add-master-key", help="add a new newest master key to the key file"
    ).set_defaults(command=_add_master_key)
    sub.add_parser(
        "rotate-master-key", help="re-wrap every provider key under the newest master key"
    ).set_defaults(command=_rotate_master_key)

    reap = sub.add_parser("reap-stuck", help="mark calls stuck in processing as failed, once")
    reap.add_argument(
        "--older-than-minutes",
        type=_positive_int,
        metavar="N",
        help="calls processing for longer than this (default: JUNCTION_STUCK_CALL_MINUTES)",
    )
    reap.set_defaults(command=_reap_stuck)

    roll = sub.add_parser("rollup", help="roll usage up per hour once")
    roll.add_argument(
        "--since-hours",
        type=_positive_int,
        metavar="N",
        help="re-roll the last N hours (default: the last 24 and any not rolled yet)",
    )
    roll.add_argument(
        "--prune",
        action="store_true",
        help="then delete calls older than JUNCTION_CALL_RETENTION_DAYS",
    )
    roll.set_defaults(command=_rollup)

    credit = sub.add_parser("credits", help="manage tenant credit").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    cg = credit.add_parser("grant", help="add credit to a tenant (or adjust it)")
    cg.add_argument("--tenant", required=True)
    cg.add_argument("--amount", required=True, type=float, help="USD")
    cg.add_argument("--note", default="")
    cg.add_argument(
        "--adjustment",
        action="store_true",
        help="record a correction (may be negative) instead of a grant",
    )
    cg.set_defaults(command=_credits_grant)
    cb = credit.add_parser("billing", help="make a tenant prepaid or postpaid")
    cb.add_argument("--tenant", required=True)
    cb.add_argument("--mode", required=True, choices=("prepaid", "postpaid"))
    cb.add_argument(
        "--credit-limit", type=float, default=None, help="USD below zero (postpaid only)"
    )
    cb.set_defaults(command=_credits_billing)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    tenant_create = tenant.add_parser("create", help="add a tenant")
    tenant_create.add_argument("name")
    tenant_create.set_defaults(command=_tenant_create)
    tb = tenant.add_parser("budget", help="set or lift a tenant's budget over all its keys")
    tb.add_argument("name")
    tb_what = tb.add_mutually_exclusive_group(required=True)
    tb_what.add_argument("--usd", type=float, help="the limit, in USD")
    tb_what.add_argument("--clear", action="store_true", help="lift the budget")
    tb.add_argument("--period", choices=PERIODS, default="lifetime", help="when it resets")
    tb.add_argument("--timezone", default="UTC", help="IANA zone of the reset (default UTC)")
    tb.set_defaults(command=_tenant_budget)

    provider = sub.add_parser("provider", help="manage providers").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    pc = provider.add_parser("create", help="add a provider (and its first key)")
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

    model = sub.add_parser("model", help="manage models").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    mc = model.add_parser("create", help="add a model and its deployments")
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

    token = sub.add_parser("token", help="manage user tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    tc = token.add_parser("create", help="add a token and print it once")
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
    tr = token.add_parser("revoke", help="revoke a token")
    tr.add_argument("--tenant", required=True)
    tr.add_argument("--name", required=True)
    tr.set_defaults(command=_token_revoke)

    user = sub.add_parser("user", help="manage admin API users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    uc = user.add_parser("create", help="add a user who logs in to the admin API")
    uc.add_argument("--email", required=True)
    uc.add_argument(
        "--password-env", required=True, metavar="VAR", help="read the password from $VAR"
    )
    uc.add_argument("--name", default="")
    uc.add_argument("--platform-admin", action="store_true", help="may act in every tenant")
    uc.add_argument("--tenant", help="make the user a member of this tenant")
    uc.add_argument("--role", choices=ROLES, help="the role in --tenant")
    uc.set_defaults(command=_user_create)
    return parser


async def _migrate(args: argparse.Namespace, settings: ControlSettings) -> None:
    await commands.migrate(settings, sys.stdout)


async def _serve(args: argparse.Namespace, settings: ControlSettings) -> None:
    await serve(settings)


async def _apply(args: argparse.Namespace, settings: ControlSettings) -> None:
    await commands.apply_file(settings, args.file, commands.process_environ(), sys.stdout)


async def _add_master_key(args: argparse.Namespace, settings: ControlSettings) -> None:
    await commands.add_master_key(settings, sys.stdout)


async def _rotate_master_key(args: argparse.Namespace, settings: ControlSettings) -> None:
    await commands.rotate_master_key(settings, sys.stdout)


async def _reap_stuck(args: argparse.Namespace, settings: ControlSettings) -> None:
    minutes: int = args.older_than_minutes or settings.stuck_call_minutes
    await commands.reap_stuck_calls(settings, minutes, sys.stdout)


async def _rollup(args: argparse.Namespace, settings: ControlSettings) -> None:
    await commands.rollup(settings, since_hours=args.since_hours, prune=args.prune, out=sys.stdout)


async def _credits_billing(args: argparse.Namespace, settings: ControlSettings) -> None:
    await commands.set_billing(
        settings,
        tenant=args.tenant,
        billing=args.mode,
        credit_limit_usd=args.credit_limit,
        out=sys.stdout,
    )


async def _credits_grant(args: argparse.Namespace, settings: ControlSettings) -> None:
    await commands.grant_credits(
        settings,
        tenant=args.tenant,
        amount_usd=args.amount,
        note=args.note,
        kind="adjustment" if args.adjustment else "grant",
        out=sys.stdout,
    )


async def _tenant_create(args: argparse.Namespace, settings: ControlSettings) -> None:
    await commands.create_tenant(settings, args.name, sys.stdout)


async def _tenant_budget(args: argparse.Namespace, settings: ControlSettings) -> None:
    spec = None if args.clear else BudgetSpec(args.usd, args.period, args.timezone)
    await commands.set_tenant_budget(settings, tenant=args.name, spec=spec, out=sys.stdout)


async def _provider_create(args: argparse.Namespace, settings: ControlSettings) -> None:
    key: str | None = args.key
    if args.key_env:
        key = commands.process_environ().get(args.key_env)
        if not key:
            raise InvalidInput(f"environment variable {args.key_env} is not set")
    await commands.create_provider(
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
    await commands.create_model(
        settings,
        tenant=args.tenant,
        name=args.name,
        deployments=[commands.DeploymentArg.parse(d) for d in args.deployment],
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
    password = commands.process_environ().get(args.password_env)
    if not password:
        raise InvalidInput(f"environment variable {args.password_env} is not set")
    await commands.create_user(
        settings,
        email=args.email,
        password=password,
        name=args.name,
        platform_admin=args.platform_admin,
        tenant=args.tenant,
        role=args.role,
        out=sys.stdout,
    )


def _headers(pairs: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--header {pair!r} must be NAME=VALUE")
        headers[name.strip()] = value
    return headers


def _configure_logging(level: str, fmt: LogFormat = "text") -> None:
    # "trace" is uvicorn's level below debug; the stdlib knows debug at most
    numeric = logging.DEBUG if level == "trace" else getattr(logging, level.upper())
    configure_logging(numeric, fmt)
    # casbin dumps its model and policy at INFO; decisions are ours, at DEBUG (`rbac`)
    for noisy in ("httpx", "httpcore", "casbin"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if os.environ.get("JUNCTION_SQL_ECHO"):
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_STUCK_CALL_MINUTES:  # past it the date overflows
        raise argparse.ArgumentTypeError(f"must be positive and at most {MAX_STUCK_CALL_MINUTES}")
    return value
