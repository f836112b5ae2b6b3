"""Refusals of a provider write that carry a stable code.

They are InvalidInput, so the CLI and ``apply -f`` report them like any
other mistake (exit code 2, the message naming the place); the admin API
answers them 422 with their own ``code`` and ``field`` instead of the
generic ``invalid_request``:

    header_not_allowed  an extra header the gateway sets itself (host,
                        authorization, a provider key header, hop-by-hop...)
    invalid_header      a name that is not an HTTP token, a value with CR,
                        LF, NUL or another control character
    key_required        the base URL changes but not every key is entered again
    headers_required    the base URL changes but the extra headers are not
                        entered again
"""

from __future__ import annotations

from junction_control.errors import InvalidInput


class ProviderRefusal(InvalidInput):
    """A provider write refused for a reason with its own stable `code`."""

    def __init__(self, code: str, message: str, *, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
