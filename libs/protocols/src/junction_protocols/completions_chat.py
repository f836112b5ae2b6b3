"""OpenAI legacy completions client → a Chat Completions provider: request and response.

The stream direction lives in ``completions_chat_stream``. Providers that
speak Anthropic Messages or Gemini are reached through the existing Chat
Completions translators.

Request rules (``POST /v1/completions`` → Chat Completions):

- ``prompt``, a string or a list holding one string, → one ``user`` message.
  Several prompts in one request, token-array prompts, ``suffix``, ``echo``,
  ``logprobs`` and ``best_of`` > 1 have no chat form and raise
  ``ConversionError``.
- ``max_tokens`` is kept, and defaults to 16 as the completions API documents.
- kept as they are: ``temperature``, ``top_p``, ``n``, ``stop``,
  ``presence_penalty``, ``frequency_penalty``, ``seed``, ``logit_bias``,
  ``user``, ``stream``, ``stream_options``.

Response rules (chat.completion → ``text_completion``): each choice's
message text → ``text``; ``finish_reason`` kept, but ``tool_calls`` (which
the completions API has no word for) → ``stop``; usage kept (same names).
The id keeps the random part of the chat completion's: ``cmpl-…``.
"""

from __future__ import annotations

from typing import Any

from .errors import ConversionError
from .fields import as_dict, as_list
from .ids import now, openai_completion_id
from .usage import from_openai

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "chat_response_to_completion",
    "completion_choice",
    "completion_id",
    "completions_request_to_chat",
]

Body = dict[str, Any]
#: the completions API's own default for ``max_tokens``
DEFAULT_MAX_TOKENS = 16
_KEPT = (
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "logit_bias",
    "user",
    "stream_options",
)
_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter"}


def completions_request_to_chat(body: Body) -> Body:
    """Translate a legacy completions request into a Chat Completions request."""
    for field, why in (("suffix", "suffix"), ("echo", "echo"), ("logprobs", "logprobs")):
        if body.get(field) not in (None, False):
            raise ConversionError(f"{why} is not available for this model", field)
    best_of = body.get("best_of")
    if best_of is not None and best_of != 1:
        raise ConversionError("best_of is not available for this model; it must be 1", "best_of")
    out: Body = {
        "model": body.get("model"),
        "messages": [{"role": "user", "content": _prompt(body.get("prompt"))}],
    }
    max_tokens = body.get("max_tokens")
    out["max_tokens"] = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    for field in _KEPT:
        if body.get(field) is not None:
            out[field] = body[field]
    if body.get("stream"):
        out["stream"] = True
    return out


def _prompt(prompt: Any) -> str:
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
        raise ConversionError("this model answers one prompt per request", "prompt")
    raise ConversionError("'prompt' must be a string (token arrays are not supported)", "prompt")


def completion_id(source: object) -> str:
    """A ``cmpl-`` id carrying the random part of a chat completion id."""
    return "cmpl-" + openai_completion_id(source).removeprefix("chatcmpl-")


def completion_choice(index: int, text: str, finish_reason: object) -> Body:
    """One ``text_completion`` choice."""
    finish = _FINISH.get(finish_reason, "stop") if isinstance(finish_reason, str) else None
    return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}


def chat_response_to_completion(chat: Body, *, model: str) -> Body:
    """The ``text_completion`` object for a ``chat.completion`` answer."""
    choices = []
    for position, choice in enumerate(as_list(chat.get("choices"))):
        choice = as_dict(choice)
        content = as_dict(choice.get("message")).get("content")
        index = choice.get("index")
        choices.append(
            completion_choice(
                index if isinstance(index, int) else position,
                content if isinstance(content, str) else "",
                choice.get("finish_reason") or "stop",
            )
        )
    created = chat.get("created")
    usage = from_openai(chat.get("usage"))
    return {
        "id": completion_id(chat.get("id")),
        "object": "text_completion",
        "created": created if isinstance(created, int) else now(),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        },
    }
