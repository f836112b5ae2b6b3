"""The one pooled HTTP client every provider call goes through.

Kept behind this module so the transport can be swapped by measurement
(httpx's default transport today) without touching the request path.
"""

from __future__ import annotations

import httpx

from junction_engine.settings import EngineSettings


def create_upstream_client(
    settings: EngineSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A pooled client with the engine's timeouts: connect, idle read, write, pool wait."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.idle_timeout,
        write=settings.idle_timeout,
        pool=settings.connect_timeout,
    )
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30)
    return httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        transport=transport,
        follow_redirects=False,
        trust_env=False,
    )


def create_control_http(
    settings: EngineSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A small separate pool for control-plane calls, with short timeouts."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(5.0, connect=2.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        transport=transport,
        trust_env=False,
    )
