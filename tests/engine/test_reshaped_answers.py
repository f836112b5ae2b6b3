"""A chat answer reshaped for another surface keeps the chat answer's cleanup and errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from starlette.responses import Response

from junction_engine.reshaped_answers import reshape
from junction_engine.responses import ClientStalled, StreamBody, json_response
from junction_protocols.completions_chat_stream import ChatStreamToCompletions
from junction_protocols.reshaped_stream import ChatSSEReshaper

CHUNK = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
)


class ChatBody:
    """A chat stream body that notes how it ended, as the attempt's body does."""

    def __init__(self) -> None:
        self.ended: str | None = None

    async def run(self) -> AsyncGenerator[bytes, None]:
        try:
            while True:
                yield CHUNK
        except ClientStalled:
            self.ended = "client_stalled"
            raise
        finally:
            self.ended = self.ended or "closed"


def reshaper() -> ChatSSEReshaper:
    return ChatSSEReshaper(ChatStreamToCompletions("m"), ends_with_done=True)


def reshaped(chat: ChatBody) -> AsyncGenerator[bytes, None]:
    response = reshape(
        StreamBody(chat.run(), media_type="text/event-stream"),
        plain=lambda body: body,
        stream=reshaper,
    )
    assert isinstance(response, StreamBody)
    body = response.body_iterator
    assert isinstance(body, AsyncGenerator)
    return body


async def test_closing_the_reshaped_stream_closes_the_chat_stream() -> None:
    chat = ChatBody()
    body = reshaped(chat)
    first = await anext(body)
    assert first.startswith(b'data: {"id":"cmpl-1","object":"text_completion"')
    await body.aclose()
    assert chat.ended == "closed"


async def test_a_stalled_client_is_reported_to_the_chat_stream() -> None:
    chat = ChatBody()
    body = reshaped(chat)
    await anext(body)
    with contextlib.suppress(ClientStalled):
        await body.athrow(ClientStalled())
    assert chat.ended == "client_stalled"


def test_refusals_pass_as_they_are_and_answers_are_translated() -> None:
    refused = json_response({"error": {"code": "x"}}, status=429)
    assert reshape(refused, plain=lambda b: {"no": 1}, stream=reshaper) is refused
    answer = reshape(json_response({"a": 1}), plain=lambda b: {"seen": b}, stream=reshaper)
    assert bytes(answer.body) == b'{"seen":{"a":1}}'


def test_an_unreadable_answer_is_a_502_in_openai_shape() -> None:
    answer = reshape(
        Response(b"not json", media_type="application/json"), plain=dict, stream=reshaper
    )
    assert answer.status_code == 502
    assert b'"code":"upstream_malformed"' in bytes(answer.body)
