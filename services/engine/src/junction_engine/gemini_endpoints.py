"""Gemini's client API: ``POST /v1beta/models/{model}:{action}``, and the same under ``/v1/``.

The ``google-genai`` SDK calls ``/v1/...`` with its default settings and
``/v1beta/...`` when told ``api_version="v1beta"``; both paths serve:

- ``generateContent``, ``streamGenerateContent`` (SSE with ``alt=sse``,
  else one JSON array, as the API streams) and ``countTokens``, converted
  to the protocol of the deployment that serves the call;
- ``embedContent`` and ``batchEmbedContents``: to OpenAI-style providers as
  one ``/v1/embeddings`` call, to Gemini providers as ``batchEmbedContents``
  (see `junction_protocols.gemini_embeddings`), answered in Gemini's shape
  and billed by input tokens like any embeddings call.

An embedding call goes to deployments of one protocol, since the request is
built before a deployment is picked: those of the Gemini protocol when the
model's first priority group has one (with the same upstream model as it,
which each request of the batch must name), else its OpenAI-style ones; the
call fails over among those. Every refusal is in Gemini's error shape.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from junction_contracts import ModelRoute, Route
from junction_engine.calls import ClientCall
from junction_engine.endpoints import _engine, _require_list, _serve
from junction_engine.errors import BadRequest, NotFound, UpstreamFailed
from junction_engine.json_body import JsonBody, dump_json, parse_object
from junction_engine.policy import pick_model
from junction_engine.providers import Operation, Protocol, offers, protocol_of
from junction_engine.responses import json_response
from junction_engine.upstream_replies import MALFORMED
from junction_protocols import gemini_embeddings as embeddings
from junction_protocols.errors import ConversionError
from junction_protocols.json_codec import loads

_ACTIONS: dict[str, tuple[Operation, bool]] = {
    "generateContent": ("chat", False),
    "streamGenerateContent": ("chat", True),
    "countTokens": ("count_tokens", False),
}
#: embedding actions: whether the body is a batch
_EMBED_ACTIONS = {"embedContent": False, "batchEmbedContents": True}


async def gemini(request: Request) -> Response:
    """``POST .../models/{model}:{action}``: generate, stream, count tokens or embed."""
    model_name, _, action = str(request.path_params["target"]).rpartition(":")
    model_name = model_name.removeprefix("models/")
    if action in _EMBED_ACTIONS and model_name:
        return await _embed(request, model_name, batch=_EMBED_ACTIONS[action])
    array = request.query_params.get("alt") != "sse"

    def build(route: Route, body: JsonBody) -> ClientCall:
        if action not in _ACTIONS or not model_name:
            raise NotFound(f"no route for {request.url.path}", code="not_found")
        operation, stream = _ACTIONS[action]
        model = pick_model(route, model_name)
        if operation == "chat":
            _require_list(body.data, "contents")
        return ClientCall(
            client="gemini",
            route=route,
            model=model,
            body=body,
            stream=stream,
            include_usage=True,
            operation=operation,
            json_array_stream=stream and array,
        )

    return await _serve(request, "gemini", build)


async def _embed(request: Request, model_name: str, *, batch: bool) -> Response:
    sent: list[tuple[Protocol, int]] = []  # the protocol the call went to, and its size

    def build(route: Route, body: JsonBody) -> ClientCall:
        model = pick_model(route, model_name)
        try:
            requests = embeddings.embed_requests(body.data, model=model_name, batch=batch)
        except ConversionError as exc:
            raise BadRequest(exc.message, param=exc.param, code="invalid_request") from exc
        chosen = embedding_deployments(model)
        if chosen is None:
            # no deployment embeds: the forwarder refuses it (and records the refusal)
            return _embed_call(route, model, body, "gemini")
        protocol, served = chosen
        upstream_model = served.deployments[0].upstream_model
        try:
            if protocol == "openai":
                wire = embeddings.openai_embeddings_request(requests, upstream_model=upstream_model)
            else:
                wire = embeddings.gemini_batch_request(requests, upstream_model=upstream_model)
        except ConversionError as exc:
            raise BadRequest(exc.message, param=exc.param, code="unsupported_parameter") from exc
        sent.append((protocol, len(requests)))
        return _embed_call(route, served, parse_object(dump_json(wire)), protocol)

    response = await _serve(request, "gemini", build)
    if response.status_code != 200 or not sent:
        return response
    protocol, count = sent[0]
    if protocol == "gemini" and batch:
        return response  # the provider's own answer, as it sent it
    try:
        answer = loads(bytes(response.body))
        if protocol == "openai":
            out = embeddings.openai_embeddings_to_gemini(answer, batch=batch, count=count)
        else:
            out = embeddings.gemini_batch_to_single(answer)
    except (*MALFORMED, RecursionError):
        err = UpstreamFailed("the provider's answer could not be read", code="malformed_answer")
        return _engine(request).refuse("gemini", err)
    return json_response(out)


def _embed_call(route: Route, model: ModelRoute, body: JsonBody, client: Protocol) -> ClientCall:
    # an OpenAI-style provider gets an OpenAI request: the call is one of that protocol
    return ClientCall(
        client=client, route=route, model=model, body=body, stream=False, operation="embeddings"
    )


def embedding_deployments(model: ModelRoute) -> tuple[Protocol, ModelRoute] | None:
    """The protocol an embedding call of `model` goes in, and the deployments that serve it.

    Gemini ones when the first priority group has one (those with its upstream
    model), else the OpenAI-style ones; None when no deployment embeds.
    """
    able = [d for d in model.deployments if offers(d.provider, "embeddings")]
    if not able:
        return None
    top = min(d.priority for d in able)
    lead = next(
        (d for d in able if d.priority == top and protocol_of(d.provider) == "gemini"), None
    )
    if lead is not None:
        served = tuple(
            d
            for d in able
            if protocol_of(d.provider) == "gemini" and d.upstream_model == lead.upstream_model
        )
        return "gemini", replace(model, deployments=served)
    served = tuple(d for d in able if protocol_of(d.provider) == "openai")
    return "openai", replace(model, deployments=served)
