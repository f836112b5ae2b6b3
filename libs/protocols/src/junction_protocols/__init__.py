"""Wire formats of OpenAI, Anthropic and Gemini, and pure translators between them.

No I/O and no third-party dependencies: translators work on decoded JSON
dicts, ``sse`` frames and parses event streams, ``convert`` is the registry
the engine uses for every (client protocol, provider protocol) pair.
"""

from .convert import Converter, Protocol, get_converter, wants_usage
from .errors import (
    ConversionError,
    ProtocolError,
    SSEError,
    anthropic_error_body,
    error_for,
    gemini_error_body,
    openai_error_body,
    provider_error_message,
    redact,
)
from .sse import SSEDecoder, SSEEvent, encode_event, encode_json_event
from .streams import StreamConverter
from .usage import Usage, UsageTracker

__all__ = [
    "ConversionError",
    "Converter",
    "Protocol",
    "ProtocolError",
    "SSEDecoder",
    "SSEError",
    "SSEEvent",
    "StreamConverter",
    "Usage",
    "UsageTracker",
    "anthropic_error_body",
    "encode_event",
    "encode_json_event",
    "error_for",
    "gemini_error_body",
    "get_converter",
    "openai_error_body",
    "provider_error_message",
    "redact",
    "wants_usage",
]
