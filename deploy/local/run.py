"""`make run`: the whole gateway on one machine, on the embedded defaults.

Starts the mock LLM, the control plane, the engines and Caddy; applies the
demo file; prints how to call it. ENGINES=N (default 1, at most 16) starts N
engine replicas on consecutive ports from JUNCTION_ENGINE_PORT, all of them
upstreams of Caddy, which probes each on /readyz and takes one that stops
answering out of rotation; an engine that exits leaves the others serving.
Ctrl-C (or SIGTERM) stops every process it started. A second run reuses
./var (database, master key, internal secret, demo token). Ports come from
the usual JUNCTION_* variables, so a second copy can run beside the first.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _port(env: dict[str, str], name: str, default: int) -> int:
    return int(env.get(name) or default)


def _secret_file(var: Path, name: str, make: str) -> str:
    path = var / name
    if not path.exists():
        path.write_text(make + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _wait(url: str, what: str, procs: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                sys.exit(f"make run: a process exited early while waiting for {what}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - local URL
                if resp.status < 500:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"make run: {what} did not come up at {url}")


MAX_ENGINES = 16


def _engine_count(env: dict[str, str]) -> int:
    raw = (env.get("ENGINES") or "1").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ENGINES:
        sys.exit(f"make run: ENGINES must be a whole number from 1 to {MAX_ENGINES}, got {raw!r}")
    return int(raw)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Ctrl-C and SIGTERM both stop everything, even when started from a shell
    # that made this process ignore SIGINT (a background job, say)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    env = dict(os.environ)
    var = Path(env.get("JUNCTION_VAR_DIR") or ROOT / "var").resolve()
    var.mkdir(parents=True, exist_ok=True)
    public = _port(env, "JUNCTION_PUBLIC_PORT", 8080)
    admin = _port(env, "JUNCTION_ADMIN_PORT", 8081)
    internal = _port(env, "JUNCTION_INTERNAL_PORT", 8082)
    engine = _port(env, "JUNCTION_ENGINE_PORT", 8090)
    engine_ports = [engine + i for i in range(_engine_count(env))]
    mock = _port(env, "JUNCTION_MOCK_PORT", 8100)
    env.update(
        {
            "JUNCTION_VAR_DIR": str(var),
            "JUNCTION_PUBLIC_PORT": str(public),
            "JUNCTION_ADMIN_PORT": str(admin),
            "JUNCTION_INTERNAL_PORT": str(internal),
            "JUNCTION_ENGINE_PORT": str(engine),
            "JUNCTION_CONTROL_URL": f"http://127.0.0.1:{internal}",
            "JUNCTION_ENGINE_UPSTREAMS": " ".join(f"127.0.0.1:{p}" for p in engine_ports),
            "JUNCTION_ENGINE_DISCOVERY": "static",
            "JUNCTION_ADMIN_UPSTREAM": f"127.0.0.1:{admin}",
            "JUNCTION_CONSOLE_DIR": str(ROOT / "services/console"),
            "JUNCTION_DEMO_OPENAI_URL": f"http://127.0.0.1:{mock}/v1",
            "JUNCTION_DEMO_MOCK_URL": f"http://127.0.0.1:{mock}",
            "JUNCTION_DEMO_TOKEN": _secret_file(
                var, "demo.token", "jk-demo-" + secrets.token_urlsafe(24)
            ),
            "JUNCTION_MOCK_KEY": _secret_file(var, "mock.key", "mock-" + secrets.token_urlsafe(16)),
        }
    )
    # the demo's provider is the mock on loopback: allowed explicitly (providers
    # elsewhere must have public addresses unless the operator lists theirs)
    env.setdefault("JUNCTION_EGRESS_ALLOW", "127.0.0.1/32")
    bin_dir = Path(sys.executable).parent

    def tool(name: str) -> str:
        return str(bin_dir / name)

    subprocess.run([tool("junction-control"), "migrate"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [tool("junction-control"), "apply", "-f", str(ROOT / "deploy/local/junction.yaml")],
        env=env,
        check=True,
        cwd=ROOT,
    )

    procs: list[subprocess.Popen[bytes]] = []
    engines: list[subprocess.Popen[bytes]] = []

    def start(*cmd: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        # own session: Ctrl-C reaches only this supervisor, which stops them in order
        proc = subprocess.Popen(cmd, env={**env, **(extra or {})}, cwd=ROOT, start_new_session=True)
        procs.append(proc)
        return proc

    try:
        start(tool("junction-mockllm"), "--port", str(mock), "--api-key", env["JUNCTION_MOCK_KEY"])
        start(tool("junction-control"), "serve")
        _wait(f"http://127.0.0.1:{mock}/_mock/health", "the mock LLM", procs)
        _wait(f"http://127.0.0.1:{internal}/healthz", "the control plane", procs)
        for port in engine_ports:
            engines.append(
                start(tool("junction-engine"), extra={"JUNCTION_ENGINE_PORT": str(port)})
            )
        for port in engine_ports:
            _wait(f"http://127.0.0.1:{port}/healthz", f"the engine on :{port}", procs)
        caddy = shutil.which("caddy")
        if caddy is None:
            sys.exit("make run: caddy is not installed (apt-get install caddy)")
        env.setdefault("JUNCTION_CADDY_ADMIN", "localhost:2019")
        start(caddy, "run", "--config", str(ROOT / "caddy/Caddyfile"), "--adapter", "caddyfile")
        _wait(f"http://127.0.0.1:{public}/", "Caddy", procs)
        _banner(public, env["JUNCTION_DEMO_TOKEN"], engine_ports)
        _supervise(procs, engines, engine_ports)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def _supervise(
    procs: list[subprocess.Popen[bytes]],
    engines: list[subprocess.Popen[bytes]],
    engine_ports: list[int],
) -> None:
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
        if any(p.poll() is not None for p in procs if p not in engines) or all(
            p.poll() is not None for p in engines
        ):
            print("make run: a process stopped; shutting the rest down", file=sys.stderr)
            return
        time.sleep(0.5)


def _banner(port: int, token: str, engine_ports: list[int]) -> None:
    base = f"http://127.0.0.1:{port}"
    engines = ", ".join(f":{p}" for p in engine_ports)
    print(
        f"""
Junction is running at {base}
  OpenAI-compatible API  {base}/v1
  admin API              {base}/api/v1
  demo token             {token}
  engines                {len(engine_ports)} behind Caddy ({engines})

For the README's snippets (the token is kept in var/demo.token):
  export JUNCTION_KEY={token}

curl:
  curl -s {base}/v1/chat/completions -H "Authorization: Bearer {token}" \\
    -H "Content-Type: application/json" \\
    -d '{{"model": "demo", "messages": [{{"role": "user", "content": "Hello"}}]}}'

Python (pip install openai):
  from openai import OpenAI
  client = OpenAI(base_url="{base}/v1", api_key="{token}")
  messages = [{{"role": "user", "content": "Hello"}}]
  reply = client.chat.completions.create(model="demo", messages=messages)
  print(reply.choices[0].message.content)
  for chunk in client.chat.completions.create(model="demo", messages=messages, stream=True):
      print(chunk.choices[0].delta.content or "", end="", flush=True)
  print()

Ctrl-C stops everything.
""",
        flush=True,
    )


if __name__ == "__main__":
    main()
