"""``junction-mockllm``: run the mock LLM upstream with uvicorn."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from junction_contracts.setting_values import SettingError
from junction_mockllm.settings import MockSettings, ServeDefaults

PROG = "junction-mockllm"
MAX_DELAY_MS = 3_600_000  # an hour


def parse_args(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    env_file: str | None = ".env",
) -> tuple[MockSettings, str, int]:
    """Settings, host and port from the command line over ``JUNCTION_MOCK_*``.

    SettingError names a bad variable; a bad flag exits through argparse (status 2).
    """
    defaults = ServeDefaults.from_env(environ, env_file)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Deterministic mock LLM upstream (OpenAI, Anthropic, Gemini wire formats).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_bounded(1, 65_535), default=defaults.port)
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="accepted key (repeatable); by default any key not starting with 'invalid'",
    )
    delay = _bounded(0, MAX_DELAY_MS)
    parser.add_argument("--latency-ms", type=delay, default=0, help="delay before every answer")
    parser.add_argument("--ttfb-ms", type=delay, default=0, help="delay before the first body byte")
    parser.add_argument(
        "--chunk-delay-ms", type=delay, default=0, help="delay between stream events"
    )
    args = parser.parse_args(argv)
    settings = MockSettings(
        api_keys=tuple(args.api_key) or defaults.api_keys,
        latency_ms=args.latency_ms,
        ttfb_ms=args.ttfb_ms,
        chunk_delay_ms=args.chunk_delay_ms,
    )
    return settings, args.host, args.port


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}")
        return int(text)

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the mock until interrupted; 2 (and one line on stderr) for a bad setting."""
    import uvicorn

    from junction_mockllm.app import create_app

    try:
        settings, host, port = parse_args(argv)
    except SettingError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
