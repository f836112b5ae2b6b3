"""The processes `make run` starts, and how they all stop together.

A terminal sends SIGINT to its whole foreground process group: `make`,
`uv run` and this launcher, once per Ctrl-C. Every service therefore runs in
a session of its own, so only the launcher sees the signal; on the first
one it ignores any further SIGINT and SIGTERM, sends SIGTERM to each
service's process group (an engine's workers included), and sends SIGKILL to
any group still alive after the grace period. It then exits 0, so neither
`uv run` nor `make` reports an error for a deliberate stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType

# how long the services get to finish their requests before they are killed
STOP_GRACE_SECONDS = 10.0


class Stopping(BaseException):
    """Ctrl-C, SIGTERM or SIGHUP arrived: stop everything and exit 0 (like KeyboardInterrupt,
    not an Exception, so no handler for errors swallows it)."""


# SIGHUP: the terminal closed, which the services in their own sessions never hear
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Signals:
    """Turns the first SIGINT, SIGTERM or SIGHUP into `Stopping`; ignores the rest.

    Inside `deferred()` (a process being started and recorded) the signal is
    held and raised at the end of the block, so no process is ever started
    without being in the list of those to stop.
    """

    def __init__(self) -> None:
        self._held = 0
        self._pending = False

    def install(self) -> None:
        # also when started from a shell that made this process ignore SIGINT
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        ignore_further_signals()
        if self._held:
            self._pending = True
            return
        raise Stopping

    def deferred(self) -> _Deferred:
        return _Deferred(self)


class _Deferred:
    def __init__(self, signals: Signals) -> None:
        self._signals = signals

    def __enter__(self) -> None:
        self._signals._held += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._signals._held -= 1
        if kind is None and self._signals._pending and not self._signals._held:
            raise Stopping


def ignore_further_signals() -> None:
    """While everything stops, another Ctrl-C must not interrupt the stopping."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


class Processes:
    """Every process started for one `make run`, each in its own session."""

    def __init__(self, env: dict[str, str], cwd: Path, signals: Signals) -> None:
        self._env = env
        self._cwd = cwd
        self._signals = signals
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *cmd: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """A long-running service, stopped with the others."""
        return self._popen(cmd, extra, capture=False)

    def run_once(
        self, *cmd: str, what: str, extra: dict[str, str] | None = None, capture: bool = False
    ) -> tuple[int, str]:
        """A one-shot command (migrate, apply); its exit code and, if captured, stderr.

        It runs in its own session like the services, so a Ctrl-C during it
        stops it through `stop_all` rather than racing the launcher.
        """
        proc = self._popen(cmd, extra, capture=capture)
        _out, err = proc.communicate()
        self.started.remove(proc)
        if proc.returncode != 0 and not capture:
            sys.exit(f"make run: {what} failed (exit code {proc.returncode})")
        return proc.returncode, (err or b"").decode("utf-8", "replace")

    def _popen(
        self, cmd: Sequence[str], extra: dict[str, str] | None, *, capture: bool
    ) -> subprocess.Popen[bytes]:
        with self._signals.deferred():
            proc = subprocess.Popen(
                cmd,
                env={**self._env, **(extra or {})},
                cwd=self._cwd,
                start_new_session=True,
                stderr=subprocess.PIPE if capture else None,
            )
            self.started.append(proc)
        return proc

    def wait_http(self, url: str, what: str, timeout: float = 30) -> None:
        """Return once `url` answers below 500; exit if a process dies meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.started):
                sys.exit(f"make run: a process exited early while waiting for {what}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - local URL
                    if resp.status < 500:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        sys.exit(f"make run: {what} did not come up at {url}")

    def supervise(self, engines: list[subprocess.Popen[bytes]], engine_ports: list[int]) -> None:
        """Return once a process other than an engine stops, or the last engine does.

        Caddy routes around an engine that is gone, so one exiting is reported
        and the rest keep serving (that is what several replicas are for).
        """
        reported: set[int] = set()
        while True:
            for proc, port in zip(engines, engine_ports, strict=True):
                if proc.poll() is not None and proc.pid not in reported:
                    reported.add(proc.pid)
                    alive = sum(p.poll() is None for p in engines)
                    print(
                        f"make run: the engine on :{port} stopped; {alive} still serving",
                        file=sys.stderr,
                        flush=True,
                    )
            others = [p for p in self.started if p not in engines]
            if any(p.poll() is not None for p in others) or all(
                p.poll() is not None for p in engines
            ):
                print("make run: a process stopped; shutting the rest down", file=sys.stderr)
                return
            time.sleep(0.5)

    def stop_all(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM to every process group, newest first; SIGKILL to those left after `grace`."""
        ignore_further_signals()
        live = [p for p in reversed(self.started) if p.poll() is None]
        for proc in live:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # each process leads its own session, so its group id is its pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def check_ports_free(ports: Sequence[tuple[str, int]], host: str = "127.0.0.1") -> None:
    """Exit with the setting to change if a port is taken (another copy, say).

    Without it a second copy whose public port is taken would find the first
    copy's Caddy answering and report itself up.
    """
    for name, port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # as the servers do: a port left in TIME_WAIT by a previous run is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                sys.exit(f"make run: port {port} is in use; set {name} to another port")
