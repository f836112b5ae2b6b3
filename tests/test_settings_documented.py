"""Every setting the code reads is in the README's table, and the table names no other.

The names are read from the sources themselves (every `JUNCTION_…` a service,
the local launcher, the demo setup, the Caddyfile or a snippet it imports
mentions, `{$JUNCTION_…}` and `{env.JUNCTION_…}` placeholders included), so a
new setting without a row, or a row left behind by a removed one, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"\bJUNCTION_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")
ROW = re.compile(r"^\| `(JUNCTION_[A-Z0-9_]+)` \|", re.MULTILINE)
# a settings module's readers take the name without its prefix: number("ROUTE_TTL_SECONDS", 30)
SHORT = re.compile(r"""\b[a-z_]+\(\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"[,)]""")
SOURCES = (
    "services/*/src/**/*.py",
    "deploy/local/*",
    "caddy/Caddyfile",
    "caddy/engines/*.caddy",
)


def read_by_code() -> set[str]:
    names: set[str] = set()
    for pattern in SOURCES:
        for path in ROOT.glob(pattern):
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            names |= set(NAME.findall(text))
            if path.name == "settings.py":
                names |= {
                    short if short.startswith("JUNCTION_") else f"JUNCTION_{short}"
                    for short in SHORT.findall(text)
                }
    return names


def documented() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(ROW.findall(section))


def test_every_setting_the_code_reads_has_a_row_in_the_readme() -> None:
    missing = read_by_code() - documented()
    assert not missing, f"settings without a row in README's Configuration: {sorted(missing)}"


def test_every_row_of_the_readme_names_a_setting_the_code_reads() -> None:
    stale = documented() - read_by_code()
    assert not stale, f"README rows for settings no code reads: {sorted(stale)}"


def test_the_sources_are_found() -> None:
    # a glob that matched nothing would make both checks above pass vacuously
    names = read_by_code()
    assert {"JUNCTION_DATABASE_URL", "JUNCTION_ENGINE_PORT", "JUNCTION_PUBLIC_PORT"} <= names
    # read only in the snippets the Caddyfile imports (caddy/engines/*.caddy)
    assert {"JUNCTION_CADDY_HEALTH_INTERVAL", "JUNCTION_ENGINE_DNS_NAME"} <= names


def test_a_caddy_placeholder_of_either_form_is_read() -> None:
    placeholders = "{$JUNCTION_ONE:1s} {env.JUNCTION_TWO} {$JUNCTION_THREE}"
    assert set(NAME.findall(placeholders)) == {
        "JUNCTION_ONE",
        "JUNCTION_TWO",
        "JUNCTION_THREE",
    }
