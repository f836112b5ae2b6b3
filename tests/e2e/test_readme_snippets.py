"""The README's "Calling it" snippets work as printed, against the demo setup of `make run`.

Every fenced `sh` and `python` block of that section is run as a newcomer
would paste it (only the address is changed to this test's Caddy), after the
demo file `deploy/local/junction.yaml` is applied exactly as `make run` does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support.stack import ROOT, Stack

pytestmark = pytest.mark.e2e

README_URL = "http://127.0.0.1:8080"
BLOCK = re.compile(r"```(sh|python)\n(.*?)```", re.DOTALL)


def calling_it() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Calling it", 1)[1].split("\n## ", 1)[0]
    return BLOCK.findall(section)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    stack = Stack(workdir=tmp_path_factory.mktemp("readme"))
    demo_env = {
        "JUNCTION_DEMO_OPENAI_URL": f"{stack.mock_url}/v1",
        "JUNCTION_DEMO_MOCK_URL": stack.mock_url,
    }
    try:
        stack.start_mock()
        assert stack.run_cli("migrate").returncode == 0
        applied = stack.run_cli(
            "apply", "-f", str(ROOT / "deploy/local/junction.yaml"), env=stack.env() | demo_env
        )
        assert applied.returncode == 0, applied.stderr
        stack.start_control()
        stack.start_engine()
        stack.start_caddy()
        # where `make run` keeps the demo token, relative to the snippets' directory
        (stack.workdir / "var").mkdir(exist_ok=True)
        (stack.workdir / "var" / "demo.token").write_text(stack.demo_token + "\n")
        yield stack
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop()


def test_the_section_has_a_snippet_for_each_sdk() -> None:
    blocks = calling_it()
    python = "\n".join(code for kind, code in blocks if kind == "python")
    for sdk in ("from openai import", "from anthropic import", "from google import genai"):
        assert sdk in python
    assert any("export JUNCTION_KEY=" in code for kind, code in blocks if kind == "sh")


@pytest.mark.parametrize("number", range(len(calling_it())))
def test_each_snippet_runs_as_printed(demo: Stack, number: int) -> None:
    kind, code = calling_it()[number]
    code = code.replace(README_URL, demo.public_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNCTION_")}
    if "export JUNCTION_KEY=" in code:
        # the export line, then proof that it set the key
        script = code + '\nprintf "%s" "$JUNCTION_KEY"\n'
        done = subprocess.run(
            ["bash", "-euc", script], cwd=demo.workdir, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == demo.demo_token
        return
    env["JUNCTION_KEY"] = demo.demo_token
    command = ["bash", "-euc", code] if kind == "sh" else [sys.executable, "-c", code]
    done = subprocess.run(
        command, cwd=demo.workdir, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.strip()
    assert out, "a snippet should print what it got"
    if kind == "sh":
        answer = json.loads(out)
        assert answer["choices"][0]["message"]["content"]
    else:
        # every value a snippet prints came back (a missing one prints None or nothing)
        lines = out.splitlines()
        assert all(line.strip() and line != "None" for line in lines), out
        assert "You said: Hello" in out  # the mock's answer, through the gateway


def test_the_snippets_find_the_token_where_make_run_keeps_it() -> None:
    # the path the snippets read is the one `make run` writes
    run = (ROOT / "deploy/local/run.py").read_text(encoding="utf-8")
    assert '"demo.token"' in run
    assert any("var/demo.token" in code for _, code in calling_it())
    assert Path(ROOT / "deploy/local/junction.yaml").exists()
