"""Reasoning effort ↔ thinking budgets, in every request direction (``reasoning``'s table)."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types as gemini_types

from junction_protocols.convert import get_converter
from junction_protocols.errors import ConversionError
from junction_protocols.reasoning import ANTHROPIC_BUDGET, GEMINI_BUDGET, effort_for_budget

USER = [{"role": "user", "content": "Why is the sky blue?"}]
GEMINI_USER = [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}]


def request(client: str, provider: str, body: dict[str, Any]) -> dict[str, Any]:
    converter = get_converter(client, provider)  # type: ignore[arg-type]
    return converter.request(body, upstream_model="up", stream=False)


def gemini_config(out: dict[str, Any]) -> gemini_types.GenerateContentConfig:
    """The generation config as the google-genai SDK reads it."""
    return gemini_types.GenerateContentConfig.model_validate(out.get("generationConfig") or {})


@pytest.mark.parametrize(
    ("effort", "budget"), [("minimal", 1024), ("low", 2048), ("medium", 8192), ("high", 24576)]
)
def test_openai_effort_becomes_an_anthropic_thinking_budget(effort: str, budget: int) -> None:
    out = request(
        "openai", "anthropic", {"messages": USER, "reasoning_effort": effort, "max_tokens": 64000}
    )
    assert out["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert out["max_tokens"] == 64000


def test_anthropic_max_tokens_is_raised_above_the_budget() -> None:
    out = request("openai", "anthropic", {"messages": USER, "reasoning_effort": "medium"})
    # the default 4096 would not leave room for an 8192 budget: it becomes the answer's room
    assert out["max_tokens"] == 8192 + 4096
    out = request(
        "openai",
        "anthropic",
        {"messages": USER, "reasoning_effort": "low", "max_completion_tokens": 2048},
    )
    assert out["max_tokens"] == 4096
    assert out["max_tokens"] > out["thinking"]["budget_tokens"]


def test_sampling_overrides_anthropic_refuses_with_thinking_are_adjusted() -> None:
    out = request(
        "openai",
        "anthropic",
        {"messages": USER, "reasoning_effort": "low", "temperature": 0.2, "top_p": 0.5},
    )
    assert "temperature" not in out
    assert out["top_p"] == 0.95
    plain = request("openai", "anthropic", {"messages": USER, "temperature": 0.2, "top_p": 0.5})
    assert (plain["temperature"], plain["top_p"]) == (0.2, 0.5)
    assert "thinking" not in plain


def test_a_forced_tool_choice_leaves_anthropic_thinking_off() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    out = request(
        "openai",
        "anthropic",
        {"messages": USER, "reasoning_effort": "high", "tools": [tool], "tool_choice": "required"},
    )
    assert out["tool_choice"] == {"type": "any"}
    assert "thinking" not in out


def test_effort_none_turns_no_thinking_on_and_unknown_effort_is_refused() -> None:
    assert "thinking" not in request(
        "openai", "anthropic", {"messages": USER, "reasoning_effort": "none"}
    )
    for provider in ("anthropic", "gemini"):
        with pytest.raises(ConversionError) as info:
            request("openai", provider, {"messages": USER, "reasoning_effort": "extreme"})
        assert info.value.param == "reasoning_effort"


def test_reasoning_object_is_read_like_reasoning_effort() -> None:
    out = request("openai", "anthropic", {"messages": USER, "reasoning": {"effort": "high"}})
    assert out["thinking"]["budget_tokens"] == ANTHROPIC_BUDGET["high"]
    out = request("openai", "gemini", {"messages": USER, "reasoning": {"effort": "medium"}})
    assert gemini_config(out).thinking_config.thinking_budget == 8192  # type: ignore[union-attr]


@pytest.mark.parametrize("effort", ["none", "minimal", "low", "medium", "high"])
def test_openai_effort_becomes_a_gemini_thinking_budget(effort: str) -> None:
    out = request("openai", "gemini", {"messages": USER, "reasoning_effort": effort})
    thinking = gemini_config(out).thinking_config
    assert thinking is not None
    assert thinking.thinking_budget == GEMINI_BUDGET[effort]
    # thoughts come back when the client asked for reasoning
    assert thinking.include_thoughts is (True if effort != "none" else None)


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(1024, "low"), (4095, "low"), (4096, "medium"), (16383, "medium"), (16384, "high")],
)
def test_anthropic_budget_becomes_an_openai_effort(budget: int, effort: str) -> None:
    body = {
        "model": "m",
        "max_tokens": 32000,
        "messages": USER,
        "thinking": {"type": "enabled", "budget_tokens": budget},
    }
    assert request("anthropic", "openai", body)["reasoning_effort"] == effort
    assert effort_for_budget(budget) == effort


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"thinking": {"type": "disabled"}},
        {"thinking": {"type": "adaptive"}},
    ],
)
def test_anthropic_thinking_off_or_adaptive_sends_no_effort(extra: dict[str, Any]) -> None:
    body = {"model": "m", "max_tokens": 100, "messages": USER, **extra}
    assert "reasoning_effort" not in request("anthropic", "openai", body)


def test_anthropic_output_config_effort_becomes_an_openai_effort() -> None:
    body = {"model": "m", "max_tokens": 100, "messages": USER, "output_config": {"effort": "max"}}
    assert request("anthropic", "openai", body)["reasoning_effort"] == "high"


@pytest.mark.parametrize(
    ("config", "effort"),
    [
        (gemini_types.ThinkingConfig(thinking_budget=512), "low"),
        (gemini_types.ThinkingConfig(thinking_budget=8192), "medium"),
        (gemini_types.ThinkingConfig(thinking_budget=24576), "high"),
        (gemini_types.ThinkingConfig(thinking_level=gemini_types.ThinkingLevel.HIGH), "high"),
        (gemini_types.ThinkingConfig(thinking_budget=0), None),
        (gemini_types.ThinkingConfig(thinking_budget=-1), None),
    ],
)
def test_gemini_thinking_config_becomes_an_openai_effort(
    config: gemini_types.ThinkingConfig, effort: str | None
) -> None:
    generation = gemini_types.GenerateContentConfig(thinking_config=config)
    body = {
        "contents": GEMINI_USER,
        "generationConfig": generation.model_dump(mode="json", exclude_none=True, by_alias=True),
    }
    assert request("gemini", "openai", body).get("reasoning_effort") == effort


def test_anthropic_budget_reaches_gemini_exactly() -> None:
    body = {
        "model": "m",
        "max_tokens": 8000,
        "messages": USER,
        "thinking": {"type": "enabled", "budget_tokens": 3000},
    }
    thinking = gemini_config(request("anthropic", "gemini", body)).thinking_config
    assert thinking is not None
    assert (thinking.thinking_budget, thinking.include_thoughts) == (3000, True)
    adaptive = {**body, "thinking": {"type": "adaptive"}}
    thinking = gemini_config(request("anthropic", "gemini", adaptive)).thinking_config
    assert thinking is not None
    assert thinking.thinking_budget == -1


@pytest.mark.parametrize(
    ("gemini_budget", "anthropic_budget"), [(3000, 3000), (100, 1024), (-1, 8192)]
)
def test_gemini_budget_reaches_anthropic_exactly_within_its_rules(
    gemini_budget: int, anthropic_budget: int
) -> None:
    body = {
        "contents": GEMINI_USER,
        "generationConfig": {
            "maxOutputTokens": 500,
            "temperature": 0.3,
            "thinking_config": {"thinking_budget": gemini_budget},  # proto3 snake case
        },
    }
    out = request("gemini", "anthropic", body)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": anthropic_budget}
    assert out["max_tokens"] == anthropic_budget + 500
    assert "temperature" not in out


def test_gemini_thinking_off_sends_no_anthropic_thinking() -> None:
    body = {"contents": GEMINI_USER, "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}
    assert "thinking" not in request("gemini", "anthropic", body)
