"""Chat Completions stream chunks → OpenAI legacy completions stream chunks.

Each chat chunk that carries text or a finish reason becomes one
``text_completion`` chunk (``choices[].text``, ``logprobs: null``,
``finish_reason``); a usage-only chunk (the client asked for
``stream_options.include_usage``) becomes a completions usage chunk with no
choices. ``ChatSSEReshaper`` adds the final ``data: [DONE]``. A failure is
the OpenAI error chunk (``{"error": {...}}``), as the completions API sends it.
"""

from __future__ import annotations

from typing import Any

from .completions_chat import completion_choice, completion_id
from .errors import openai_error_body
from .fields import as_dict, as_list
from .ids import now
from .usage import from_openai

__all__ = ["ChatStreamToCompletions"]

Body = dict[str, Any]
Event = tuple[str | None, Body]


class ChatStreamToCompletions:
    """Chat chunks in, completions chunks out, for one call to ``model``."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._id: str | None = None
        self._created = 0
        self.done = False

    def feed(self, chunk: Body) -> list[Event]:
        """The completions chunk for one chat chunk (none when it says nothing)."""
        if self.done:
            return []
        if self._id is None:
            self._id = completion_id(chunk.get("id"))
            created = chunk.get("created")
            self._created = created if isinstance(created, int) else now()
        choices = []
        for position, choice in enumerate(as_list(chunk.get("choices"))):
            choice = as_dict(choice)
            text = as_dict(choice.get("delta")).get("content")
            finish = choice.get("finish_reason")
            if not text and finish is None:
                continue
            index = choice.get("index")
            choices.append(
                completion_choice(
                    index if isinstance(index, int) else position,
                    text if isinstance(text, str) else "",
                    finish,
                )
            )
        out: Body = {
            "id": self._id,
            "object": "text_completion",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            figures = from_openai(usage)
            out["usage"] = {
                "prompt_tokens": figures.input_tokens,
                "completion_tokens": figures.output_tokens,
                "total_tokens": figures.total_tokens,
            }
        elif not choices:
            return []
        return [(None, out)]

    def close(self) -> list[Event]:
        """Nothing more to write after a clean end (the reshaper adds ``[DONE]``)."""
        self.done = True
        return []

    def fail(self, message: str, code: str | None) -> list[Event]:
        """The OpenAI error chunk that ends the stream."""
        if self.done:
            return []
        self.done = True
        return [(None, openai_error_body(message, type="api_error", code=code))]
