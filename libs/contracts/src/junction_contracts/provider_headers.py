"""Extra upstream headers of a provider: which names are refused, and how values travel.

A tenant admin may give a provider extra headers (an OpenRouter referer, a
proxy's routing key). Their values may be secrets, so they are kept like
provider keys: encrypted at rest, sealed in routes. Some names are never
accepted, because the gateway sets them itself or they change how the
request is framed or routed:

- ``host``, ``content-length``, ``transfer-encoding``, ``expect`` and the
  hop-by-hop headers (``connection``, ``keep-alive``, ``te``, ``trailer``,
  ``upgrade``, ``proxy-connection``) would let a header smuggle a second
  request or redirect this one;
- ``authorization``, ``proxy-authorization`` and the providers' own key
  headers (``x-api-key``, ``x-goog-api-key``, ``api-key``) carry the
  credential, which only a credential may set.

The control plane refuses these names on every write; the engine also drops
them when it builds a request, whatever a route says. Both read this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from junction_contracts.errors import SealError
from junction_contracts.sealing import seal, unseal

__all__ = [
    "REFUSED_HEADER_NAMES",
    "header_problem",
    "open_headers",
    "seal_headers",
    "sealing_context",
]

REFUSED_HEADER_NAMES = frozenset(
    {
        "host",
        "authorization",
        "proxy-authorization",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "x-api-key",
        "x-goog-api-key",
        "api-key",
    }
)
# RFC 9110 token characters
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
# field values: visible characters, spaces and tabs; no CR, LF, NUL or other controls
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_problem(name: str, value: str) -> tuple[str, str] | None:
    """Why (``code``, message) the header may not be sent upstream; None when it may.

    ``header_not_allowed``: a refused name (above). ``invalid_header``: a name
    that is not an HTTP token, or a value with CR, LF, NUL or another control
    character. Messages name the header, never quote its value.
    """
    if not _TOKEN.fullmatch(name):
        return "invalid_header", f"header name {name!r} is not a valid HTTP header name"
    if name.lower() in REFUSED_HEADER_NAMES:
        return (
            "header_not_allowed",
            f"header {name!r} is set by the gateway itself and cannot be given as an extra header",
        )
    if _BAD_VALUE.search(value):
        return (
            "invalid_header",
            f"header {name!r} has a line break or control character in its value",
        )
    return None


def sealing_context(provider_id: str) -> str:
    """What a provider's sealed headers are bound to (no other value opens in their place)."""
    return f"provider-headers:{provider_id}"


def seal_headers(sealing_key: bytes, provider_id: str, headers: Mapping[str, str]) -> str:
    """`headers` sealed as one value for a route ("" when there are none)."""
    if not headers:
        return ""
    text = json.dumps(dict(headers), separators=(",", ":"), sort_keys=True)
    return seal(sealing_key, text, context=sealing_context(provider_id))


def open_headers(sealing_key: bytes, provider_id: str, sealed: str) -> dict[str, str]:
    """The headers inside a value of `seal_headers`; SealError if it does not open."""
    if not sealed:
        return {}
    text = unseal(sealing_key, sealed, context=sealing_context(provider_id))
    try:
        opened = json.loads(text)
    except ValueError:
        raise SealError("sealed headers are not an object") from None
    if not isinstance(opened, dict):
        raise SealError("sealed headers are not an object")
    return {str(k): str(v) for k, v in opened.items()}
