"""Typed, bounded readers of settings, shared by every service.

Each reader takes the merged environment (see `envfile.environment`), one
variable name, its default and what is allowed, and returns the value or
raises SettingError with one line naming the variable and the allowed values:
``JUNCTION_MAX_ATTEMPTS must be an integer from 1 to 10 (got '0.5')``. The
service's entry point prints that line and exits with status 2, so a bad
value fails at start, never later with a traceback. An empty value means the
default, as an unset one does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")
_SHOWN_CHARS = 60


class SettingError(ValueError):
    """A setting with a value that is not allowed; the process refuses to start."""


def refuse(name: str, rule: str, raw: str | None = None) -> SettingError:
    """The error for `name`; `raw` is shown unless None (never pass a secret)."""
    if raw is None:
        return SettingError(f"{name} {rule}")
    shown = raw if len(raw) <= _SHOWN_CHARS else raw[:_SHOWN_CHARS] + "…"
    return SettingError(f"{name} {rule} (got {shown!r})")


def integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole number from `low` to `high`."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not _INTEGER.match(raw) or not low <= int(raw) <= high:
        raise refuse(name, f"must be an integer from {low} to {high}", raw)
    return int(raw)


def number(
    env: Mapping[str, str],
    name: str,
    default: float,
    low: float,
    high: float,
    *,
    above_low: bool = False,
) -> float:
    """A finite number from `low` (excluded when `above_low`) to `high`."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    in_range = (low < value if above_low else low <= value) and value <= high
    if "_" in raw or not math.isfinite(value) or not in_range:
        span = f"above {low:g} and at most {high:g}" if above_low else f"from {low:g} to {high:g}"
        raise refuse(name, f"must be a number {span}", raw)
    return value


def seconds(env: Mapping[str, str], name: str, default: float, high: float) -> float:
    """A duration in seconds, more than zero and at most `high`."""
    return number(env, name, default, 0.0, high, above_low=True)


def choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed` (case-insensitive), returned in lower case."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() not in allowed:
        raise refuse(name, f"must be one of {', '.join(allowed)}", raw)
    return raw.lower()


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """True or false: true/yes/on/1 or false/no/off/0."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in _ON:
        return True
    if raw.lower() in _OFF:
        return False
    raise refuse(name, "must be true or false (also on/off, yes/no, 1/0)", raw)


def log_level(env: Mapping[str, str], name: str) -> str:
    """A standard log level name, lower case."""
    return choice(env, name, "info", LOG_LEVELS)


def host(env: Mapping[str, str], name: str, default: str) -> str:
    """A bind address or host name: printable, without spaces, at most 253 characters."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if len(raw) > 253 or any(c.isspace() or not c.isprintable() or c in "/@" for c in raw):
        raise refuse(name, "must be a host name or an IP address", raw)
    return raw


def label(env: Mapping[str, str], name: str, default: str, *, max_chars: int = 200) -> str:
    """A short printable name (no control characters)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if len(raw) > max_chars or not raw.isprintable():
        raise refuse(name, f"must be at most {max_chars} printable characters", raw)
    return raw


def url(
    env: Mapping[str, str],
    name: str,
    default: str | None,
    schemes: tuple[str, ...],
    *,
    secret: bool = False,
) -> str | None:
    """A URL with one of `schemes` and a host (or a path for ``unix``).

    URLs that may carry a password (`secret`) are never repeated in the error.
    """
    raw = env.get(name, "").strip()
    if not raw:
        return default
    scheme, sep, rest = raw.partition("://")
    if (
        not sep
        or scheme.lower() not in schemes
        or not rest.strip("/")
        or any(c.isspace() or not c.isprintable() for c in raw)
    ):
        rule = "must be a URL starting with " + " or ".join(f"{s}://" for s in schemes)
        raise refuse(name, rule, None if secret else raw)
    return raw


def directory(env: Mapping[str, str], name: str, default: str) -> Path:
    """A directory path: it may not exist yet, but it must not name a file."""
    raw = env.get(name, "").strip() or default
    path = Path(raw).expanduser()
    try:
        a_file = path.exists() and not path.is_dir()
    except (OSError, ValueError):  # a name too long, a NUL byte
        raise refuse(name, "must be a usable directory path", raw) from None
    if a_file:
        raise refuse(name, "must be a directory (this path is a file)", raw)
    return path
