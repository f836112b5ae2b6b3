"""Which request ids and W3C trace contexts the engine keeps, and which it replaces or drops."""

from __future__ import annotations

import pytest

from junction_engine.request_identity import (
    identify,
    valid_request_id,
    valid_traceparent,
    valid_tracestate,
)

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    "value", ["a", "req-1", "2f1c.9:ab_C-d", "x" * 128, "0123456789abcdef0123456789abcdef"]
)
def test_request_ids_of_1_to_128_safe_characters_are_kept(value: str) -> None:
    assert valid_request_id(value)


@pytest.mark.parametrize(
    "value", ["", "x" * 129, "has space", "new\nline", 'quote"', "ünïcode", "a/b", "a,b"]
)
def test_other_request_ids_are_not(value: str) -> None:
    assert not valid_request_id(value)


@pytest.mark.parametrize(
    "value",
    [
        PARENT,
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        # a later version may be longer, with its own fields after a dash
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
    ],
)
def test_valid_traceparents_are_kept(value: str) -> None:
    assert valid_traceparent(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is forbidden
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # uppercase hex
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  # version 00 is exactly 55
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  # no dash after the flags
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
    ],
)
def test_invalid_traceparents_are_dropped(value: str) -> None:
    assert not valid_traceparent(value)


@pytest.mark.parametrize(
    "value",
    [
        "rojo=00f067aa0ba902b7",
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        "rojo=1 , ,congo=2",  # empty members and spaces around them are allowed
        "tenant@vendor=value",
        ",".join(f"k{n}=v" for n in range(32)),
    ],
)
def test_valid_tracestates_are_kept(value: str) -> None:
    assert valid_tracestate(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "rojo",  # no value
        "Rojo=1",  # keys are lowercase
        "rojo=1,rojo=2",  # a key twice
        "rojo=a=b",  # '=' in a value
        "rojo=a\tb",  # a control character
        ",".join(f"k{n}=v" for n in range(33)),  # more than 32 members
    ],
)
def test_invalid_tracestates_are_dropped(value: str) -> None:
    assert not valid_tracestate(value)


def test_a_valid_client_id_and_trace_context_go_upstream_as_they_came() -> None:
    identity = identify(
        [
            (b"x-request-id", b"client-7"),
            (b"traceparent", PARENT.encode()),
            (b"tracestate", b"rojo=1"),
            (b"tracestate", b"congo=2"),
        ]
    )

    assert (identity.request_id, identity.generated) == ("client-7", False)
    assert identity.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert identity.upstream_headers == {
        "x-request-id": "client-7",
        "traceparent": PARENT,
        "tracestate": "rojo=1,congo=2",
    }
    assert identity.header == (b"x-request-id", b"client-7")


def test_an_invalid_id_is_replaced_and_an_invalid_traceparent_takes_its_tracestate_along() -> None:
    identity = identify(
        [(b"x-request-id", b"bad id"), (b"traceparent", b"nonsense"), (b"tracestate", b"a=1")]
    )

    assert identity.generated
    assert identity.request_id != "bad id"
    assert valid_request_id(identity.request_id)
    assert len(identity.request_id) == 32
    assert identity.trace_id is None
    assert identity.upstream_headers == {"x-request-id": identity.request_id}


def test_two_traceparents_are_one_invalid_one() -> None:
    identity = identify([(b"traceparent", PARENT.encode()), (b"traceparent", PARENT.encode())])

    assert identity.traceparent is None
    assert "traceparent" not in identity.upstream_headers


def test_an_invalid_tracestate_is_dropped_and_the_traceparent_kept() -> None:
    identity = identify([(b"traceparent", PARENT.encode()), (b"tracestate", b"BAD")])

    assert identity.upstream_headers == {
        "x-request-id": identity.request_id,
        "traceparent": PARENT,
    }


def test_each_request_without_an_id_gets_its_own() -> None:
    assert identify([]).request_id != identify([]).request_id
