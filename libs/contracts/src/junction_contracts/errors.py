"""Errors of the contract package.

ContractError      a payload does not match the schema version we speak
SignatureError     an internal call is unsigned, badly signed, stale or replayed
SealError          a sealed provider key cannot be opened
"""


class ContractError(ValueError):
    """A payload that does not follow the contract."""


class SignatureError(Exception):
    """An internal API call that must be refused (answered with 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SealError(Exception):
    """A sealed value that cannot be opened with the key at hand."""
