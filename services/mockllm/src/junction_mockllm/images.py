"""OpenAI image generation: solid-colour PNGs, as ``b64_json`` or a URL served by the mock.

Reference: https://platform.openai.com/docs/api-reference/images/create
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import time
import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from junction_mockllm.delivery import json_response
from junction_mockllm.errors import error_response
from junction_mockllm.openai_api import begin
from junction_mockllm.settings import MockSettings

MAX_SIDE = 2048
_SIZE = re.compile(r"^(\d{1,4})x(\d{1,4})$")


def solid_png(width: int, height: int, rgb: bytes) -> bytes:
    """A ``width`` x ``height`` PNG filled with one ``rgb`` colour."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = (b"\x00" + rgb * width) * height  # filter byte 0 before each row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def parse_size(size: str) -> tuple[int, int] | None:
    """``"WxH"`` (or ``"auto"``) as a pair of sides within bounds, else None."""
    match = _SIZE.match("1024x1024" if size == "auto" else size)
    if match is None:
        return None
    width, height = int(match[1]), int(match[2])
    return (width, height) if 1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE else None


class ImageEndpoints:
    """``POST /v1/images/generations`` and ``GET /_mock/images/{w}x{h}/{colour}.png``."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings

    def routes(self) -> list[Route]:
        """The routes served by this class."""
        return [
            Route("/v1/images/generations", self.generate, methods=["POST"]),
            Route("/_mock/images/{width:int}x{height:int}/{colour}.png", self.image),
        ]

    async def generate(self, request: Request) -> Response:
        """Generate ``n`` images of ``size`` for ``prompt``."""
        started = await begin(request, self.settings)
        if isinstance(started, Response):
            return started
        body, knobs, headers = started
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return error_response(
                "openai", 400, "'prompt' is required", param="prompt", headers=headers
            )
        count = body.get("n") or 1
        if not isinstance(count, int) or not 1 <= count <= 10:
            return error_response("openai", 400, "'n' must be 1-10", param="n", headers=headers)
        sides = parse_size(str(body.get("size") or "1024x1024"))
        if sides is None:
            message = f"'size' must be WxH with sides up to {MAX_SIDE}"
            return error_response("openai", 400, message, param="size", headers=headers)
        default_format = "b64_json" if knobs.model.startswith("gpt-image") else "url"
        as_b64 = (body.get("response_format") or default_format) == "b64_json"
        data: list[dict[str, Any]] = []
        for index in range(count):
            colour = hashlib.sha256(f"{knobs.model}|{prompt}|{index}".encode()).digest()[:3]
            item: dict[str, Any] = {"revised_prompt": prompt}
            if as_b64:
                item["b64_json"] = base64.b64encode(solid_png(*sides, colour)).decode()
            else:
                path = f"_mock/images/{sides[0]}x{sides[1]}/{colour.hex()}.png"
                item["url"] = f"{request.base_url}{path}"
            data.append(item)
        payload = {"created": int(time.time()), "data": data}
        return await json_response(payload, knobs, request, headers=headers)

    async def image(self, request: Request) -> Response:
        """Serve an image whose URL ``generate`` handed out."""
        width, height = request.path_params["width"], request.path_params["height"]
        colour = request.path_params["colour"]
        if not (re.fullmatch(r"[0-9a-f]{6}", colour) and parse_size(f"{width}x{height}")):
            return Response(status_code=404)
        return Response(solid_png(width, height, bytes.fromhex(colour)), media_type="image/png")
