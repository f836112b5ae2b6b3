"""`junction-engine`: run the data plane with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from junction_engine.app import create_app
from junction_engine.settings import EngineSettings, SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="junction-engine", description="Junction data plane")
    parser.add_argument("--host", help="bind address (default JUNCTION_ENGINE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default JUNCTION_ENGINE_PORT or 8090)")
    args = parser.parse_args(argv)
    try:
        settings = EngineSettings.from_env()
    except SettingsError as exc:
        print(f"junction-engine: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # httpx logs every request line at INFO: one line per call (and per
    # telemetry batch) is noise on the hot path, and URLs do not belong in logs
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
