"""`make run`: the whole gateway on one machine, on the embedded defaults.

Starts the mock LLM, the control plane, the engines and Caddy; applies the
demo file; makes the console's first admin; prints how to call it and how to
log in. ENGINES=N (default 1, at most 16) starts N engine replicas on
consecutive ports from JUNCTION_ENGINE_PORT, all of them upstreams of Caddy,
which probes each on /readyz and takes one that stops answering out of
rotation; an engine that exits leaves the others serving. Everything listens
on 127.0.0.1 unless JUNCTION_PUBLIC_HOST opens Caddy wider. Ctrl-C (or
SIGTERM) stops every process it started and exits 0 (stack_processes.py).
A second run reuses ./var (database, master key, internal secret, demo
token, console login). Ports come from the usual JUNCTION_* variables, and
Caddy's admin socket follows the public port, so a second copy can run
beside the first.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from console_admin import ConsoleAdmin, ensure_console_admin
from stack_processes import Processes, Signals, Stopping, check_ports_free

ROOT = Path(__file__).resolve().parents[2]
# sun_path holds 108 bytes, the terminating NUL included
UNIX_PATH_MAX = 107


def _port(env: dict[str, str], name: str, default: int) -> int:
    return int(env.get(name) or default)


def _secret_file(var: Path, name: str, make: str) -> str:
    path = var / name
    if not path.exists():
        path.write_text(make + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


MAX_ENGINES = 16


def _engine_count(env: dict[str, str]) -> int:
    raw = (env.get("ENGINES") or "1").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ENGINES:
        sys.exit(f"make run: ENGINES must be a whole number from 1 to {MAX_ENGINES}, got {raw!r}")
    return int(raw)


def _caddy_admin(env: dict[str, str], var: Path, public: int) -> str:
    """Caddy's admin endpoint: JUNCTION_CADDY_ADMIN, else a socket of this copy's own.

    A socket under the var directory, named by the public port, is reachable
    by this user only and never shared by a second copy on other ports (a
    fixed localhost:2019 would be, and `caddy reload` or `caddy stop` would
    reach the wrong one).
    """
    if env.get("JUNCTION_CADDY_ADMIN"):
        return env["JUNCTION_CADDY_ADMIN"]
    path = var / f"caddy-admin-{public}.sock"
    if len(str(path)) > UNIX_PATH_MAX:
        path = Path(tempfile.gettempdir()) / f"junction-{os.getuid()}-caddy-{public}.sock"
    return f"unix/{path}"


def _reachable(public_host: str) -> str:
    """Where the banner and the readiness check reach Caddy, given its bind address."""
    first = public_host.split()[0]
    if first in ("0.0.0.0", "::", "[::]", "127.0.0.1"):
        return "127.0.0.1"
    return f"[{first}]" if ":" in first and not first.startswith("[") else first


def main() -> None:
    signals = Signals()
    signals.install()
    env = dict(os.environ)
    var = Path(env.get("JUNCTION_VAR_DIR") or ROOT / "var").resolve()
    var.mkdir(parents=True, exist_ok=True)
    processes = Processes(env, ROOT, signals)
    try:
        code = _run(env, var, processes)
    except Stopping:
        print("\nstopping…", flush=True)
        code = 0
    finally:
        processes.stop_all()
    sys.exit(code)


def _run(env: dict[str, str], var: Path, processes: Processes) -> int:
    public = _port(env, "JUNCTION_PUBLIC_PORT", 8080)
    public_host = (env.get("JUNCTION_PUBLIC_HOST") or "127.0.0.1").strip()
    admin = _port(env, "JUNCTION_ADMIN_PORT", 8081)
    internal = _port(env, "JUNCTION_INTERNAL_PORT", 8082)
    engine = _port(env, "JUNCTION_ENGINE_PORT", 8090)
    engine_ports = [engine + i for i in range(_engine_count(env))]
    mock = _port(env, "JUNCTION_MOCK_PORT", 8100)
    check_ports_free(
        [
            ("JUNCTION_PUBLIC_PORT", public),
            ("JUNCTION_ADMIN_PORT", admin),
            ("JUNCTION_INTERNAL_PORT", internal),
            *(("JUNCTION_ENGINE_PORT", p) for p in engine_ports),
            ("JUNCTION_MOCK_PORT", mock),
        ]
    )
    env.update(
        {
            "JUNCTION_VAR_DIR": str(var),
            "JUNCTION_PUBLIC_PORT": str(public),
            "JUNCTION_PUBLIC_HOST": public_host,
            "JUNCTION_ADMIN_PORT": str(admin),
            "JUNCTION_INTERNAL_PORT": str(internal),
            "JUNCTION_ENGINE_PORT": str(engine),
            "JUNCTION_CONTROL_URL": f"http://127.0.0.1:{internal}",
            "JUNCTION_ENGINE_UPSTREAMS": " ".join(f"127.0.0.1:{p}" for p in engine_ports),
            "JUNCTION_ENGINE_DISCOVERY": "static",
            "JUNCTION_ADMIN_UPSTREAM": f"127.0.0.1:{admin}",
            "JUNCTION_CADDY_ADMIN": _caddy_admin(env, var, public),
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

    caddy = shutil.which("caddy")
    if caddy is None:
        sys.exit("make run: caddy is not installed (apt-get install caddy)")
    processes.run_once(tool("junction-control"), "migrate", what="migrating the database")
    # that was the one migration step: `serve` only checks it found the schema it needs
    env["JUNCTION_MIGRATE_ON_START"] = "false"
    processes.run_once(
        tool("junction-control"),
        *("apply", "-f", str(ROOT / "deploy/local/junction.yaml")),
        what="applying deploy/local/junction.yaml",
    )

    key = env["JUNCTION_MOCK_KEY"]
    processes.start(
        tool("junction-mockllm"), "--host", "127.0.0.1", "--port", str(mock), "--api-key", key
    )
    processes.start(tool("junction-control"), "serve")
    processes.wait_http(f"http://127.0.0.1:{mock}/_mock/health", "the mock LLM")
    processes.wait_http(f"http://127.0.0.1:{internal}/healthz", "the control plane")
    admin_api = f"http://127.0.0.1:{admin}/api/v1"
    console = ensure_console_admin(var, processes, tool("junction-control"), admin_api)
    engines = [
        processes.start(tool("junction-engine"), extra={"JUNCTION_ENGINE_PORT": str(port)})
        for port in engine_ports
    ]
    for port in engine_ports:
        processes.wait_http(f"http://127.0.0.1:{port}/healthz", f"the engine on :{port}")
    processes.start(
        caddy, "run", "--config", str(ROOT / "caddy/Caddyfile"), "--adapter", "caddyfile"
    )
    base = f"http://{_reachable(public_host)}:{public}"
    processes.wait_http(f"{base}/", "Caddy")
    print(_banner(base, env["JUNCTION_DEMO_TOKEN"], var, engine_ports, console), flush=True)
    processes.supervise(engines, engine_ports)
    return 1


def _shown(path: Path) -> str:
    """`path` as the banner names it: relative to the checkout when it lies inside."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _banner(
    base: str, token: str, var: Path, engine_ports: list[int], console: ConsoleAdmin
) -> str:
    engines = ", ".join(f":{p}" for p in engine_ports)
    token_file = _shown(var / "demo.token")
    return f"""
Junction is running at {base}
  OpenAI-compatible API  {base}/v1
  admin API              {base}/api/v1
  console                {base}/
  console email          {console.email}
  console password       {console.password}
  demo token             {token}
  engines                {len(engine_ports)} behind Caddy ({engines})

The console login is kept in {_shown(console.path)}, the token in {token_file}.
For the README's snippets:
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
"""


if __name__ == "__main__":
    main()
