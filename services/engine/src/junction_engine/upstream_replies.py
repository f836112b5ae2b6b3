"""Reading what a provider answered: usage, error messages, Retry-After.

Pure helpers of the attempt and its verdicts; nothing here does I/O,
routing or holds state.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable

import httpx

from junction_engine.providers import Protocol
from junction_protocols.redaction import MARK
from junction_protocols.usage import Usage, from_anthropic, from_gemini, from_openai

_MAX_RETRY_AFTER = 300.0
# what a translator raises on provider output it cannot read
MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)


def retry_after_seconds(value: str | None) -> float | None:
    """Parse Retry-After (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def usage_in(protocol: Protocol, data: dict[str, object]) -> Usage:
    """Usage from a provider's own answer, in its own protocol."""
    if protocol == "openai":
        return from_openai(data.get("usage"))
    if protocol == "anthropic":
        return from_anthropic(data.get("usage"))
    return from_gemini(data.get("usageMetadata"))


def scrub(message: str, base_url: str, redact_key: Callable[[str], str]) -> str:
    """Remove what the provider may echo of our own secrets and addresses.

    `redact_key` removes the call's credential (a `SecretRedactor`: the key
    whole, without its vendor prefix, any fragment of 8 or more characters,
    base64, percent-encoded and hex); the base URL and its host go as they are.
    """
    message = redact_key(message)
    host = httpx.URL(base_url).host
    for address in (base_url, host):
        if address and len(address) >= 4:
            message = message.replace(address, MARK)
    return message
