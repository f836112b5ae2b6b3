"""Who writes: an admin API user, or an operator at a shell (the CLI, ``apply -f``).

Every audit row names its actor. API rows carry the user's id; shell rows
have no admin user, so they say which way they came in (``cli``, ``apply``)
and the OS account that ran the command, when the platform can tell.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

MAX_OS_USER_CHARS = 64


@dataclass(frozen=True, slots=True)
class Actor:
    """The author of a write, for the audit trail."""

    user_id: str | None = None
    via: str = "api"  # api | cli | apply
    os_user: str | None = None

    @classmethod
    def api(cls, user_id: str) -> Actor:
        """An admin API user."""
        return cls(user_id=user_id, via="api")

    @classmethod
    def shell(cls, via: str) -> Actor:
        """The operator running a command (`via` is ``cli`` or ``apply``)."""
        return cls(via=via, os_user=os_user())

    def details(self) -> dict[str, Any]:
        """What an audit row says of its actor beyond the user id."""
        found: dict[str, Any] = {"via": self.via}
        if self.os_user:
            found["os_user"] = self.os_user
        return found


def os_user() -> str | None:
    """The login name of the process, or None where the platform cannot say."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError, ImportError):
        # no passwd entry (containers running as an arbitrary uid), no pwd module
        return None
    return name[:MAX_OS_USER_CHARS] or None
