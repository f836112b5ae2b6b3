"""The one `.env` reader: its rules, and that every service reads a file alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from junction_contracts.envfile import EnvFileError, environment, parse_env, read_env_file
from junction_control.errors import ConfigError
from junction_control.settings import ControlSettings
from junction_engine.settings import EngineSettings, SettingsError
from junction_mockllm.__main__ import parse_args

SECRET = "s3cr3t-" + "x" * 40


def test_quotes_comments_export_and_blank_lines() -> None:
    parsed = parse_env(
        "# a comment line\n"
        "\n"
        "A=plain # comment\n"
        'B="with \\"quotes\\" and # hash"\n'
        "C='single $x' # after a quote\n"
        "D=a#b\n"
        "export E=exported\n"
        "F=\n"
        'G="line\\nbreak"\n'
        "  H = spaced  \n"
    )
    assert parsed == {
        "A": "plain",
        "B": 'with "quotes" and # hash',
        "C": "single $x",
        "D": "a#b",
        "E": "exported",
        "F": "",
        "G": "line\nbreak",
        "H": "spaced",
    }


def test_a_trailing_comment_is_not_part_of_an_unquoted_value() -> None:
    parsed = parse_env(f"JUNCTION_INTERNAL_SECRET={SECRET}   # shared by both planes\n")
    assert parsed == {"JUNCTION_INTERNAL_SECRET": SECRET}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("A=1\nnot a pair\n", r"\.env:2: expected KEY=VALUE"),
        ("1A=x\n", r"\.env:1: expected KEY=VALUE"),
        ('A="open\n', r"\.env:1: unterminated \" quote"),
        ("A='x' y\n", r"\.env:1: unexpected text after the closing quote"),
    ],
)
def test_a_bad_line_is_named(text: str, says: str) -> None:
    with pytest.raises(EnvFileError, match=says):
        parse_env(text)


def test_a_missing_file_is_empty_and_the_environment_wins(tmp_path: Path) -> None:
    assert read_env_file(tmp_path / "absent.env") == {}
    env_file = tmp_path / ".env"
    env_file.write_text("JUNCTION_A=file\nJUNCTION_B=file\nOTHER=file\n")

    merged = environment({"JUNCTION_A": "process", "PATH": "/bin"}, env_file)

    assert merged == {"JUNCTION_A": "process", "JUNCTION_B": "file", "OTHER": "file"}


def test_the_engine_and_the_control_plane_read_the_same_secret_from_one_file(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"JUNCTION_VAR_DIR={tmp_path / 'var'}\n"
        f"JUNCTION_INTERNAL_SECRET={SECRET}  # signs engine -> control calls\n"
        "export JUNCTION_LOG_LEVEL='warning' # quiet\n"
    )

    engine = EngineSettings.from_env({}, env_file=env_file)
    control = ControlSettings.from_env({}, env_file=env_file)

    assert engine.internal_secret == control.internal_secret == SECRET.encode()
    assert engine.log_level == control.log_level == "warning"


def test_the_mock_reads_its_key_and_port_from_the_same_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "JUNCTION_MOCK_KEY=mock-key # the demo providers' key\nJUNCTION_MOCK_PORT=9100\n"
    )

    settings, _, port = parse_args([], {}, str(env_file))
    assert (settings.api_keys, port) == (("mock-key",), 9100)
    # the command line wins over the file
    settings, _, port = parse_args(["--api-key", "flag", "--port", "9200"], {}, str(env_file))
    assert (settings.api_keys, port) == (("flag",), 9200)


def test_a_bad_file_stops_every_service_with_the_line_named(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"JUNCTION_INTERNAL_SECRET={SECRET}\nJUNCTION_LOG_LEVEL info\n")
    says = f"{env_file}:2: expected KEY=VALUE"

    with pytest.raises(SettingsError, match=says):
        EngineSettings.from_env({}, env_file=env_file)
    with pytest.raises(ConfigError, match=says):
        ControlSettings.from_env({"JUNCTION_VAR_DIR": str(tmp_path / "var")}, env_file=env_file)
    with pytest.raises(EnvFileError, match=says):
        parse_args([], {}, str(env_file))
