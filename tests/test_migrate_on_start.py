"""JUNCTION_MIGRATE_ON_START: `serve` migrates by default (the embedded SQLite
run), and with it off (the shipped manifests, where one `migrate` step runs
first) refuses a database whose schema is not the one it was built for."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from junction_control import migrations
from junction_control.db import Database
from junction_control.errors import ConfigError
from junction_control.settings import ControlSettings
from tests.support.stack import free_port


def _env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNCTION_")}
    env.update(
        JUNCTION_VAR_DIR=str(tmp_path / "var"),
        JUNCTION_DATABASE_URL=database_url,
        JUNCTION_ADMIN_PORT=str(free_port()),
        JUNCTION_INTERNAL_PORT=str(free_port()),
        JUNCTION_LOG_LEVEL="warning",
        **extra,
    )
    return env


def _control(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "junction_control", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_setting_defaults_on_and_reads_plain_booleans(tmp_path: Path) -> None:
    base = {"JUNCTION_VAR_DIR": str(tmp_path)}
    assert ControlSettings.from_env(base, env_file=None).migrate_on_start is True
    for raw, expected in (("false", False), ("0", False), ("off", False), ("TRUE", True)):
        env = {**base, "JUNCTION_MIGRATE_ON_START": raw}
        assert ControlSettings.from_env(env, env_file=None).migrate_on_start is expected
    with pytest.raises(ConfigError, match="JUNCTION_MIGRATE_ON_START must be true or false"):
        ControlSettings.from_env({**base, "JUNCTION_MIGRATE_ON_START": "later"}, env_file=None)


def test_serve_without_migrating_refuses_a_fresh_database_then_runs_after_migrate(
    tmp_path: Path, database_url: str
) -> None:
    env = _env(tmp_path, database_url, JUNCTION_MIGRATE_ON_START="false")
    refused = _control("serve", env=env)
    assert refused.returncode == 2, refused.stderr
    assert "run `junction-control migrate` first" in refused.stderr
    assert "Traceback" not in refused.stderr

    migrated = _control("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "junction_control", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                health = httpx.get(
                    f"http://127.0.0.1:{env['JUNCTION_INTERNAL_PORT']}/healthz", timeout=1
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve never answered"
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


@pytest.mark.postgres
async def test_two_migrations_started_at_once_run_one_after_the_other(
    tmp_path: Path, database_url: str
) -> None:
    # two `serve`s with JUNCTION_MIGRATE_ON_START on, or two migrate steps: without
    # the lock both create the same tables and one fails
    settings = ControlSettings.from_env(_env(tmp_path, database_url), env_file=None)
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite: one control process is assumed")
    first, second = Database(settings.database_url), Database(settings.database_url)
    try:
        await asyncio.gather(first.migrate(), second.migrate())
        assert await migrations.current_revision(first.engine) == migrations.head_revision()
    finally:
        await first.dispose()
        await second.dispose()
