"""``junction-control``: run the control plane and manage it from a shell.

    junction-control migrate
    junction-control serve
    junction-control apply -f junction.yaml
    junction-control add-master-key
    junction-control rotate-master-key
    junction-control reap-stuck [--older-than-minutes N]
    junction-control rollup [--since-hours N] [--prune]

The writes to tenants, members, providers, models, tokens, users and credit
are `cli_writes`; the reads (``tenants list``, ``tenants show NAME``,
``members|keys|providers|models list --tenant T``, ``usage summary --tenant
T``, each with ``--json``) are `cli_reads`.

User mistakes exit with code 2 and one line on stderr (with its stable code
in brackets where it has one, e.g. ``[last_owner]``); operational failures
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
from junction_control import cli_reads, cli_writes, commands
from junction_control.errors import ConfigError, Conflict, ControlError, InvalidInput, NotFound
from junction_control.server import serve
from junction_control.settings import MAX_STUCK_CALL_MINUTES, ControlSettings

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
        code = getattr(exc, "code", None)
        print(f"{PROG}: error: {exc}" + (f" [{code}]" if code else ""), file=sys.stderr)
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

    groups = {
        name: sub.add_parser(name, aliases=aliases, help=help).add_subparsers(
            dest="action", required=True, metavar="ACTION"
        )
        for name, aliases, help in _GROUPS
    }
    cli_writes.add_commands(groups)
    cli_reads.add_commands(groups)
    return parser


# every group answers to its plural too: `tenants list`, `keys list`
_GROUPS: tuple[tuple[str, list[str], str], ...] = (
    ("tenant", ["tenants"], "manage tenants"),
    ("member", ["members"], "manage a tenant's members and owners"),
    ("provider", ["providers"], "manage providers"),
    ("model", ["models"], "manage models"),
    ("token", ["tokens", "key", "keys"], "manage user tokens (keys)"),
    ("user", ["users"], "manage admin API users"),
    ("credits", [], "manage tenant credit"),
    ("usage", [], "read a tenant's usage"),
)


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
