"""Rules for the natural names operators give to tenants, providers, models and tokens."""

from __future__ import annotations

import re

from junction_control.errors import InvalidInput

# tenants, providers, keys and tokens: a slug
_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# public model names also take "/" and ":" (e.g. "openai/gpt-4o", "llama3:8b")
_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")


def check_slug(value: str, *, what: str) -> str:
    """`value` if it is a valid slug name, else InvalidInput naming `what`."""
    if not _SLUG_RE.match(value):
        raise InvalidInput(
            f"{what} name {value!r} must be 1-100 characters of letters, digits, '.', '_' or '-'"
        )
    return value


def check_model_name(value: str, *, what: str = "model") -> str:
    """`value` if it is a valid model name, else InvalidInput naming `what`."""
    if not _MODEL_RE.match(value):
        raise InvalidInput(
            f"{what} name {value!r} must be 1-200 characters of letters, digits or ._:/@+-"
        )
    return value


def check_upstream_model(value: str) -> str:
    """An upstream model name is the provider's business: any printable text without spaces."""
    if not 1 <= len(value) <= 200 or not value.isprintable() or any(c.isspace() for c in value):
        raise InvalidInput(
            f"upstream model name {value!r} must be 1-200 printable characters without spaces"
        )
    return value
