"""Gemini ``embedContent`` / ``batchEmbedContents`` clients → OpenAI or Gemini providers.

Pure functions on decoded JSON; field names in either case are read (see
:mod:`junction_protocols.gemini_field_names`).

Requests (``embed_requests``): an ``embedContent`` body is one
``EmbedContentRequest`` (``content``, ``taskType``, ``title``,
``outputDimensionality``, ``model``); a ``batchEmbedContents`` body holds a
non-empty list of them under ``requests``. A request's ``model``, when
given, must name the model of the URL (``models/<name>`` or ``<name>``), as
the Gemini API wants. Only the text parts of a content are embedded, as in
the Gemini API; a content with no text is refused.

- To an OpenAI-style provider (``openai_embeddings_request``): one
  ``/v1/embeddings`` call whose ``input`` lists each content's text (its text
  parts joined by a space), ``encoding_format: float``, and
  ``outputDimensionality`` → ``dimensions`` (one value for the whole call:
  OpenAI takes one per call, so requests asking different sizes are
  refused). ``taskType`` and ``title`` are dropped: OpenAI embeddings take no
  task hint. Any other field, or a non-text part, raises ``ConversionError``.
- To a Gemini provider (``gemini_batch_request``): always
  ``batchEmbedContents`` (one request for ``embedContent``), each request's
  ``model`` set to ``models/<upstream model>``; everything else is sent as
  the client wrote it (with camelCase names).

Responses: the OpenAI list (``data[].embedding``, ordered by ``index``;
base64 float32 vectors are decoded) → ``{"embedding": {"values": [...]}}``
or ``{"embeddings": [{"values": [...]}, ...]}`` (``openai_embeddings_to_gemini``);
a Gemini batch answer to an ``embedContent`` client → its one embedding
(``gemini_batch_to_single``, which keeps a ``usageMetadata`` the provider
sent). Gemini's documented embedding answers carry no usage, so none is made
up for the OpenAI path: the call is billed from the provider's own numbers.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from .errors import ConversionError
from .gemini_field_names import camel_case_fields

__all__ = [
    "embed_requests",
    "gemini_batch_request",
    "gemini_batch_to_single",
    "openai_embeddings_request",
    "openai_embeddings_to_gemini",
]

JSON = dict[str, Any]

#: an EmbedContentRequest's fields; taskType and title are dropped for OpenAI providers
_REQUEST_FIELDS = frozenset({"model", "content", "taskType", "title", "outputDimensionality"})


def embed_requests(body: JSON, *, model: str, batch: bool) -> list[JSON]:
    """The ``EmbedContentRequest``s of a client body, camelCased and checked.

    ``model`` is the model name of the URL (without ``models/``).
    """
    body = camel_case_fields(body)
    if batch:
        extra = sorted(k for k, v in body.items() if v is not None and k != "requests")
        if extra:
            raise ConversionError(f"'{extra[0]}' is not a batchEmbedContents field", extra[0])
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise ConversionError("'requests' must be a non-empty list", "requests")
        prefix = "requests"
    else:
        requests = [body]
        prefix = ""
    checked = []
    for i, request in enumerate(requests):
        where = f"{prefix}[{i}]." if batch else ""
        if not isinstance(request, dict):
            raise ConversionError("each request must be an object", f"{prefix}[{i}]")
        named = request.get("model")
        if named is not None and (not isinstance(named, str) or _bare(named) != model):
            raise ConversionError(
                f"the request's model must be the model of the URL, models/{model}",
                f"{where}model",
            )
        _texts(request.get("content"), f"{where}content")  # raises unless there is text
        checked.append(request)
    return checked


def openai_embeddings_request(requests: list[JSON], *, upstream_model: str) -> JSON:
    """One OpenAI ``/v1/embeddings`` request for the checked ``requests``."""
    inputs = []
    sizes: set[int | None] = set()
    for i, request in enumerate(requests):
        where = f"requests[{i}]." if len(requests) > 1 else ""
        for key, value in request.items():
            if value is not None and key not in _REQUEST_FIELDS:
                raise ConversionError(f"'{key}' is not supported by this model", where + key)
        texts = _texts(request.get("content"), f"{where}content", text_only=True)
        inputs.append(" ".join(texts))
        size = request.get("outputDimensionality")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConversionError(
                "outputDimensionality must be a positive integer", f"{where}outputDimensionality"
            )
        sizes.add(size)
    if len(sizes) > 1:
        raise ConversionError(
            "every request of the batch must ask the same outputDimensionality for this model",
            "requests",
        )
    out: JSON = {"model": upstream_model, "input": inputs, "encoding_format": "float"}
    (size,) = sizes
    if size is not None:
        out["dimensions"] = size
    return out


def gemini_batch_request(requests: list[JSON], *, upstream_model: str) -> JSON:
    """The ``batchEmbedContents`` body for a Gemini provider serving ``upstream_model``."""
    name = f"models/{upstream_model}"
    return {"requests": [{**request, "model": name} for request in requests]}


def openai_embeddings_to_gemini(body: JSON, *, batch: bool, count: int) -> JSON:
    """An OpenAI embeddings list → Gemini's answer; ``count`` embeddings are expected."""
    data = body.get("data")
    if not isinstance(data, list) or len(data) != count:
        raise ValueError("the provider answered with another number of embeddings")
    ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
    embeddings = [{"values": _vector(item.get("embedding"))} for item in ordered]
    if batch:
        return {"embeddings": embeddings}
    return {"embedding": embeddings[0]}


def gemini_batch_to_single(body: JSON) -> JSON:
    """A ``batchEmbedContents`` answer of one embedding → the ``embedContent`` answer."""
    embeddings = body.get("embeddings")
    if not isinstance(embeddings, list) or len(embeddings) != 1:
        raise ValueError("the provider answered with another number of embeddings")
    out: JSON = {"embedding": embeddings[0]}
    if isinstance(body.get("usageMetadata"), dict):
        out["usageMetadata"] = body["usageMetadata"]
    return out


def _bare(name: str) -> str:
    return name.removeprefix("models/")


def _texts(content: Any, where: str, *, text_only: bool = False) -> list[str]:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        raise ConversionError("'content' must be a Content with parts", where)
    texts = []
    for j, part in enumerate(parts):
        text = part.get("text") if isinstance(part, dict) else None
        if isinstance(text, str):
            if text:
                texts.append(text)
        elif text_only:
            raise ConversionError(
                "only text parts can be embedded by this model", f"{where}.parts[{j}]"
            )
    if not texts:
        raise ConversionError("the content has no text to embed", f"{where}.parts")
    return texts


def _vector(value: Any) -> list[float]:
    if isinstance(value, str):  # base64 float32, little-endian (OpenAI's encoding_format)
        raw = base64.b64decode(value)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if not isinstance(value, list):
        raise TypeError("an embedding is not a list of numbers")
    return [float(v) for v in value]
