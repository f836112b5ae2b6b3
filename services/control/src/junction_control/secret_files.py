"""Secrets kept as files under the var directory (mode 0600).

On first start the control plane generates its master keyring and the
internal signing secret here, unless the environment provides them. A file
that other users could read is refused rather than silently trusted.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from junction_control.errors import ConfigError

SECRET_FILE_MODE = 0o600


def read_or_create(path: Path, generate: Callable[[], str], *, what: str) -> str:
    """The text of the secret file at `path`, creating it with `generate()` if absent."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    except FileExistsError:
        return read_secret_file(path, what=what)
    except OSError as exc:
        raise ConfigError(f"cannot create {what} file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(generate())
    return read_secret_file(path, what=what)


def read_secret_file(path: Path, *, what: str) -> str:
    """The text of an existing secret file, refusing one readable by group or others."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{what} file {path} is accessible by other users "
                f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
            )
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {path}: {exc.strerror}") from None


def write_secret_file(path: Path, text: str, *, what: str) -> None:
    """Replace the secret file at `path` atomically, keeping mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_FILE_MODE)
        os.fchmod(fd, SECRET_FILE_MODE)  # a leftover tmp file may carry a wider mode
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {what} file {path}: {exc.strerror}") from None
