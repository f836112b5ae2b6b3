"""The one `.env` reader of every service: ``KEY=VALUE`` lines, comments and quotes.

The engine, the control plane and the mock LLM read the same file the same
way, so a value (the internal secret above all) cannot mean one thing to one
plane and another to the other. Understood: blank lines, ``# comment`` lines,
an optional ``export`` prefix, single- or double-quoted values (double quotes
understand ``\\n``, ``\\t``, ``\\"`` and ``\\\\``), and a trailing
`` # comment`` after an unquoted value (``a#b`` keeps its hash). Variables
are not expanded. The process environment wins over the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from junction_contracts.setting_values import SettingError

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


class EnvFileError(SettingError):
    """The `.env` file cannot be read or has a line that is not ``KEY=VALUE``."""


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The variables of the file at `path`; an empty dict if there is no such file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise EnvFileError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise EnvFileError(f"cannot read {path}: {exc.strerror}") from None
    return parse_env(text, source=str(path))


def environment(
    environ: Mapping[str, str],
    env_file: str | os.PathLike[str] | None,
    *,
    prefix: str | tuple[str, ...] = "JUNCTION_",
) -> dict[str, str]:
    """The variables of `env_file` (when given) overlaid by those of `environ` named `prefix…`.

    `prefix` may name several (the services read ``OTEL_*`` too).
    """
    env = read_env_file(env_file) if env_file else {}
    env.update({k: v for k, v in environ.items() if k.startswith(prefix)})
    return env


def parse_env(text: str, *, source: str = ".env") -> dict[str, str]:
    """Parse `.env` text into a dict; EnvFileError names the offending line."""
    values: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not sep or not _KEY_RE.match(key):
            raise EnvFileError(f"{source}:{number}: expected KEY=VALUE")
        values[key] = _value(rest.strip(), where=f"{source}:{number}")
    return values


def _value(rest: str, *, where: str) -> str:
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        end = _closing_quote(rest, quote)
        if end < 0:
            raise EnvFileError(f"{where}: unterminated {quote} quote")
        trailing = rest[end + 1 :].strip()
        if trailing and not trailing.startswith("#"):
            raise EnvFileError(f"{where}: unexpected text after the closing quote")
        inner = rest[1:end]
        return _unescape(inner) if quote == '"' else inner
    # an unquoted value ends at " #" (a comment), so "a#b" keeps its hash
    comment = re.search(r"\s#", rest)
    return (rest[: comment.start()] if comment else rest).strip()


def _closing_quote(text: str, quote: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\" and quote == '"':
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1


def _unescape(inner: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\" and i + 1 < len(inner):
            out.append(_ESCAPES.get(inner[i + 1], "\\" + inner[i + 1]))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)
