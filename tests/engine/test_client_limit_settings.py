"""The slow- and greedy-client settings: defaults, validation, and how uvicorn is told."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from junction_engine.__main__ import uvicorn_options
from junction_engine.connection_timeouts import JunctionHttpProtocol
from junction_engine.settings import EngineSettings, SettingsError
from tests.support.routes import SECRET


def from_env(**values: str) -> EngineSettings:
    env = {"JUNCTION_INTERNAL_SECRET": SECRET.decode()}
    env.update({f"JUNCTION_{k}": v for k, v in values.items()})
    return EngineSettings.from_env(env, env_file=None)


def test_defaults() -> None:
    s = from_env()
    assert s.header_timeout_seconds == 10.0
    assert s.body_timeout_seconds == 60.0
    assert s.keepalive_timeout_seconds == 75.0
    assert s.write_idle_timeout_seconds == 30.0
    assert s.max_in_flight == 1024
    assert s.tenant_max_in_flight == 0  # off


def test_values_are_read() -> None:
    s = from_env(
        HEADER_TIMEOUT_SECONDS="2.5",
        BODY_TIMEOUT_SECONDS="120",
        KEEPALIVE_TIMEOUT_SECONDS="30",
        WRITE_IDLE_TIMEOUT_SECONDS="5",
        MAX_IN_FLIGHT="0",
        TENANT_MAX_IN_FLIGHT="16",
    )
    assert (s.header_timeout_seconds, s.body_timeout_seconds) == (2.5, 120.0)
    assert (s.keepalive_timeout_seconds, s.write_idle_timeout_seconds) == (30.0, 5.0)
    assert (s.max_in_flight, s.tenant_max_in_flight) == (0, 16)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("HEADER_TIMEOUT_SECONDS", "0", "must be a number above 0"),
        ("HEADER_TIMEOUT_SECONDS", "ten", "must be a number above 0"),
        ("BODY_TIMEOUT_SECONDS", "-1", "must be a number above 0"),
        ("KEEPALIVE_TIMEOUT_SECONDS", "nan", "must be a number above 0"),
        ("WRITE_IDLE_TIMEOUT_SECONDS", "0", "must be a number above 0"),
        ("MAX_IN_FLIGHT", "-5", "must be an integer from 0 to"),
        ("MAX_IN_FLIGHT", "1e3", "must be an integer from 0 to"),
        ("TENANT_MAX_IN_FLIGHT", "2.5", "must be an integer from 0 to"),
        ("TENANT_MAX_IN_FLIGHT", "lots", "must be an integer from 0 to"),
    ],
)
def test_a_bad_value_is_refused_with_the_variable_named(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=f"JUNCTION_{name} {says}"):
        from_env(**{name: value})


def test_the_engine_refuses_to_start_on_a_bad_value() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "junction_engine"],
        env={"JUNCTION_INTERNAL_SECRET": SECRET.decode(), "JUNCTION_MAX_IN_FLIGHT": "many"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "JUNCTION_MAX_IN_FLIGHT must be an integer from 0 to 1000000" in done.stderr


def test_uvicorn_serves_with_the_engines_protocol_and_deadlines() -> None:
    options = uvicorn_options(
        from_env(
            HEADER_TIMEOUT_SECONDS="3",
            WRITE_IDLE_TIMEOUT_SECONDS="7",
            KEEPALIVE_TIMEOUT_SECONDS="40",
        )
    )
    factory = options["http"]
    assert factory.func is JunctionHttpProtocol
    assert factory.keywords == {"header_timeout": 3.0, "write_idle_timeout": 7.0}
    assert options["timeout_keep_alive"] == 40.0
    # worker processes get the options pickled
    assert pickle.loads(pickle.dumps(factory)).keywords == factory.keywords
