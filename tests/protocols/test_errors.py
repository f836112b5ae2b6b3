"""Error bodies per client protocol, redaction and provider error messages."""

from __future__ import annotations

import pytest

from junction_protocols.errors import (
    ConversionError,
    anthropic_error_body,
    error_for,
    gemini_error_body,
    openai_error_body,
    provider_error_message,
    redact,
)


def test_body_shapes() -> None:
    assert openai_error_body("bad", type="invalid_request_error", param="n") == {
        "error": {"message": "bad", "type": "invalid_request_error", "param": "n", "code": None}
    }
    assert anthropic_error_body("bad", type="invalid_request_error") == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "bad"},
    }
    assert gemini_error_body("bad", code=400, status="INVALID_ARGUMENT") == {
        "error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}
    }


def test_conversion_error_keeps_message_and_param() -> None:
    err = ConversionError("n must be 1", "n")
    assert (str(err), err.message, err.param) == ("n must be 1", "n must be 1", "n")


@pytest.mark.parametrize(
    ("status", "code", "openai", "anthropic", "gemini"),
    [
        (
            400,
            "invalid_request",
            "invalid_request_error",
            "invalid_request_error",
            "INVALID_ARGUMENT",
        ),
        (401, "invalid_api_key", "authentication_error", "authentication_error", "UNAUTHENTICATED"),
        (403, "model_not_allowed", "permission_error", "permission_error", "PERMISSION_DENIED"),
        (404, "model_not_found", "not_found_error", "not_found_error", "NOT_FOUND"),
        (
            413,
            "request_too_large",
            "invalid_request_error",
            "request_too_large",
            "INVALID_ARGUMENT",
        ),
        (429, "rate_limit_exceeded", "rate_limit_error", "rate_limit_error", "RESOURCE_EXHAUSTED"),
        (429, "insufficient_quota", "insufficient_quota", "rate_limit_error", "RESOURCE_EXHAUSTED"),
        (402, "insufficient_quota", "insufficient_quota", "billing_error", "RESOURCE_EXHAUSTED"),
        (500, "internal_error", "api_error", "api_error", "INTERNAL"),
        (502, "upstream_error", "api_error", "api_error", "UNAVAILABLE"),
        (503, "no_deployment", "service_unavailable_error", "overloaded_error", "UNAVAILABLE"),
        (504, "upstream_timeout", "timeout_error", "timeout_error", "DEADLINE_EXCEEDED"),
        (529, "upstream_overloaded", "overloaded_error", "overloaded_error", "UNAVAILABLE"),
        (418, "teapot", "invalid_request_error", "invalid_request_error", "FAILED_PRECONDITION"),
        (599, "odd", "api_error", "api_error", "INTERNAL"),
    ],
)
def test_error_for_picks_each_protocols_type_for_a_status(
    status: int, code: str, openai: str, anthropic: str, gemini: str
) -> None:
    assert error_for("openai", status, "m", code=code) == {
        "error": {"message": "m", "type": openai, "param": None, "code": code}
    }
    assert error_for("anthropic", status, "m", code=code)["error"]["type"] == anthropic
    assert error_for("gemini", status, "m", code=code) == {
        "error": {"code": status, "message": "m", "status": gemini}
    }


def test_error_for_unknown_protocol() -> None:
    with pytest.raises(ValueError):
        error_for("cohere", 400, "m", code="x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "Incorrect API key provided: sk-proj-AbCdEf1234567890abcdef.",
            "sk-proj-AbCdEf1234567890abcdef",
        ),
        (
            "invalid x-api-key sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUV_wxyz",
            "sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUV_wxyz",
        ),
        (
            "API key not valid: AIzaSyD-abcdefghijklmnopqrstuvwxyz12345",
            "AIzaSyD-abcdefghijklmnopqrstuvwxyz12345",
        ),
        ("header was Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.abc", "eyJhbGciOi.JIUzI1NiJ9.abc"),
        ("GET /v1beta/models/x:generate?alt=sse&key=secretvalue123 failed", "secretvalue123"),
        (
            "could not reach https://my-resource.openai.azure.com/openai/deployments/x",
            "my-resource",
        ),
        ("connect to internal-llm.prod.svc.cluster.local:8443 refused", "internal-llm"),
        ("upstream 10.2.3.4:8080 timed out", "10.2.3.4"),
        ("proxy at localhost:9999 closed", "localhost:9999"),
        ("x-api-key: abc123secret was rejected", "abc123secret"),
    ],
)
def test_redact_removes_keys_tokens_urls_and_hosts(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert cleaned  # the rest of the message survives


def test_redact_keeps_ordinary_provider_prose() -> None:
    text = (
        "Invalid value for 'messages.0.content': expected a string. "
        "max_tokens: 100000 > 64000, which is the maximum for claude-sonnet-4-5. "
        "Use gpt-4.1 or task-specific models."
    )
    assert redact(text) == text


def test_provider_error_message_of_each_protocol() -> None:
    openai = b'{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit"}}'
    anthropic = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    gemini = b'{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}'
    assert provider_error_message("openai", openai) == "Rate limit reached"
    assert provider_error_message("anthropic", anthropic) == "Overloaded"
    assert provider_error_message("gemini", gemini) == "API key not valid."


def test_provider_error_message_is_redacted() -> None:
    body = b'{"error":{"message":"Incorrect API key provided: sk-abcdefghijklmnopqrstuvwx"}}'
    message = provider_error_message("openai", body)
    assert "sk-abcdefghijklmnopqrstuvwx" not in message
    assert message.startswith("Incorrect API key provided")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "the provider returned an error without a message"),
        (
            b"<html><body>502 Bad Gateway</body></html>",
            "the provider returned a non-JSON error page",
        ),
        (b"upstream connect error", "upstream connect error"),
        (b'{"error":"model overloaded"}', "model overloaded"),
        (
            b'[{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}]',
            "Quota exceeded",
        ),
        (b'{"error":{"type":"api_error"}}', "api_error"),
        (b'{"detail":"Not Found"}', "Not Found"),
        (b"\xff\xfe\x00garbage", "\ufffd\ufffd\x00garbage"),
        (b"null", "null"),
        (b"[]", "[]"),
    ],
)
def test_provider_error_message_is_robust_to_garbage(body: bytes, expected: str) -> None:
    assert provider_error_message("openai", body) == expected


def test_provider_error_message_is_bounded() -> None:
    body = b'{"error":{"message":"' + b"word " * 1000 + b'"}}'
    assert len(provider_error_message("anthropic", body)) <= 1000
