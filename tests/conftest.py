"""Shared fixtures: which real services are reachable, and whether they must be."""

from __future__ import annotations

import os

import pytest


def services_required() -> bool:
    """In CI every real service is required: a missing one fails instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str) -> None:
    """Skip locally, fail in CI."""
    if services_required():
        pytest.fail(f"{what} is required when CI=true", pytrace=False)
    pytest.skip(f"{what} is not reachable")
