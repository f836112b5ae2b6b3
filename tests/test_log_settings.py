"""`JUNCTION_LOG_FORMAT` and `JUNCTION_CALL_LOG`: defaults for development, refusals by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from junction_control.errors import ConfigError
from junction_control.settings import ControlSettings
from junction_engine.__main__ import uvicorn_options
from junction_engine.settings import EngineSettings, SettingsError
from tests.support.routes import SECRET


def _engine(**values: str) -> EngineSettings:
    env = {"JUNCTION_INTERNAL_SECRET": SECRET.decode()}
    env.update({f"JUNCTION_{k}": v for k, v in values.items()})
    return EngineSettings.from_env(env, env_file=None)


def _control(tmp_path: Path, **values: str) -> ControlSettings:
    env = {"JUNCTION_VAR_DIR": str(tmp_path / "var")}
    env.update({f"JUNCTION_{k}": v for k, v in values.items()})
    return ControlSettings.from_env(environ=env, env_file=None)


def test_both_services_log_text_by_default_and_the_engine_logs_each_call(tmp_path: Path) -> None:
    engine = _engine()

    assert (engine.log_format, engine.call_log) == ("text", True)
    assert _control(tmp_path).log_format == "text"


def test_json_logs_and_no_call_lines_can_be_chosen(tmp_path: Path) -> None:
    engine = _engine(LOG_FORMAT="JSON", CALL_LOG="off")

    assert (engine.log_format, engine.call_log) == ("json", False)
    assert _control(tmp_path, LOG_FORMAT="json").log_format == "json"


@pytest.mark.parametrize("values", [{"LOG_FORMAT": "xml"}, {"CALL_LOG": "maybe"}])
def test_the_engine_refuses_other_values_by_name(values: dict[str, str]) -> None:
    [name] = values
    with pytest.raises(SettingsError, match=f"JUNCTION_{name} must be one of"):
        _engine(**values)


def test_the_control_plane_refuses_another_format_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JUNCTION_LOG_FORMAT must be one of text, json"):
        _control(tmp_path, LOG_FORMAT="xml")


def test_uvicorn_logs_through_the_root_logger_in_the_chosen_format() -> None:
    assert uvicorn_options(_engine())["log_config"] is None
