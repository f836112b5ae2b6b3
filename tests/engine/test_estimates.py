"""Estimated usage: what a call costs when its provider reported nothing, or was cut."""

from __future__ import annotations

import json

from junction_engine import estimates
from junction_engine.estimates import StreamTally, fill, input_tokens, text_chars
from junction_protocols.usage import Usage

OPENAI_CHUNK = (
    'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"content":"%s"},"logprobs":null,"finish_reason":null}],'
    '"usage":null}\n\n'
)


def test_text_is_counted_in_every_protocols_answer_fields() -> None:
    openai = (OPENAI_CHUNK % "hello").encode()
    anthropic = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"hi there"}}\n\n'
    )
    gemini = b'data: {"candidates":[{"content":{"parts":[{"text":"abc"}],"role":"model"}}]}\n\n'
    tool = b'{"function":{"name":"f","arguments":"{\\"a\\":1}"}}'
    assert text_chars(openai) == 5
    assert text_chars(anthropic) == 8
    assert text_chars(gemini) == 3
    assert text_chars(tool) == len('{"a":1}')  # an escape counts as the character it stands for
    assert text_chars(b'{"id":"chatcmpl-1","model":"gpt"}') == 0


def test_a_stream_tally_scales_its_sample_to_everything_fed() -> None:
    tally = StreamTally()
    chunk = (OPENAI_CHUNK % "four").encode()
    for _ in range(100):
        tally.add(chunk)
    # the sample holds 8 of the 100 chunks; every chunk is alike
    assert tally.fed == 100 * len(chunk)
    assert tally.text_chars() == 400


def test_a_short_stream_is_counted_exactly() -> None:
    tally = StreamTally()
    for word in ("a", "bb", "ccc"):
        tally.add((OPENAI_CHUNK % word).encode())
    assert tally.text_chars() == 6
    assert StreamTally().text_chars() == 0


def test_input_is_estimated_from_every_string_of_the_request_and_images_flat() -> None:
    body = {
        "model": "a-very-long-model-name-that-is-not-prompt",
        "messages": [
            {"role": "system", "content": "x" * 40},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "y" * 40},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64," + "A" * 5000},
                    },
                ],
            },
        ],
    }
    chars = len("system") + 40 + len("user") + len("text") + 40 + len("image_url")
    chars += len("messages") + len("content") + len("image_url")  # keys of nested members
    assert input_tokens(body) == -(-chars // 4) + estimates.IMAGE_TOKENS
    assert input_tokens({"model": "m"}) == 0


def test_reported_usage_of_a_whole_answer_is_kept_as_is() -> None:
    usage = Usage(input_tokens=12, output_tokens=0)
    assert fill(usage, body={"x": "y" * 400}, output_chars=4000, cut=False) == (usage, False)


def test_missing_figures_are_estimated_and_flagged() -> None:
    body = {"messages": [{"role": "user", "content": "z" * 396}]}
    usage, estimated = fill(Usage(), body=body, output_chars=81, cut=False)
    assert estimated
    assert usage.input_tokens == input_tokens(body) > 0
    assert usage.output_tokens == 21  # 81 characters, rounded up


def test_a_cut_answer_keeps_the_larger_of_reported_and_estimated_output() -> None:
    # Anthropic reports output tokens at the start of a stream, and again only at its end
    started = Usage(input_tokens=30, output_tokens=1)
    usage, estimated = fill(started, body={}, output_chars=400, cut=True)
    assert (usage.input_tokens, usage.output_tokens, estimated) == (30, 100, True)
    ahead = Usage(input_tokens=30, output_tokens=500)
    assert fill(ahead, body={}, output_chars=400, cut=True) == (ahead, False)


def test_a_call_cut_before_any_text_is_billed_its_input() -> None:
    body = {"messages": [{"role": "user", "content": json.dumps({"k": "v" * 100})}]}
    usage, estimated = fill(Usage(), body=body, output_chars=0, cut=True)
    assert estimated
    assert usage.output_tokens == 0
    assert usage.input_tokens > 0
