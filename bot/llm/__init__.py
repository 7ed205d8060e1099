"""LLM providers behind one streaming interface (see `bot.llm.types`).

`build_chat_model(settings)` gives the `LLMRouter` the core uses; the provider SDKs are imported
only for the providers that are configured.
"""

from bot.llm.router import LLMRouter, build_chat_model

__all__ = ["LLMRouter", "build_chat_model"]
