"""Defensive readers for decoded JSON: a wrong type reads as empty."""

from __future__ import annotations

from typing import Any

__all__ = ["as_dict", "as_list"]


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is an array, else an empty list."""
    return value if isinstance(value, list) else []
