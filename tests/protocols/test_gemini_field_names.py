"""proto3 JSON field names: snake_case read as camelCase, the caller's own names untouched."""

from __future__ import annotations

import pytest

from junction_protocols.errors import ConversionError
from junction_protocols.gemini_field_names import camel_case_fields, json_name
from junction_protocols.gemini_openai import gemini_request_to_openai


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("inline_data", "inlineData"),
        ("mime_type", "mimeType"),
        ("parameters_json_schema", "parametersJsonSchema"),
        ("top_p", "topP"),
        ("inlineData", "inlineData"),
        ("text", "text"),
    ],
)
def test_json_name_follows_the_proto3_rule(name: str, expected: str) -> None:
    assert json_name(name) == expected


def test_the_sdks_request_is_read_in_camel_case() -> None:
    # what google-genai sends: camelCase outside, snake_case inside some messages
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"inlineData": {"data": "AAAA", "mime_type": "image/png"}},
                    {
                        "file_data": {
                            "file_uri": "https://example.com/a.png",
                            "mime_type": "image/png",
                        }
                    },
                    {"text": "hi"},
                ],
            }
        ],
        "system_instruction": {"parts": [{"text": "be brief"}], "role": "user"},
        "generation_config": {"max_output_tokens": 10, "thinking_config": {"thinking_budget": 0}},
        "tool_config": {
            "function_calling_config": {"mode": "ANY", "allowed_function_names": ["f"]}
        },
    }
    assert camel_case_fields(body) == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"inlineData": {"data": "AAAA", "mimeType": "image/png"}},
                    {"fileData": {"fileUri": "https://example.com/a.png", "mimeType": "image/png"}},
                    {"text": "hi"},
                ],
            }
        ],
        "systemInstruction": {"parts": [{"text": "be brief"}], "role": "user"},
        "generationConfig": {"maxOutputTokens": 10, "thinkingConfig": {"thinkingBudget": 0}},
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
    }


def test_the_callers_own_names_survive() -> None:
    body = {
        "contents": [
            {
                "role": "model",
                "parts": [{"function_call": {"name": "f", "args": {"city_name": "Paris"}}}],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "function_response": {
                            "name": "f",
                            "response": {"temp_c": 21, "is_sunny": True},
                        }
                    }
                ],
            },
        ],
        "tools": [
            {
                "function_declarations": [
                    {
                        "name": "f",
                        "parameters_json_schema": {
                            "type": "object",
                            "properties": {"city_name": {"type": "string", "max_length": 9}},
                            "additional_properties": False,
                        },
                        "response": {
                            "type": "OBJECT",
                            "properties": {"temp_c": {"type": "NUMBER", "example": {"a_b": 1}}},
                            "property_ordering": ["temp_c"],
                        },
                    },
                    {
                        "name": "g",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {
                                "zone_id": {"type": "STRING", "max_length": "5"},
                                "tags": {
                                    "type": "ARRAY",
                                    "items": {"type": "STRING", "min_length": "1"},
                                },
                                "either": {"any_of": [{"type": "STRING", "max_length": "2"}]},
                            },
                            "required": ["zone_id"],
                        },
                    },
                ]
            }
        ],
        "generation_config": {"response_json_schema": {"properties": {"snake_key": {}}}},
        "labels": {"team_name": "search"},
    }
    assert camel_case_fields(body) == {
        "contents": [
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "f", "args": {"city_name": "Paris"}}}],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "name": "f",
                            "response": {"temp_c": 21, "is_sunny": True},
                        }
                    }
                ],
            },
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "f",
                        "parametersJsonSchema": {
                            "type": "object",
                            "properties": {"city_name": {"type": "string", "max_length": 9}},
                            "additional_properties": False,
                        },
                        "response": {
                            "type": "OBJECT",
                            "properties": {"temp_c": {"type": "NUMBER", "example": {"a_b": 1}}},
                            "propertyOrdering": ["temp_c"],
                        },
                    },
                    {
                        "name": "g",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {
                                "zone_id": {"type": "STRING", "maxLength": "5"},
                                "tags": {
                                    "type": "ARRAY",
                                    "items": {"type": "STRING", "minLength": "1"},
                                },
                                "either": {"anyOf": [{"type": "STRING", "maxLength": "2"}]},
                            },
                            "required": ["zone_id"],
                        },
                    },
                ]
            }
        ],
        "generationConfig": {"responseJsonSchema": {"properties": {"snake_key": {}}}},
        "labels": {"team_name": "search"},
    }


def test_a_field_under_both_names_is_refused() -> None:
    with pytest.raises(ConversionError) as caught:
        camel_case_fields({"contents": [], "generationConfig": {}, "generation_config": {}})
    assert caught.value.param == "generationConfig"
    with pytest.raises(ConversionError) as caught:
        camel_case_fields(
            {"contents": [{"parts": [{"inlineData": {"mimeType": "a", "mime_type": "b"}}]}]}
        )
    assert caught.value.param == "contents[0].parts[0].inlineData.mimeType"


def test_snake_case_images_and_schema_translate_to_openai() -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"inline_data": {"data": "AAAA", "mime_type": "image/webp"}},
                    {
                        "file_data": {
                            "file_uri": "https://example.com/a.png",
                            "mime_type": "image/png",
                        }
                    },
                    {"text": "what is it?"},
                ],
            }
        ],
        "tools": [
            {
                "function_declarations": [
                    {
                        "name": "look",
                        "parameters_json_schema": {
                            "type": "object",
                            "properties": {"item_name": {"type": "string"}},
                        },
                    }
                ]
            }
        ],
        "generation_config": {"max_output_tokens": 12},
    }
    assert gemini_request_to_openai(body, upstream_model="gpt-4o", stream=False) == {
        "model": "gpt-4o",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/webp;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    {"type": "text", "text": "what is it?"},
                ],
            }
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "look",
                    "parameters": {
                        "type": "object",
                        "properties": {"item_name": {"type": "string"}},
                    },
                },
            }
        ],
        "max_completion_tokens": 12,
    }


def test_url_safe_unpadded_base64_becomes_standard_base64() -> None:
    # proto3 JSON bytes may be URL-safe and unpadded; the google-genai SDK sends them so
    part = {"inline_data": {"data": "iVBORw0KGgo_-w", "mime_type": "image/png"}}
    body = {"contents": [{"role": "user", "parts": [part, {"text": "x"}]}]}
    out = gemini_request_to_openai(body, upstream_model="m", stream=False)
    assert out["messages"][0]["content"][0] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo/+w=="},
    }
