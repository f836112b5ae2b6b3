"""The control-plane benchmark still runs: a short pass against SQLite, its figures consistent."""

from __future__ import annotations

from tests.bench import control_plane


def test_the_control_plane_bench_measures_resolves_and_ingest_and_stores_every_call() -> None:
    result = control_plane.run("sqlite://", seconds=2.0, tokens=300)

    assert 0 < result["resolves"] <= 300
    assert result["resolves_per_s"] > 0
    assert result["resolve_cpu_ms"] > 0
    assert result["events"] >= control_plane.BATCH_EVENTS
    assert result["events_per_s"] > 0
    assert result["ingest_cpu_ms_per_call"] > 0
    # every call finished is stored and charged once; the last batch's starts stay open
    assert result["calls_final"] == result["charges"]
    assert result["calls_stored"] > result["calls_final"]
