"""Starting `deploy/local/run.py` (or `make run`) as a user does, and watching what it started.

Each launch gets its own ports and var directory, and runs in a session of
its own, so a test can send SIGINT to its whole process group the way a
terminal does on Ctrl-C.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import unavailable
from tests.support.stack import ROOT, free_port

PORTS = (
    "JUNCTION_PUBLIC_PORT",
    "JUNCTION_ADMIN_PORT",
    "JUNCTION_INTERNAL_PORT",
    "JUNCTION_ENGINE_PORT",
    "JUNCTION_MOCK_PORT",
)
READY = "Ctrl-C stops everything."


def stack_env(tmp_path: Path, var: Path | None = None) -> dict[str, str]:
    """The environment of one copy: fresh ports, its var directory, no JUNCTION_* of ours."""
    if shutil.which("caddy") is None:
        unavailable("caddy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNCTION_")}
    env.update({name: str(free_port()) for name in PORTS})
    env.update(
        JUNCTION_VAR_DIR=str(var or tmp_path / "var"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
    )
    return env


@dataclass
class Launch:
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.env['JUNCTION_PUBLIC_PORT']}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if needle in text:
                return text
            if self.proc.poll() is not None:
                raise AssertionError(f"make run exited before {needle!r}:\n{text}")
            time.sleep(0.2)
        raise AssertionError(f"no {needle!r} within {timeout} s:\n{self.text()}")

    def banner_value(self, label: str) -> str:
        found = re.search(rf"^  {label}\s+(\S+)$", self.wait_for(READY), re.MULTILINE)
        assert found is not None, f"no {label!r} in the banner"
        return found.group(1)

    def interrupt(self, times: int = 1, sig: signal.Signals = signal.SIGINT) -> None:
        """Ctrl-C as a terminal sends it: SIGINT to the whole foreground group."""
        for _ in range(times):
            os.killpg(self.proc.pid, sig)
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.interrupt()
            self.proc.wait(timeout=40)


def launch(env: dict[str, str], log: Path, command: list[str] | None = None) -> Launch:
    """`run.py` (or `command`, e.g. `make run`) in a session of its own, output to `log`."""
    proc = subprocess.Popen(
        command or [sys.executable, str(ROOT / "deploy/local/run.py")],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    return Launch(proc, log, env)


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children in their own sessions included)."""
    parents = {p: _parent(p) for p in (int(d) for d in os.listdir("/proc") if d.isdigit())}
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited already


def listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state that one of `pids` holds."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found: set[tuple[str, int]] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                found.add((_address(address, width), int(port, 16)))
    return found


def _address(hexed: str, width: int) -> str:
    # the kernel writes each 32-bit word of the address in host (little-endian) order
    raw = bytes.fromhex(hexed)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.IPv4Address(words) if width == 8 else ipaddress.IPv6Address(words))
