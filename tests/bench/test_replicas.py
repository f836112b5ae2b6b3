"""The replicas cell's bookkeeping: calls counted from an engine's /metrics, a replica left
idle makes its row invalid, the ratios to one replica, and how the report shows them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bench import report, wrk
from tests.bench.measure import Measured
from tests.bench.replicas import Balanced, Replicas, calls_finished, sharing_note, target_name
from tests.bench.scale import Scale

METRICS = """\
# HELP junction_engine_calls_total Finished model calls
# TYPE junction_engine_calls_total counter
junction_engine_calls_total{model="bench",protocol="openai",status="ok"} 1200.0
junction_engine_calls_total{model="bench",protocol="openai",status="upstream_error"} 3.0
# HELP junction_engine_calls_created Finished model calls
# TYPE junction_engine_calls_created gauge
junction_engine_calls_created{model="bench",protocol="openai",status="ok"} 1.7963e+09
junction_engine_requests_total{model="bench",status="ok",code="200"} 1200.0
"""
NO_ERRORS = dict.fromkeys(wrk.ERROR_KINDS, 0)


def _row(count: int, rps: int, *, scenario: str = "chat", connections: int = 64) -> Measured:
    probe = wrk.Probe(status=200, bytes=500, problem="")
    run = wrk.Run(
        requests=rps, seconds=1.0, bytes=rps * 500, errors=NO_ERRORS, p50=2.0, p99=9.5, mean=3.0
    )
    return Measured(scenario, connections, target_name(count), "gateway", probe, runs=[run])


def _cell() -> Replicas:
    return Replicas(
        available=True,
        note=sharing_note(2),
        rows=[
            Balanced(_row(1, 1000), served=(1010,)),
            Balanced(_row(2, 1600), served=(805, 820)),
            Balanced(_row(3, 1500), served=(760, 0, 755)),
        ],
    )


def test_an_engines_calls_are_summed_over_every_label_of_its_calls_counter() -> None:
    assert calls_finished(METRICS) == 1203


def test_an_engine_with_no_calls_yet_counts_zero() -> None:
    assert calls_finished("# HELP junction_engine_calls_total Finished model calls\n") == 0


def test_a_replica_that_served_no_call_makes_its_row_invalid() -> None:
    cell = _cell()
    assert [r.idle for r in cell.rows] == [[], [], [2]]
    assert cell.rows[1].problems == []
    assert cell.rows[2].problems == ["replica 2 of 3 served no call"]


def test_each_count_is_compared_with_one_replica_of_the_same_cell() -> None:
    cell = _cell()
    cell.rows.append(Balanced(_row(1, 400, connections=16), served=(400,)))
    cell.rows.append(Balanced(_row(2, 600, connections=16), served=(300, 300)))
    assert [cell.ratio(r) for r in cell.rows] == [1.0, 1.6, 1.5, 1.0, 1.5]


def test_the_table_shows_the_ratios_the_calls_per_engine_and_the_idle_replica() -> None:
    text = report.render_replicas(_cell())
    lines = text.splitlines()
    assert "the replicas share cores" in text
    one, two, three = lines[-3:]
    assert one.split()[:5] == ["chat", "c=64", "1", "replica", "1,000"]
    assert one.rstrip().endswith("1,010                   ok")
    assert two.split()[:7] == ["chat", "c=64", "2", "replicas", "1,600", "1.60x", "2.00"]
    assert two.rstrip().endswith("805 / 820               ok")
    assert three.split()[4:6] == ["1,500", "1.50x"]
    assert three.rstrip().endswith("760 / 0 / 755           INVALID: replica 2 of 3 served no call")


def test_a_skipped_cell_says_why() -> None:
    skipped = Replicas(available=False, note="skipped (--no-replicas)")
    assert report.render_replicas(skipped) == "replicas: skipped (--no-replicas)"


def test_the_json_record_holds_every_row_with_its_balance(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    workers = Scale(available=False, note="skipped (--no-workers)")
    report.write_json(out, {"invalid": []}, [], workers, _cell())
    cells = json.loads(out.read_text())["replicas"]["cells"]
    assert [(c["replicas"], c["rps"], c["ratio_to_one"]) for c in cells] == [
        (1, 1000.0, 1.0),
        (2, 1600.0, 1.6),
        (3, 1500.0, 1.5),
    ]
    assert [c["calls_per_engine"] for c in cells] == [[1010], [805, 820], [760, 0, 755]]
    assert [c["every_replica_served"] for c in cells] == [True, True, False]
    assert [c["valid"] for c in cells] == [True, True, False]
