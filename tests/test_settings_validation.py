"""Every setting of every service is checked at start: exit 2, one line, no traceback.

The variables are read from the settings code itself (every ``"JUNCTION_…"``
name its modules pass to a reader), so a new setting is covered the day it is
added. For each one a refused value is found among generic bad values (a
fraction for an integer, an unknown word for a choice, a file for a
directory, ...), then the service's own entry point is started with it: it
must exit with status 2 and print one line naming the variable.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from junction_contracts.setting_values import SettingError
from junction_control.errors import ConfigError
from junction_control.settings import ControlSettings
from junction_engine.settings import EngineSettings
from junction_mockllm.__main__ import parse_args

ROOT = Path(__file__).resolve().parents[1]
SECRET = "a-shared-internal-secret-of-enough-bytes-0123456789"
# names whose value may be a secret (or a URL with a password): never repeated in the error
SECRET_NAMES = {
    "JUNCTION_INTERNAL_SECRET",
    "JUNCTION_MASTER_KEY",
    "JUNCTION_DATABASE_URL",
    "JUNCTION_REDIS_URL",
    "JUNCTION_MOCK_KEY",
}


@dataclass(frozen=True)
class Service:
    name: str
    modules: tuple[str, ...]
    command: tuple[str, ...]
    base_env: Callable[[Path], dict[str, str]]
    build: Callable[[Mapping[str, str]], object]


SERVICES = (
    Service(
        "junction-engine",
        ("services/engine/src/junction_engine/settings.py",),
        ("-m", "junction_engine"),
        lambda tmp: {"JUNCTION_INTERNAL_SECRET": SECRET, "JUNCTION_VAR_DIR": str(tmp / "var")},
        lambda env: EngineSettings.from_env(env, env_file=None),
    ),
    Service(
        "junction-control",
        (
            "services/control/src/junction_control/settings.py",
            "services/control/src/junction_control/alerts/settings.py",
        ),
        ("-m", "junction_control", "migrate"),
        lambda tmp: {"JUNCTION_VAR_DIR": str(tmp / "var")},
        lambda env: ControlSettings.from_env(env, env_file=None),
    ),
    Service(
        "junction-mockllm",
        ("services/mockllm/src/junction_mockllm/settings.py",),
        ("-m", "junction_mockllm"),
        lambda tmp: {},
        lambda env: parse_args([], env, None),
    ),
)


def names_read(service: Service) -> list[str]:
    """Every ``"JUNCTION_…"`` string literal of the service's settings modules."""
    names: set[str] = set()
    for module in service.modules:
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if text.startswith("JUNCTION_") and text.replace("_", "").isalnum():
                    names.add(text)
    return sorted(names)


CASES = [(service, name) for service in SERVICES for name in names_read(service)]


def bad_values(tmp: Path) -> Iterator[str]:
    """Values some setting refuses, most telling first."""
    a_file = tmp / "a-file"
    a_file.write_text("not a directory")
    yield from ("0.5", "-1", "nan", "99999999999999999999", "trace", "ftp://example.invalid")
    yield from ("not a url", "10.0.0.0/99", "x" * 300, "short", str(a_file), "\x07")


def refused_value(service: Service, name: str, tmp: Path) -> str:
    """A value of `name` that `service` refuses with an error naming `name`."""
    base = service.base_env(tmp)
    for value in bad_values(tmp):
        try:
            service.build({**base, name: value})
        except (SettingError, ConfigError) as exc:
            if str(exc).startswith(name):
                return value
    raise AssertionError(f"{service.name} accepts every bad value tried for {name}")


@dataclass(frozen=True)
class Outcome:
    value: str
    returncode: int
    stderr: str


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Outcome]:
    """Each service started once per setting with a refused value (two at a time)."""
    home = tmp_path_factory.mktemp("settings")
    previous = Path.cwd()
    os.chdir(home)  # relative defaults (./var) land here, and no stray .env is read
    try:
        planned = {
            (service.name, name): (service, refused_value(service, name, home))
            for service, name in CASES
        }
    finally:
        os.chdir(previous)

    def start(item: tuple[Service, str, str]) -> Outcome:
        service, name, value = item
        own = home / f"{service.name}-{name}"  # its own var directory: no shared key files
        own.mkdir()
        env = {"PATH": os.environ.get("PATH", ""), **service.base_env(own), name: value}
        try:
            done = subprocess.run(
                [sys.executable, *service.command],
                env=env,
                cwd=home,
                capture_output=True,
                text=True,
                timeout=300,  # a loaded machine; a service that accepted the value would hang
                check=False,
            )
        except subprocess.TimeoutExpired:
            # reported by this setting's own test, not as an error of every test
            return Outcome(value, -1, f"{service.name} still running after 300 s")
        return Outcome(value, done.returncode, done.stderr)

    items = [(service, name, value) for (_, name), (service, value) in planned.items()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(start, items))
    return {(s.name, n): r for (s, n, _), r in zip(items, results, strict=True)}


def test_the_settings_of_every_service_are_found() -> None:
    # a reader that stopped naming its variables would make the check below vacuous
    by_service = {service.name: set(names_read(service)) for service in SERVICES}
    assert {"JUNCTION_MAX_ATTEMPTS", "JUNCTION_LOG_LEVEL", "JUNCTION_SPOOL_DIR"} <= by_service[
        "junction-engine"
    ]
    assert {"JUNCTION_DATABASE_URL", "JUNCTION_WEBHOOK_MAX_ATTEMPTS"} <= by_service[
        "junction-control"
    ]
    assert {"JUNCTION_MOCK_PORT", "JUNCTION_MOCK_KEY"} <= by_service["junction-mockllm"]
    assert len(CASES) > 60


@pytest.mark.parametrize(("service", "name"), CASES, ids=[f"{s.name}:{n}" for s, n in CASES])
def test_a_bad_value_stops_the_service_with_one_line_naming_it(
    outcomes: dict[tuple[str, str], Outcome], service: Service, name: str
) -> None:
    outcome = outcomes[(service.name, name)]
    lines = outcome.stderr.strip().splitlines()

    assert outcome.returncode == 2, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith(f"{service.name}: ")
    assert name in lines[0]
    if name in SECRET_NAMES and len(outcome.value) > 3:
        assert outcome.value not in lines[0]


@pytest.mark.parametrize(
    ("service", "name", "value", "line"),
    [
        (
            SERVICES[0],
            "JUNCTION_MAX_ATTEMPTS",
            "0.5",
            "junction-engine: JUNCTION_MAX_ATTEMPTS must be an integer from 1 to 10 (got '0.5')",
        ),
        (
            SERVICES[0],
            "JUNCTION_LOG_LEVEL",
            "trace",
            "junction-engine: JUNCTION_LOG_LEVEL must be one of critical, error, warning, "
            "info, debug (got 'trace')",
        ),
        (
            SERVICES[1],
            "JUNCTION_ADMIN_PORT",
            "8081.5",
            "junction-control: error: JUNCTION_ADMIN_PORT must be an integer from 1 to 65535 "
            "(got '8081.5')",
        ),
    ],
)
def test_the_line_says_what_is_allowed(
    tmp_path: Path, service: Service, name: str, value: str, line: str
) -> None:
    done = subprocess.run(
        [sys.executable, *service.command],
        env={"PATH": os.environ.get("PATH", ""), **service.base_env(tmp_path), name: value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (2, line + "\n")


def test_a_bad_env_file_line_stops_the_engine_in_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"JUNCTION_INTERNAL_SECRET={SECRET}\nJUNCTION_LOG_LEVEL debug\n")
    done = subprocess.run(
        [sys.executable, "-m", "junction_engine"],
        env={"PATH": os.environ.get("PATH", "")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (2, "junction-engine: .env:2: expected KEY=VALUE\n")
