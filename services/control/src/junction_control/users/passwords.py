"""Password hashing: argon2id through argon2-cffi, with its default (RFC 9106 low-memory) cost."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from junction_control.errors import InvalidInput

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024

_hasher = PasswordHasher()
# verified against when the email is unknown, so both paths cost one argon2 run
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def check_password(password: str) -> str:
    """`password` if it is long enough (and not absurdly long), else InvalidInput."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput(
            f"a password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of `password` (PHC string, salt included)."""
    return _hasher.hash(check_password(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; `password_hash=None` burns the same time and says no."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
