"""The demo's console login: one platform admin, made on the first `make run`.

It is also the owner of the demo tenant, so that tenant has one like any other.

The password is generated once and kept in `<var>/console-admin.json`
(0600); later runs read it back, so the login printed in the banner stays
the same, and make the user again only if that login fails (a database
removed since, say). The file is written before the user is created: a run
stopped in between leaves a password the next run still creates the user
with, never a user whose password is lost. The user is made by
`junction-control user create`, the same step Docker Compose's
`bootstrap-admin` runs.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack_processes import Processes

FILE_NAME = "console-admin.json"
EMAIL = "admin@junction.local"
DEMO_TENANT = "demo"  # deploy/local/junction.yaml's tenant
# handed to `user create --password-env` only; never a setting of its own
_PASSWORD_ENV = "MAKE_RUN_CONSOLE_PASSWORD"


@dataclass(frozen=True)
class ConsoleAdmin:
    email: str
    password: str
    path: Path


def _load_or_make(var: Path) -> tuple[ConsoleAdmin, bool]:
    """The stored login, or a new one written to a 0600 file; whether it is new."""
    path = var / FILE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ConsoleAdmin(str(data["email"]), str(data["password"]), path), False
    admin = ConsoleAdmin(EMAIL, secrets.token_urlsafe(18), path)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"email": admin.email, "password": admin.password}, out, indent=2)
        out.write("\n")
    return admin, True


def _can_log_in(admin_api: str, admin: ConsoleAdmin) -> bool:
    """Whether the stored login works (the session it opens is closed again)."""
    body = json.dumps({"email": admin.email, "password": admin.password}).encode()
    try:
        answer = _post(f"{admin_api}/auth/login", body, {"Content-Type": "application/json"})
        _post(f"{admin_api}/auth/logout", b"", {"Authorization": f"Bearer {answer['token']}"})
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return False
        sys.exit(f"make run: the admin API answered a login with {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        sys.exit(f"make run: the admin API did not answer a login ({exc})")
    return True


def _post(url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """POST to the local admin API; its JSON answer ({} for none)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - local URL
        raw = resp.read()
    answer: dict[str, Any] = json.loads(raw) if raw else {}
    return answer


def ensure_console_admin(
    var: Path, processes: Processes, control: str, admin_api: str
) -> ConsoleAdmin:
    """The console's platform admin, created in the database if its login fails.

    Asked of the running control plane first: a login is a few milliseconds,
    where the CLI costs a process start, so only the first run pays for it.
    """
    admin, new = _load_or_make(var)
    if not new and _can_log_in(admin_api, admin):
        return admin
    code, err = processes.run_once(
        control,
        *("user", "create", "--platform-admin", "--name", "Demo admin"),
        # the demo tenant's owner too: a tenant always has one
        *("--tenant", DEMO_TENANT, "--role", "owner"),
        *("--email", admin.email, "--password-env", _PASSWORD_ENV),
        what="creating the console admin",
        extra={_PASSWORD_ENV: admin.password},
        capture=True,
    )
    if code != 0 and "already exists" not in err:
        sys.exit(f"make run: creating the console admin failed: {err.strip()}")
    if code != 0:
        # the user is there with another password: changed in the console, or
        # set by a run whose file was since removed
        print(
            f"make run: {admin.email} exists with a password other than the one in "
            f"{admin.path}; log in with yours, or remove the database to start afresh",
            file=sys.stderr,
            flush=True,
        )
    return admin
