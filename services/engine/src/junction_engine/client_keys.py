"""Reading the client's key from a request. The raw key never leaves this process."""

from __future__ import annotations

import hashlib

from starlette.requests import Request


def read_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer`, `x-api-key`, `x-goog-api-key` or `?key=`."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    for header in ("x-api-key", "x-goog-api-key"):
        value = request.headers.get(header, "").strip()
        if value:
            return value
    value = request.query_params.get("key", "").strip()
    return value or None


def hash_key(key: str) -> str:
    """SHA-256 hex of a key: the only form sent to the control plane or cached."""
    return hashlib.sha256(key.encode()).hexdigest()
