"""Which OTEL_* variables turn tracing on, where spans go, and which values stop a service."""

from __future__ import annotations

from pathlib import Path

import pytest

from junction_contracts.setting_values import SettingError
from junction_control.settings import ControlSettings
from junction_engine.settings import EngineSettings
from junction_tracing.provider import sampler
from junction_tracing.settings import TracingSettings


def _read(env: dict[str, str]) -> TracingSettings:
    return TracingSettings.from_env(env, service_name="junction-engine")


def test_tracing_is_off_without_an_endpoint() -> None:
    settings = _read({"OTEL_SERVICE_NAME": "edge-1"})

    assert not settings.enabled
    assert settings.service_name == "edge-1"


def test_the_base_endpoint_gets_the_traces_path() -> None:
    assert _read({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}).endpoint == (
        "http://collector:4318/v1/traces"
    )


def test_the_traces_endpoint_is_used_as_given_and_wins() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/ingest",
    }

    assert _read(env).endpoint == "https://traces.example/ingest"


@pytest.mark.parametrize(
    "off", [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}], ids=str
)
def test_the_standard_switches_turn_tracing_off_even_with_an_endpoint(off: dict[str, str]) -> None:
    assert not _read({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"} | off).enabled


def test_an_endpoint_that_is_not_http_stops_the_service_without_echoing_it() -> None:
    with pytest.raises(SettingError) as raised:
        _read({"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://user:hunter2@collector:4317"})

    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER"),
        ({"OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        _read(env)


@pytest.mark.parametrize(
    ("name", "described"),
    [
        ("always_on", "AlwaysOnSampler"),
        ("always_off", "AlwaysOffSampler"),
        ("traceidratio", "TraceIdRatioBased{0.25}"),
        ("parentbased_always_on", "ParentBased{root:AlwaysOnSampler,"),
        ("parentbased_traceidratio", "ParentBased{root:TraceIdRatioBased{0.25},"),
    ],
)
def test_each_standard_sampler_name_is_the_sdks_sampler(name: str, described: str) -> None:
    # a parent-based sampler describes its root first, then how it follows a parent
    assert sampler(name, 0.25).get_description().startswith(described)


def test_both_services_read_the_otel_variables_with_their_own_default_name(
    tmp_path: Path,
) -> None:
    env = {
        "JUNCTION_INTERNAL_SECRET": "s" * 40,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
        "OTEL_TRACES_SAMPLER": "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    }
    engine = EngineSettings.from_env(env, env_file=None).tracing
    control = ControlSettings.from_env(
        env | {"JUNCTION_VAR_DIR": str(tmp_path)}, env_file=None
    ).tracing

    assert (engine.service_name, control.service_name) == ("junction-engine", "junction-control")
    assert engine.endpoint == control.endpoint == "http://127.0.0.1:4318/v1/traces"
    assert (engine.sampler, engine.sampler_arg) == ("traceidratio", 0.1)


def test_a_dot_env_file_can_turn_tracing_on(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318\n")
    settings = EngineSettings.from_env({"JUNCTION_INTERNAL_SECRET": "s" * 40}, env_file=env_file)

    assert settings.tracing.endpoint == "http://127.0.0.1:4318/v1/traces"
