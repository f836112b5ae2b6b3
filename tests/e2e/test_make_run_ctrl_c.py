"""Ctrl-C on `make run`: everything it started stops, quietly, however often it is pressed.

A terminal sends SIGINT to the whole foreground process group, so the tests
do the same (`os.killpg`) to a launch in a session of its own.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.make_run import READY, Launch, alive, descendants, launch, stack_env

pytestmark = pytest.mark.e2e


def _started(run: Launch) -> set[int]:
    run.wait_for(READY)
    pids = descendants(run.proc.pid)
    # mock LLM, control, engine and Caddy at least (uv and make add their own)
    assert len(pids) >= 4, pids
    return pids


def _assert_all_gone(run: Launch, pids: set[int]) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    assert [pid for pid in pids if alive(pid)] == []
    out = run.text()
    assert "Traceback" not in out, out
    assert "a process stopped" not in out  # the stop was asked for, not a crash
    assert "stopping…" in out


# SIGHUP: the terminal window closed, which the services in their own sessions never get
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "terminal-closed"])
def test_one_signal_to_the_group_stops_every_process_and_exits_0(
    tmp_path: Path, sig: signal.Signals
) -> None:
    run = launch(stack_env(tmp_path), tmp_path / "run.log")
    try:
        pids = _started(run)
        run.interrupt(sig=sig)
        assert run.proc.wait(timeout=40) == 0
    finally:
        run.stop()
    _assert_all_gone(run, pids)


def test_three_quick_ctrl_c_on_make_run_stop_everything_without_an_error(tmp_path: Path) -> None:
    # `make run` itself, its setup prerequisites taken as done (-o): make, uv
    # run and the launcher all get each SIGINT, as from a terminal
    env = stack_env(tmp_path)
    env["PATH"] = f"{Path.home() / '.local/bin'}{os.pathsep}{env.get('PATH', '')}"
    run = launch(env, tmp_path / "run.log", ["make", "-o", "setup", "-o", "caddy", "run"])
    try:
        pids = _started(run)
        run.interrupt(times=3)
        code = run.proc.wait(timeout=40)
    finally:
        run.stop()
    _assert_all_gone(run, pids)
    # make reports a recipe that failed ("*** [Makefile:9: run] Error 130" or
    # "Interrupt"); it reports nothing when the launcher exited 0, and then
    # ends itself by the SIGINT it got, as any interrupted command does
    assert "make: ***" not in run.text()
    assert code in (0, -signal.SIGINT), code
