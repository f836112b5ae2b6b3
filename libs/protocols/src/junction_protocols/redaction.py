"""Scrub provider error text before a client sees it.

Provider messages may echo our provider key, the upstream URL or an internal
host name. ``redact`` replaces API keys (``sk-…``, ``sk-ant-…``, ``AIza…``),
bearer tokens, secret-looking URL query values (``key=``, ``api_key=``,
``token=``…), URLs, host names under common public and private suffixes and
IPv4 addresses. Ordinary prose, model names and parameter paths such as
``messages.0.content`` are left alone.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

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
