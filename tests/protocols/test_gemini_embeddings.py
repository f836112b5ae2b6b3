"""Gemini embedContent / batchEmbedContents clients → OpenAI or Gemini providers."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from junction_protocols.errors import ConversionError
from junction_protocols.gemini_embeddings import (
    embed_requests,
    gemini_batch_request,
    gemini_batch_to_single,
    openai_embeddings_request,
    openai_embeddings_to_gemini,
)


def _content(*texts: str) -> dict[str, Any]:
    return {"parts": [{"text": t} for t in texts], "role": "user"}


def test_an_embed_content_body_is_one_request() -> None:
    body = {"content": _content("hi"), "task_type": "RETRIEVAL_QUERY", "output_dimensionality": 8}
    assert embed_requests(body, model="emb", batch=False) == [
        {"content": _content("hi"), "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 8}
    ]


def test_the_sdks_batch_goes_to_openai_as_one_call() -> None:
    # what google-genai's embed_content(contents=["a", "b"], config=...) sends
    body = {
        "requests": [
            {
                "content": _content("a"),
                "taskType": "RETRIEVAL_QUERY",
                "outputDimensionality": 8,
                "model": "models/emb",
            },
            {
                "content": _content("b", "c"),
                "taskType": "RETRIEVAL_QUERY",
                "outputDimensionality": 8,
                "model": "models/emb",
            },
        ]
    }
    requests = embed_requests(body, model="emb", batch=True)
    assert openai_embeddings_request(requests, upstream_model="text-embedding-3-small") == {
        "model": "text-embedding-3-small",
        "input": ["a", "b c"],
        "encoding_format": "float",
        "dimensions": 8,
    }


def test_to_a_gemini_provider_each_request_names_the_upstream_model() -> None:
    requests = embed_requests(
        {"content": _content("a"), "title": "Doc", "taskType": "RETRIEVAL_DOCUMENT"},
        model="emb",
        batch=False,
    )
    assert gemini_batch_request(requests, upstream_model="gemini-embedding-001") == {
        "requests": [
            {
                "content": _content("a"),
                "title": "Doc",
                "taskType": "RETRIEVAL_DOCUMENT",
                "model": "models/gemini-embedding-001",
            }
        ]
    }


@pytest.mark.parametrize(
    ("body", "batch", "param"),
    [
        ({"content": {"parts": []}}, False, "content.parts"),
        ({"content": "hello"}, False, "content"),
        ({"requests": []}, True, "requests"),
        ({"requests": [{"content": _content("a")}], "extra": 1}, True, "extra"),
        ({"requests": ["a"]}, True, "requests[0]"),
        (
            {"requests": [{"model": "models/other", "content": _content("a")}]},
            True,
            "requests[0].model",
        ),
    ],
)
def test_malformed_requests_are_refused(body: dict[str, Any], batch: bool, param: str) -> None:
    with pytest.raises(ConversionError) as caught:
        embed_requests(body, model="emb", batch=batch)
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("requests", "param"),
    [
        (
            [{"content": {"parts": [{"inlineData": {"data": "AA"}}, {"text": "a"}]}}],
            "content.parts[0]",
        ),
        ([{"content": _content("a"), "outputDimensionality": 0}], "outputDimensionality"),
        ([{"content": _content("a"), "autoTruncate": True}], "autoTruncate"),
        (
            [
                {"content": _content("a"), "outputDimensionality": 4},
                {"content": _content("b")},
            ],
            "requests",
        ),
    ],
)
def test_what_openai_cannot_express_is_refused(requests: list[dict[str, Any]], param: str) -> None:
    with pytest.raises(ConversionError) as caught:
        openai_embeddings_request(requests, upstream_model="m")
    assert caught.value.param == param


OPENAI_ANSWER = {
    "object": "list",
    "data": [
        {"object": "embedding", "index": 1, "embedding": [0.5, -0.25]},
        {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
    ],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 3, "total_tokens": 3},
}


def test_openai_answers_become_gemini_answers_in_request_order() -> None:
    assert openai_embeddings_to_gemini(OPENAI_ANSWER, batch=True, count=2) == {
        "embeddings": [{"values": [1.0, 0.0]}, {"values": [0.5, -0.25]}]
    }
    one = {"object": "list", "data": [{"index": 0, "embedding": [0.125]}], "usage": {}}
    assert openai_embeddings_to_gemini(one, batch=False, count=1) == {
        "embedding": {"values": [0.125]}
    }


def test_base64_vectors_are_decoded() -> None:
    packed = base64.b64encode(struct.pack("<2f", 0.5, -2.0)).decode()
    answer = {"data": [{"index": 0, "embedding": packed}]}
    assert openai_embeddings_to_gemini(answer, batch=False, count=1) == {
        "embedding": {"values": [0.5, -2.0]}
    }


def test_an_answer_of_the_wrong_size_is_unreadable() -> None:
    with pytest.raises(ValueError):
        openai_embeddings_to_gemini(OPENAI_ANSWER, batch=True, count=3)
    with pytest.raises(ValueError):
        gemini_batch_to_single({"embeddings": []})


def test_a_batch_of_one_becomes_an_embed_content_answer() -> None:
    assert gemini_batch_to_single({"embeddings": [{"values": [0.1, 0.2]}]}) == {
        "embedding": {"values": [0.1, 0.2]}
    }
    with_usage = {"embeddings": [{"values": [0.1]}], "usageMetadata": {"promptTokenCount": 2}}
    assert gemini_batch_to_single(with_usage) == {
        "embedding": {"values": [0.1]},
        "usageMetadata": {"promptTokenCount": 2},
    }
