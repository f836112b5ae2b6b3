"""How the floor proxies are served: uvicorn with the engine's own settings."""

from __future__ import annotations

from typing import Any

import uvicorn

# the engine runs uvicorn with loop/http "auto", which picks these two when
# installed (they are, through uvicorn[standard]); named here so a missing one
# fails loudly instead of measuring the slow fallbacks
SETTINGS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "log_level": "warning",
    "access_log": False,
}


def serve(app: Any, port: int) -> None:
    """Serve `app` on 127.0.0.1:`port` until interrupted."""
    uvicorn.run(app, host="127.0.0.1", port=port, **SETTINGS)
