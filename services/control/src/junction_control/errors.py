"""Errors of the control plane.

    ControlError            base of everything this package raises on purpose
    ├── ConfigError         settings missing or unsafe: the service refuses to start
    ├── InvalidInput        a user mistake in a CLI argument or a declarative file
    ├── NotFound            a named row does not exist
    ├── Conflict            a row with that natural name already exists
    ├── CryptoError         a stored provider key cannot be opened
    └── DatabaseUnavailable the database cannot be reached or refused the statement
        └── ConnectionLost  a pooled connection had died; the pool is renewed, a retry may pass

The CLI maps user mistakes (ConfigError, InvalidInput, NotFound, Conflict) to
exit code 2 and operational failures to exit code 1, with no traceback.
"""


class ControlError(Exception):
    """Base of the control plane's own errors; the message is safe to show."""


class ConfigError(ControlError):
    """A setting is missing, malformed or unsafe."""


class InvalidInput(ControlError):
    """Input from an operator (CLI argument, declarative file) is not acceptable."""


class NotFound(ControlError):
    """A row looked up by its natural name does not exist."""


class Conflict(ControlError):
    """A row with the same natural name already exists."""


class CryptoError(ControlError):
    """A provider key cannot be encrypted or decrypted with the keyring at hand."""


class DatabaseUnavailable(ControlError):
    """The database cannot be reached."""


class ConnectionLost(DatabaseUnavailable):
    """The statement ran on a pooled connection the server had closed (a restart, say).

    The pool has dropped every connection older than this one, so an
    idempotent unit of work may be tried once more at once.
    """
