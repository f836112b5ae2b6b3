"""Settings: defaults, URL normalisation, generated secrets and refusals."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from junction_control.errors import ConfigError
from junction_control.settings import ControlSettings


def _settings(tmp_path: Path, **env: str) -> ControlSettings:
    return ControlSettings.from_env(
        environ={"JUNCTION_VAR_DIR": str(tmp_path / "var"), **env}, env_file=None
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_defaults_put_sqlite_and_secrets_under_the_var_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    var = (tmp_path / "var").resolve()
    assert settings.database_url == f"sqlite+aiosqlite:///{var}/junction.db"
    assert (settings.host, settings.admin_port, settings.internal_port) == (
        "127.0.0.1",
        8081,
        8082,
    )
    assert settings.log_level == "info"
    assert settings.master_key_file == var / "master.key"
    assert len(settings.internal_secret) >= 32


def test_master_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    first = _settings(tmp_path)
    second = _settings(tmp_path)

    key_file = tmp_path / "var" / "master.key"
    assert _mode(key_file) == 0o600
    assert first.keyring.primary.version == "v1"
    assert first.keyring.primary.key == second.keyring.primary.key


def test_internal_secret_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    first = _settings(tmp_path)
    second = _settings(tmp_path)

    secret_file = tmp_path / "var" / "internal.key"
    assert _mode(secret_file) == 0o600
    assert first.internal_secret == second.internal_secret
    assert secret_file.read_text().strip().encode() == first.internal_secret


def test_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    _settings(tmp_path)
    os.chmod(tmp_path / "var" / "master.key", 0o644)

    with pytest.raises(ConfigError, match="chmod 600"):
        _settings(tmp_path)


def test_master_key_from_env_with_version_id(tmp_path: Path) -> None:
    key = os.urandom(32)
    settings = _settings(tmp_path, JUNCTION_MASTER_KEY=f"v7:{base64.b64encode(key).decode()}")

    assert settings.keyring.primary.version == "v7"
    assert settings.keyring.primary.key == key
    assert settings.master_key_file is None
    assert not (tmp_path / "var" / "master.key").exists()


def test_master_key_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    short = base64.b64encode(os.urandom(16)).decode()
    with pytest.raises(ConfigError, match="must be 32 bytes"):
        _settings(tmp_path, JUNCTION_MASTER_KEY=short)


def test_master_key_that_is_not_base64_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid base64"):
        _settings(tmp_path, JUNCTION_MASTER_KEY="v1:not base64 at all!")


def test_error_messages_never_quote_the_key(tmp_path: Path) -> None:
    bad = base64.b64encode(os.urandom(31)).decode()
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, JUNCTION_MASTER_KEY=bad)
    assert bad not in str(caught.value)


def test_short_internal_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        _settings(tmp_path, JUNCTION_INTERNAL_SECRET="too-short")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@db:5432/j", "postgresql+asyncpg://u:p@db:5432/j"),
        ("postgresql://u@db/j", "postgresql+asyncpg://u@db/j"),
        ("postgresql+asyncpg://u@db/j", "postgresql+asyncpg://u@db/j"),
        ("sqlite:////srv/junction.db", "sqlite+aiosqlite:////srv/junction.db"),
    ],
)
def test_database_urls_are_turned_into_async_driver_urls(
    tmp_path: Path, raw: str, expected: str
) -> None:
    assert _settings(tmp_path, JUNCTION_DATABASE_URL=raw).database_url == expected


def test_unsupported_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not supported"):
        _settings(tmp_path, JUNCTION_DATABASE_URL="mysql://u@db/j")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JUNCTION_ADMIN_PORT", "http"),
        ("JUNCTION_INTERNAL_PORT", "70000"),
        ("JUNCTION_LOG_LEVEL", "loud"),
        ("JUNCTION_STUCK_CALL_MINUTES", "0"),
        ("JUNCTION_STUCK_CALL_MINUTES", "half an hour"),
    ],
)
def test_bad_ports_and_levels_are_refused(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        _settings(tmp_path, **{name: value})


def test_stuck_call_threshold_defaults_to_30_minutes(tmp_path: Path) -> None:
    assert _settings(tmp_path).stuck_call_minutes == 30
    assert _settings(tmp_path, JUNCTION_STUCK_CALL_MINUTES="5").stuck_call_minutes == 5


def test_env_file_is_read_and_the_process_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# control plane\n"
        f"JUNCTION_VAR_DIR={tmp_path / 'var'}\n"
        "export JUNCTION_ADMIN_PORT=9001\n"
        "JUNCTION_INTERNAL_PORT='9002'  # quoted\n"
    )

    settings = ControlSettings.from_env(environ={"JUNCTION_ADMIN_PORT": "9101"}, env_file=env_file)

    assert settings.admin_port == 9101
    assert settings.internal_port == 9002
    assert settings.var_dir == (tmp_path / "var").resolve()
