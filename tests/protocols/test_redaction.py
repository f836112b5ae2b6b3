"""One credential's redactor: every trace of the key goes, ordinary text stays."""

from __future__ import annotations

import base64
import os
import re
from urllib.parse import quote, quote_plus

import pytest

from junction_protocols.convert import get_converter
from junction_protocols.errors import Protocol
from junction_protocols.redaction import MARK, SecretRedactor, without_vendor_prefix

KEY = "sk-proj-Qw3rTy+Ui9/Op0=As5Df6Gh7Jk8Lz1Xc"
RAW = KEY.encode()


def test_vendor_prefixes_come_off_at_every_point_a_provider_may_quote_from() -> None:
    assert without_vendor_prefix("sk-ant-api03-AbCdEf123456") == [
        "ant-api03-AbCdEf123456",
        "api03-AbCdEf123456",
        "AbCdEf123456",
    ]
    assert without_vendor_prefix("AIzaSyAbCdEf123456") == ["SyAbCdEf123456"]
    assert without_vendor_prefix("plainkey123456") == []


@pytest.mark.parametrize(
    "echo",
    [
        KEY,
        KEY[len("sk-proj-") :],
        KEY[5:17],  # a fragment of 12
        KEY[-8:],  # the shortest fragment removed
        base64.b64encode(RAW).decode(),
        base64.urlsafe_b64encode(RAW).decode(),
        base64.b64encode(b"user:" + RAW).decode(),  # basic auth: the key at offset 2
        base64.b64encode(b"u:" + RAW).decode(),  # ...at offset 2 of a group
        base64.b64encode(b"api:" + RAW).decode(),  # ...at offset 1
        base64.urlsafe_b64encode(b"ab:" + RAW).decode(),
        quote(KEY, safe=""),
        quote(KEY),
        quote_plus(KEY),
        re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(KEY, safe="")),
        RAW.hex(),
        RAW.hex().upper(),
    ],
)
def test_every_form_of_the_key_is_removed(echo: str) -> None:
    redact = SecretRedactor(KEY)
    out = redact(f'{{"message": "Incorrect API key provided: {echo}. See the docs."}}')
    assert MARK in out
    assert out.startswith('{"message": "Incorrect API key provided: ')
    assert out.endswith('. See the docs."}')
    echoed = out.split("provided: ")[1].split(". See")[0]
    # what survives is what precedes the key in a blob (`dXNlcjp` for `user:`), or
    # the last base64 group the key shares with the padding: never 8 characters of it
    assert all(len(piece) < 8 for piece in echoed.split(MARK)), echoed


def test_ordinary_text_is_left_alone() -> None:
    redact = SecretRedactor(KEY)
    text = (
        "The model gpt-4o-mini does not exist or you do not have access to it; "
        "messages.0.content must be a string (request req_0123456789abcdef)."
    )
    assert redact(text) == text


def test_a_key_split_by_a_message_cut_or_spread_over_words_is_removed() -> None:
    redact = SecretRedactor(KEY)
    assert redact(f"key {KEY[:-5]}…") == f"key {MARK}…"
    assert redact(f"{KEY[:12]} and {KEY[12:]}") == f"{MARK} and {MARK}"


def test_short_keys_are_removed_whole_and_tiny_ones_not_at_all() -> None:
    assert SecretRedactor("abc12")("the key abc12 failed") == f"the key {MARK} failed"
    assert SecretRedactor("ab")("ab ab") == "ab ab"


def test_redacting_twice_changes_nothing_more() -> None:
    redact = SecretRedactor(KEY)
    once = redact(f"{KEY} {base64.b64encode(RAW).decode()}")
    assert redact(once) == once


def test_a_64_kib_body_of_key_alphabet_is_scanned_once() -> None:
    # a body made entirely of the key's alphabet is the worst case: one run, scanned linearly
    noise = base64.b64encode(os.urandom(48 * 1024)).decode()
    body = noise[:30000] + KEY + noise[30000:]
    out = SecretRedactor(KEY)(body)
    assert KEY not in out
    assert out.count(MARK) >= 1
    assert len(out) <= len(body)


@pytest.mark.parametrize(
    ("client", "provider", "event"),
    [
        ("openai", "openai", f'data: {{"error": {{"message": "bad key {KEY}"}}}}\n\n'),
        (
            "openai",
            "anthropic",
            'event: error\ndata: {"type": "error", "error": {"type": "api_error", '
            f'"message": "bad key {KEY}"}}}}\n\n',
        ),
        ("anthropic", "gemini", f'data: {{"error": {{"code": 500, "message": "bad {KEY}"}}}}\n\n'),
    ],
)
def test_a_streams_error_event_is_scrubbed_before_the_client_sees_it(
    client: Protocol, provider: Protocol, event: str
) -> None:
    stream = get_converter(client, provider).stream(
        model="m", include_usage=False, scrub=SecretRedactor(KEY)
    )
    out = stream.feed_bytes(event.encode()).decode()
    assert stream.failed
    assert KEY[8:] not in out
    assert MARK in out
