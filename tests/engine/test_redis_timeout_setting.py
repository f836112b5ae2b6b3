"""JUNCTION_REDIS_TIMEOUT_MS: one short timeout for every Redis command the engine sends."""

from __future__ import annotations

import pytest

from junction_engine.app import create_redis
from junction_engine.settings import EngineSettings, SettingsError

SECRET_ENV = {"JUNCTION_INTERNAL_SECRET": "s" * 40}


def test_the_default_is_100_ms_and_applies_to_the_whole_pool() -> None:
    settings = EngineSettings.from_env(
        SECRET_ENV | {"JUNCTION_REDIS_URL": "redis://127.0.0.1:6379/0"}, env_file=None
    )
    assert settings.redis_timeout_ms == 100
    redis = create_redis(settings)
    assert redis is not None
    options = redis.connection_pool.connection_kwargs
    assert (options["socket_timeout"], options["socket_connect_timeout"]) == (0.1, 0.1)
    assert options["retry"].get_retries() == 0  # a timeout is not paid twice


def test_a_chosen_timeout_is_used() -> None:
    settings = EngineSettings.from_env(
        SECRET_ENV | {"JUNCTION_REDIS_TIMEOUT_MS": "250"}, env_file=None
    )
    assert settings.redis_timeout_ms == 250


@pytest.mark.parametrize("raw", ["0", "-5", "0.5", "abc", "20000"])
def test_a_bad_timeout_refuses_to_start(raw: str) -> None:
    with pytest.raises(SettingsError, match="JUNCTION_REDIS_TIMEOUT_MS"):
        EngineSettings.from_env(SECRET_ENV | {"JUNCTION_REDIS_TIMEOUT_MS": raw}, env_file=None)
