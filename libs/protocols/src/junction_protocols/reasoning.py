"""How much a model may think, in each protocol: the one mapping every translator uses.

The three protocols name the same knob differently:

- OpenAI Chat Completions: ``reasoning_effort`` (``none``, ``minimal``,
  ``low``, ``medium``, ``high``); ``reasoning: {"effort": ...}`` is read too.
- Anthropic Messages: ``thinking: {"type": "enabled", "budget_tokens": N}``
  (N ≥ 1024 and below ``max_tokens``), ``{"type": "disabled"}``, or
  ``{"type": "adaptive"}``; newer models also take ``output_config.effort``.
- Gemini: ``generationConfig.thinkingConfig`` with ``thinkingBudget`` (tokens,
  ``0`` off, ``-1`` dynamic), ``thinkingLevel`` (Gemini 3) and
  ``includeThoughts`` (send thought summaries back).

Effort → budget:

    effort    Anthropic budget_tokens   Gemini thinkingBudget
    none      (thinking not enabled)    0
    minimal   1024                      512
    low       2048                      1024
    medium    8192                      8192
    high      24576                     24576

Budget → effort (Anthropic ``budget_tokens`` or Gemini ``thinkingBudget``
toward an OpenAI provider): below 4096 → ``low``, below 16384 → ``medium``,
otherwise ``high``. Thinking that is off (``disabled``, budget ``0``) or left to
the model (``adaptive``, budget ``-1``) sends no ``reasoning_effort``: the
provider's default applies, and a model without reasoning is not refused
over it. ``thinkingLevel`` and ``output_config.effort`` name an effort
already (``max`` → ``high``).

Anthropic ↔ Gemini keep the exact budget (both count tokens); a Gemini
budget under 1024 is raised to Anthropic's minimum, a dynamic one (``-1``) is
the ``medium`` budget toward Anthropic, and Anthropic's ``adaptive`` thinking
is Gemini's dynamic budget (``-1``).

Anthropic's rules, applied whenever thinking is turned on toward it
(``enable_anthropic_thinking``): the budget is at least 1024; ``max_tokens``
must exceed it, so a ``max_tokens`` at or under the budget becomes
budget + ``max_tokens`` (the client's cap stays the room left for the
answer); ``temperature`` other than 1 is dropped, ``top_p`` is raised to 0.95
at least and ``top_k`` is dropped (Anthropic refuses them with thinking); a
forced ``tool_choice`` (``any``/``tool``) cannot be combined with thinking,
so thinking is left off then (the client's explicit tool choice wins).

Toward Gemini, thinking asked for by the client also sets
``includeThoughts: true`` so the reasoning text comes back (as OpenAI
``reasoning_content`` or Anthropic thinking blocks).
"""

from __future__ import annotations

from typing import Any

from .errors import ConversionError

__all__ = [
    "ANTHROPIC_BUDGET",
    "ANTHROPIC_MIN_BUDGET",
    "EFFORTS",
    "GEMINI_BUDGET",
    "anthropic_budget_of",
    "anthropic_effort_of",
    "effort_for_budget",
    "enable_anthropic_thinking",
    "gemini_budget_of",
    "gemini_effort_of",
    "gemini_thinking_config",
    "openai_effort_of",
]

EFFORTS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high")
ANTHROPIC_MIN_BUDGET = 1024
ANTHROPIC_BUDGET: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
GEMINI_BUDGET: dict[str, int] = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
}
_LOW_BELOW = 4096
_MEDIUM_BELOW = 16384
_LEVELS = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high", "max": "high"}
_ANTHROPIC_TOP_P_FLOOR = 0.95


def openai_effort_of(body: dict[str, Any]) -> str | None:
    """The effort an OpenAI request asks for (None: not said); ConversionError if unknown."""
    effort = body.get("reasoning_effort")
    param = "reasoning_effort"
    reasoning = body.get("reasoning")
    if effort is None and isinstance(reasoning, dict):
        effort, param = reasoning.get("effort"), "reasoning.effort"
    if effort is None:
        return None
    if effort not in EFFORTS:
        raise ConversionError(f"unknown reasoning_effort '{effort}'", param)
    return str(effort)


def effort_for_budget(budget: int) -> str | None:
    """The OpenAI effort for a thinking budget in tokens (None: off or dynamic)."""
    if budget <= 0:
        return None
    if budget < _LOW_BELOW:
        return "low"
    if budget < _MEDIUM_BELOW:
        return "medium"
    return "high"


def anthropic_budget_of(body: dict[str, Any]) -> int | None:
    """The ``budget_tokens`` of an Anthropic request with thinking enabled, else None.

    ``adaptive`` thinking (the model decides) is ``-1``, Gemini's dynamic budget.
    """
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        return None
    if thinking.get("type") == "adaptive":
        return -1
    budget = thinking.get("budget_tokens")
    if thinking.get("type") != "enabled" or not isinstance(budget, int) or budget <= 0:
        return None
    return budget


def anthropic_effort_of(body: dict[str, Any]) -> str | None:
    """The OpenAI effort for an Anthropic request (thinking or ``output_config.effort``)."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = anthropic_budget_of(body)
        return None if budget is None else effort_for_budget(budget)
    config = body.get("output_config")
    level = config.get("effort") if isinstance(config, dict) else None
    return _LEVELS.get(level) if isinstance(level, str) else None


def gemini_effort_of(config: dict[str, Any]) -> str | None:
    """The OpenAI effort for a Gemini ``thinkingConfig`` (None: off, dynamic or unset)."""
    level = config.get("thinkingLevel")
    if isinstance(level, str) and level.lower() in _LEVELS:
        return _LEVELS[level.lower()]
    budget = config.get("thinkingBudget")
    return effort_for_budget(budget) if isinstance(budget, int) else None


def gemini_budget_of(config: dict[str, Any]) -> int | None:
    """The Anthropic ``budget_tokens`` for a Gemini ``thinkingConfig`` (None: no thinking)."""
    level = config.get("thinkingLevel")
    if isinstance(level, str) and level.lower() in _LEVELS:
        return ANTHROPIC_BUDGET[_LEVELS[level.lower()]]
    budget = config.get("thinkingBudget")
    if not isinstance(budget, int) or budget == 0:
        return None
    if budget < 0:
        return ANTHROPIC_BUDGET["medium"]
    return max(budget, ANTHROPIC_MIN_BUDGET)


def gemini_thinking_config(*, effort: str | None = None, budget: int | None = None) -> Any:
    """The Gemini ``thinkingConfig`` for an OpenAI effort or an exact budget (None: unset)."""
    if budget is not None:
        return {"thinkingBudget": budget, "includeThoughts": True}
    if effort is None:
        return None
    config: dict[str, Any] = {"thinkingBudget": GEMINI_BUDGET[effort]}
    if effort != "none":
        config["includeThoughts"] = True
    return config


def enable_anthropic_thinking(out: dict[str, Any], budget: int) -> None:
    """Turn thinking on in the Anthropic request ``out``, under Anthropic's rules.

    ``out`` must already hold ``max_tokens``. Left off when the request forces a
    tool (Anthropic refuses thinking with ``tool_choice`` any/tool).
    """
    choice = out.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        return
    budget = max(budget, ANTHROPIC_MIN_BUDGET)
    max_tokens = out.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens <= budget:
        visible = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else budget
        out["max_tokens"] = budget + visible
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if out.get("temperature") not in (None, 1, 1.0):
        del out["temperature"]
    top_p = out.get("top_p")
    if isinstance(top_p, int | float) and top_p < _ANTHROPIC_TOP_P_FLOOR:
        out["top_p"] = _ANTHROPIC_TOP_P_FLOOR
    out.pop("top_k", None)
