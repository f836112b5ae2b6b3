"""``junction-mockllm``: run the mock LLM upstream with uvicorn."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from junction_mockllm.settings import MockSettings


def parse_args(argv: Sequence[str] | None = None) -> tuple[MockSettings, str, int]:
    """Settings, host and port from the command line."""
    parser = argparse.ArgumentParser(
        prog="junction-mockllm",
        description="Deterministic mock LLM upstream (OpenAI, Anthropic, Gemini wire formats).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="accepted key (repeatable); by default any key not starting with 'invalid'",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="delay before every answer")
    parser.add_argument("--ttfb-ms", type=int, default=0, help="delay before the first body byte")
    parser.add_argument("--chunk-delay-ms", type=int, default=0, help="delay between stream events")
    args = parser.parse_args(argv)
    settings = MockSettings(
        api_keys=tuple(args.api_key),
        latency_ms=args.latency_ms,
        ttfb_ms=args.ttfb_ms,
        chunk_delay_ms=args.chunk_delay_ms,
    )
    return settings, args.host, args.port


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the mock until interrupted."""
    import uvicorn

    from junction_mockllm.app import create_app

    settings, host, port = parse_args(argv)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
