"""junction_mockllm: a deterministic mock LLM upstream speaking OpenAI, Anthropic and Gemini."""

from junction_mockllm.app import create_app
from junction_mockllm.settings import MockSettings

__all__ = ["MockSettings", "create_app"]
