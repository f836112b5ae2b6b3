"""The usage bench still runs: a small load on PostgreSQL, its figures consistent.

Timings are the bench's to report (`python -m tests.bench.usage_scale`); this
only checks that the pass loads, rolls up, serves and answers as it should.
"""

from __future__ import annotations

import pytest

from tests.bench import usage_scale


@pytest.mark.postgres
def test_the_usage_bench_reads_whole_hours_from_rollups_and_matches_the_raw_calls(
    postgres_server_url: str,
) -> None:
    result = usage_scale.run(postgres_server_url, calls=3000, requests=2)

    assert result["usage_calls"] == 3000
    assert result["usage_matches_raw"] == 1.0
    assert result["usage_late_calls"] > 0  # an hour two days back changed after its rollup
    # 90 days of hours less the one changed: from the rollups; the rest from the calls
    assert result["usage_90d_rolled_hours"] == 90 * 24 - 1
    assert result["usage_90d_partial_raw_spans"] == 3  # both edges and the changed hour
    assert result["usage_csv_30d_rows"] > 0
    assert "ix_model_calls_updated" in result["plans"]["changed_hours"]
    for name in ("30d", "90d", "90d_partial"):
        assert 0 < result[f"usage_{name}_p50_ms"] <= result[f"usage_{name}_p95_ms"]
