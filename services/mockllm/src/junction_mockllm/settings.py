"""Settings of the mock LLM upstream: one frozen object, handed to ``create_app``.

The command line sets everything; `ServeDefaults` reads the two variables the
local launcher already keeps (``JUNCTION_MOCK_PORT``, ``JUNCTION_MOCK_KEY``)
from the environment over `.env`, with the readers every service shares, as
defaults of ``--port`` and ``--api-key``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from junction_contracts import setting_values as sv
from junction_contracts.envfile import environment

MAX_KEY_CHARS = 500

DEFAULT_MODELS: tuple[str, ...] = (
    "gpt-mock",
    "gpt-mock-mini",
    "claude-mock",
    "gemini-mock",
    "text-embedding-mock",
    "image-mock",
)


@dataclass(frozen=True)
class MockSettings:
    """How the mock behaves when a request sets nothing itself.

    ``api_keys`` empty means any non-empty key is accepted except keys starting
    with ``"invalid"`` (so tests can provoke a 401 without configuration).
    Durations are in milliseconds except ``hang_seconds``, the sleep of
    ``fault=timeout``, which only needs to outlast every client timeout.
    """

    api_keys: tuple[str, ...] = ()
    latency_ms: int = 0
    chunk_delay_ms: int = 0
    ttfb_ms: int = 0
    hang_seconds: float = 300.0
    recorder_size: int = 200
    embedding_dimensions: int = 16
    models: tuple[str, ...] = DEFAULT_MODELS

    def __post_init__(self) -> None:
        for name in ("latency_ms", "chunk_delay_ms", "ttfb_ms", "hang_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"MockSettings.{name} must be >= 0")
        if self.recorder_size < 1:
            raise ValueError("MockSettings.recorder_size must be >= 1")
        if self.embedding_dimensions < 1:
            raise ValueError("MockSettings.embedding_dimensions must be >= 1")

    def accepts_key(self, key: str | None) -> bool:
        """Whether ``key`` authenticates a request."""
        if not key:
            return False
        if self.api_keys:
            return key in self.api_keys
        return not key.startswith("invalid")


@dataclass(frozen=True, slots=True)
class ServeDefaults:
    """The port and accepted keys used when the command line names none."""

    port: int = 8100
    api_keys: tuple[str, ...] = ()

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, env_file: str | None = ".env"
    ) -> ServeDefaults:
        """From ``JUNCTION_MOCK_*``; SettingError names a bad one."""
        env = environment(environ, env_file)
        key = env.get("JUNCTION_MOCK_KEY", "").strip()
        if len(key) > MAX_KEY_CHARS or any(c.isspace() or not c.isprintable() for c in key):
            # a key is never repeated in an error
            raise sv.refuse(
                "JUNCTION_MOCK_KEY", f"must be at most {MAX_KEY_CHARS} printable characters"
            )
        return cls(
            port=sv.integer(env, "JUNCTION_MOCK_PORT", 8100, 1, 65_535),
            api_keys=(key,) if key else (),
        )
