"""Reading what a provider answered: usage, error messages, Retry-After.

Pure helpers of the attempt and its verdicts; nothing here does I/O,
routing or holds state.
"""

from __future__ import annotations

import email.utils
import json
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


def retry_after_hint(
    protocol: Protocol, header: Callable[[str], str | None], body: bytes
) -> str | None:
    """When the provider asks to be retried, as a Retry-After value (seconds or a date).

    ``retry-after-ms`` (OpenAI and Azure OpenAI) is the most precise and wins;
    then the standard ``Retry-After``; a Gemini error carries it in its body
    instead, as a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37.5s"``).
    """
    millis = header("retry-after-ms")
    if millis:
        try:
            seconds = float(millis) / 1000
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds):
            return repr(seconds)
    standard = header("retry-after")
    if standard or protocol != "gemini" or b"RetryInfo" not in body:
        return standard
    return _gemini_retry_delay(body)


def _gemini_retry_delay(body: bytes) -> str | None:
    try:
        details = json.loads(body)["error"]["details"]
    except (ValueError, KeyError, TypeError):
        return None
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith(
            "google.rpc.RetryInfo"
        ):
            continue
        delay = detail.get("retryDelay")
        # a protobuf Duration in JSON: decimal seconds with an "s" suffix
        if isinstance(delay, str) and delay.endswith("s"):
            return delay[:-1] or None
    return None


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
