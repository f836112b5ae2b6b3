"""The deterministic reply rule, tool arguments from schemas, token counts, embeddings."""

from __future__ import annotations

import base64
import math
import struct

from junction_mockllm.directives import Knobs
from junction_mockllm.replies import (
    Prompt,
    Tool,
    compose,
    embedding,
    embedding_base64,
    fragments,
    prompt_tokens,
    sample_arguments,
)

from .wire import TIME_SCHEMA, WEATHER_ARGS, WEATHER_SCHEMA


def test_reply_names_the_model_and_echoes_the_collapsed_user_text() -> None:
    reply = compose(Prompt(model="m", user_text="  hi\n  there "), Knobs(model="m"))
    assert reply.text == "Hello from m! You said: hi there"
    assert reply.finish == "end"
    assert reply.output_tokens == 7
    assert "".join(reply.pieces) == reply.text


def test_reply_is_a_pure_function_of_model_and_text() -> None:
    first = compose(Prompt(model="a", user_text="x y"), Knobs(model="a"))
    again = compose(Prompt(model="a", user_text="x y"), Knobs(model="a"))
    other = compose(Prompt(model="b", user_text="x y"), Knobs(model="b"))
    assert first == again
    assert other.text == "Hello from b! You said: x y"


def test_empty_user_text_still_greets() -> None:
    assert compose(Prompt(model="m"), Knobs(model="m")).text == "Hello from m!"


def test_prompt_tokens_count_words_and_are_at_least_one() -> None:
    assert prompt_tokens(["one two", "three"]) == 3
    assert prompt_tokens(["", "  "]) == 1


def test_tokens_knob_stretches_and_trims_the_reply_to_exactly_n_words() -> None:
    long = compose(Prompt(model="m", user_text="hi"), Knobs(model="m", output_tokens=57))
    short = compose(Prompt(model="m", user_text="hi"), Knobs(model="m", output_tokens=2))
    assert long.output_tokens == 57
    assert len(long.text.split()) == 57
    assert long.text.startswith("Hello from m! You said: hi Hello from")
    assert short.text == "Hello from"


def test_input_tokens_knob_overrides_the_count() -> None:
    reply = compose(Prompt(model="m", input_tokens=3), Knobs(model="m", input_tokens=99))
    assert reply.input_tokens == 99


def test_max_tokens_truncates_with_length_finish() -> None:
    reply = compose(Prompt(model="m", user_text="hi", max_tokens=3), Knobs(model="m"))
    assert reply.text == "Hello from m!"
    assert reply.finish == "length"
    assert reply.output_tokens == 3


def test_stop_sequence_cuts_before_the_sequence() -> None:
    reply = compose(Prompt(model="m", user_text="hi", stop=("You",)), Knobs(model="m"))
    assert reply.text == "Hello from m!"
    assert reply.finish == "stop_sequence"
    assert reply.stop_sequence == "You"


def test_tool_arguments_fill_each_required_property_from_the_schema() -> None:
    assert sample_arguments(WEATHER_SCHEMA) == WEATHER_ARGS
    nested = {
        "type": "object",
        "properties": {
            "flag": {"type": "boolean"},
            "ratio": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "where": {
                "type": "object",
                "properties": {"x": {"type": "integer"}},
                "required": ["x"],
            },
            "maybe": {"type": ["null", "string"]},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        },
        "required": ["flag", "ratio", "tags", "where", "maybe", "either"],
    }
    assert sample_arguments(nested) == {
        "flag": True,
        "ratio": 1,
        "tags": ["mock"],
        "where": {"x": 1},
        "maybe": "mock",
        "either": 1,
    }
    assert sample_arguments(None) == {}


def test_gemini_upper_case_schema_types_are_understood() -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]}
    assert sample_arguments(schema) == {"n": 1}


def test_tools_make_the_reply_call_the_first_tool() -> None:
    tools = (Tool("get_weather", WEATHER_SCHEMA), Tool("get_time", TIME_SCHEMA))
    reply = compose(Prompt(model="m", user_text="weather?", tools=tools), Knobs(model="m"))
    assert reply.finish == "tool_use"
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("get_weather", WEATHER_ARGS)]
    assert reply.output_tokens >= 1


def test_forced_tool_and_tool_mode_none() -> None:
    tools = (Tool("get_weather", WEATHER_SCHEMA), Tool("get_time", TIME_SCHEMA))
    forced = compose(
        Prompt(model="m", user_text="x", tools=tools, tool_mode="any", forced_tool="get_time"),
        Knobs(model="m"),
    )
    refused = compose(Prompt(model="m", user_text="x", tools=tools, tool_mode="none"), Knobs("m"))
    assert [c.name for c in forced.tool_calls] == ["get_time"]
    assert forced.tool_calls[0].arguments == {"zone": "mock"}
    assert refused.tool_calls == ()
    assert refused.text.startswith("Hello from m!")


def test_parallel_asks_for_two_calls() -> None:
    two = (Tool("get_weather", WEATHER_SCHEMA), Tool("get_time", TIME_SCHEMA))
    one = (Tool("get_weather", WEATHER_SCHEMA),)
    both = compose(Prompt(model="m", user_text="in Parallel please", tools=two), Knobs("m"))
    twice = compose(Prompt(model="m", user_text="parallel", tools=one), Knobs("m"))
    assert [c.name for c in both.tool_calls] == ["get_weather", "get_time"]
    assert [c.name for c in twice.tool_calls] == ["get_weather", "get_weather"]
    assert len({c.key for c in twice.tool_calls}) == 2


def test_a_tool_result_is_echoed() -> None:
    tools = (Tool("get_weather", WEATHER_SCHEMA),)
    reply = compose(Prompt(model="m", tool_result=" sunny,  20C ", tools=tools), Knobs("m"))
    assert reply.text == "Tool said: sunny, 20C"
    assert reply.tool_calls == ()


def test_fragments_split_text_into_several_pieces() -> None:
    parts = fragments('{"city":"mock","days":1}')
    assert len(parts) == 3
    assert "".join(parts) == '{"city":"mock","days":1}'


def test_embeddings_are_deterministic_unit_vectors() -> None:
    vector = embedding("m", "hello", 16)
    assert vector == embedding("m", "hello", 16)
    assert vector != embedding("m", "hello!", 16)
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-5)
    decoded = struct.unpack("<16f", base64.b64decode(embedding_base64(vector)))
    assert list(decoded) == vector
