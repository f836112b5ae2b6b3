"""The plane split holds: the engine never pulls in the database or RBAC stack."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires

from packaging.requirements import Requirement

FORBIDDEN = {"sqlmodel", "sqlalchemy", "asyncpg", "aiosqlite", "casbin", "pycasbin", "alembic"}


def _closure(package: str) -> set[str]:
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in requires(name) or []:
            req = Requirement(text)
            # markers decide: other Pythons, and extras nobody asked for, do not count
            if req.marker is None or req.marker.evaluate({"extra": "standard"}):
                todo.append(req.name.lower().replace("_", "-"))
    return seen


def test_engine_dependency_closure_has_no_database_or_rbac_package() -> None:
    closure = _closure("junction-engine")
    assert "starlette" in closure
    assert "httpx" in closure
    assert closure.isdisjoint(FORBIDDEN), closure & FORBIDDEN


def test_importing_the_engine_loads_no_database_or_rbac_module() -> None:
    code = (
        "import sys, junction_engine.app, junction_engine.__main__\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_check_catches_a_forbidden_import() -> None:
    # guard against a check that cannot fail: the control plane does load them
    code = "import sys, junction_control.db\nprint('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
