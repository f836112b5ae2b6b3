"""Scrub provider error text before a client, a log line or telemetry sees it.

Two tools, for two questions:

- ``redact(text)`` knows nothing about our secrets: it replaces what *looks*
  like one. API keys (``sk-…``, ``sk-ant-…``, ``AIza…``), bearer tokens,
  secret-looking URL query values (``key=``, ``api_key=``, ``token=``…), URLs,
  host names under common public and private suffixes and IPv4 addresses.
  Ordinary prose, model names and parameter paths such as
  ``messages.0.content`` are left alone.
- ``SecretRedactor(key)`` knows the one credential that was used and removes
  every trace of it a provider may echo: the whole key, the key without its
  vendor prefix, any fragment of 8 or more characters (a message cut short,
  a key split over two words), its standard and URL-safe base64 forms (also
  inside a longer blob such as ``user:key`` basic auth: each of the three byte
  alignments is covered), its percent-encoded forms and its hex form.

``SecretRedactor`` is built once per credential (building it costs a few
thousand set insertions); a call costs one regex scan of the text and one set
lookup per character inside runs of the key's own alphabet: linear, however
long the text.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, quote_plus

__all__ = ["MARK", "MIN_FRAGMENT", "SecretRedactor", "redact", "without_vendor_prefix"]

#: what every removed trace of a credential becomes
MARK = "[redacted]"
#: the shortest run of a credential's characters that is removed wherever it appears
MIN_FRAGMENT = 8
# a shorter whole key, or a short key body, is still removed where it stands
_MIN_EXACT = 4

_KEYS = re.compile(
    r"\bsk-ant-[A-Za-z0-9_\-]{16,}"
    r"|\bsk-[A-Za-z0-9_\-]{16,}"
    r"|\bAIza[0-9A-Za-z_\-]{30,}"
    r"|\b(?:xai|gsk|pk|rk)-[A-Za-z0-9_\-]{16,}"
)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]+", re.IGNORECASE)
_SECRET_PARAM = re.compile(
    r"(?i)\b((?:key|api[_-]?key|access[_-]?token|token|sig|signature|x-goog-api-key)=)[^&\s\"'<>]+"
)
_HEADER_SECRET = re.compile(r"(?i)\b(x-api-key|x-goog-api-key|api-key)(\s*[:=]\s*)[^\s,;\"']+")
_URL = re.compile(r"\b(?:https?|wss?)://[^\s\"'<>)\]]+", re.IGNORECASE)
_HOST = re.compile(
    r"\b(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:com|net|org|io|ai|dev|app|cloud|co|us|eu|uk|de|fr|jp|cn|internal|local|lan|svc|cluster)"
    r"(?::\d{1,5})?\b",
    re.IGNORECASE,
)
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b")
_LOCALHOST = re.compile(r"\blocalhost(?::\d{1,5})?\b", re.IGNORECASE)

# vendor prefixes that carry no secret; the longest that fits is stripped first
_VENDOR_PREFIXES = (
    "sk-ant-api03-",
    "sk-ant-admin01-",
    "sk-ant-",
    "sk-proj-",
    "sk-svcacct-",
    "sk-admin-",
    "sk-",
    "AIza",
    "xai-",
    "gsk_",
    "ya29.",
)
# a generic prefix: a chain of short words, each ending in a dash (``org-team-``)
_WORD_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9]{0,11}-")


def redact(text: str) -> str:
    """Return ``text`` with keys, tokens, URLs and host names replaced by placeholders."""
    text = _KEYS.sub("[redacted-key]", text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    text = _HEADER_SECRET.sub(r"\1\2[redacted]", text)
    text = _SECRET_PARAM.sub(r"\1[redacted]", text)
    text = _URL.sub("[url]", text)
    text = _HOST.sub("[host]", text)
    text = _IPV4.sub("[host]", text)
    return _LOCALHOST.sub("[host]", text)


def without_vendor_prefix(key: str) -> list[str]:
    """Every body of `key` left once a vendor prefix is taken off, longest first.

    ``sk-ant-api03-XYZ`` gives ``XYZ`` (a known prefix) and also ``ant-api03-XYZ``
    and ``api03-XYZ`` (the generic chain of dash-ended words): a provider may
    quote the key from any of those points.
    """
    bodies: list[str] = []
    for prefix in _VENDOR_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            bodies.append(key[len(prefix) :])
            break
    rest = key
    while (match := _WORD_PREFIX.match(rest)) is not None and match.end() < len(rest):
        rest = rest[match.end() :]
        bodies.append(rest)
    return sorted(set(bodies), key=len, reverse=True)


def _base64_cores(raw: bytes) -> list[str]:
    """The base64 characters that depend on `raw` alone, at each of the three alignments.

    Whatever bytes precede `raw` in a longer blob (``user:`` in basic auth),
    `raw` starts at offset 0, 1 or 2 of a 3-byte group; the characters wholly
    made of `raw`'s bits are then the same as in ``b64(pad + raw)`` for a pad
    of that length.
    """
    cores: list[str] = []
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode()
        start = -(-pad * 8 // 6)  # the first character made only of raw's bits
        end = (pad + len(raw)) * 8 // 6  # past the last one
        texts = [encoded[start:end], encoded] if pad == 0 else [encoded[start:end]]
        for text in texts:
            cores += (text, text.replace("+", "-").replace("/", "_"))
    return cores


def _percent_forms(key: str) -> list[str]:
    forms = {quote(key, safe=""), quote(key), quote_plus(key), quote_plus(key, safe="")}
    # some encoders write the escapes in lower case
    lower = {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in forms}
    return sorted((forms | lower) - {key})


class SecretRedactor:
    """Removes every trace of one credential's key from a text (see the module docstring)."""

    __slots__ = ("_exact", "_grams", "_runs")

    def __init__(self, key: str) -> None:
        sources: list[str] = []
        exact: set[str] = set()
        # a key shorter than that cannot be removed without eating ordinary words
        if len(key) >= _MIN_EXACT:
            raw = key.encode()
            sources = [key, *_percent_forms(key), raw.hex(), raw.hex().upper()]
            sources += _base64_cores(raw)
            exact.update(f for f in sources if len(f) < MIN_FRAGMENT)
            # every body of MIN_FRAGMENT or more is already among the fragments
            bodies = without_vendor_prefix(key)
            exact.update(b for b in bodies if _MIN_EXACT <= len(b) < MIN_FRAGMENT)
        grams = {
            source[i : i + MIN_FRAGMENT]
            for source in sources
            for i in range(len(source) - MIN_FRAGMENT + 1)
        }
        alphabet = sorted({c for gram in grams for c in gram})
        self._grams = frozenset(grams)
        self._runs = (
            re.compile("[" + "".join(re.escape(c) for c in alphabet) + f"]{{{MIN_FRAGMENT},}}")
            if alphabet
            else None
        )
        # longest first, so a short form never splits a longer one
        self._exact = tuple(sorted(exact, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        """`text` with every trace of the secrets replaced by ``MARK``."""
        if self._runs is not None:
            text = self._fragments_removed(text)
        for form in self._exact:
            if form in text:
                text = text.replace(form, MARK)
        return text

    def _fragments_removed(self, text: str) -> str:
        assert self._runs is not None
        grams, width = self._grams, MIN_FRAGMENT
        spans: list[tuple[int, int]] = []
        for run in self._runs.finditer(text):
            start, stop = run.span()
            open_at = close_at = -1
            for i in range(start, stop - width + 1):
                if text[i : i + width] not in grams:
                    continue
                # overlapping matches widen one span to the whole echoed run
                if i <= close_at:
                    close_at = i + width
                else:
                    if open_at >= 0:
                        spans.append((open_at, close_at))
                    open_at, close_at = i, i + width
            if open_at >= 0:
                spans.append((open_at, close_at))
        if not spans:
            return text
        out: list[str] = []
        at = 0
        for start, stop in spans:
            out += (text[at:start], MARK)
            at = stop
        out.append(text[at:])
        return "".join(out)
