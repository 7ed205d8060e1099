"""The price table: US dollars per million input and output tokens, by model.

A model is priced by the longest entry its name starts with, so a dated snapshot
("gpt-4o-mini-2024-07-18", "claude-sonnet-4-5-20250929") is priced like its family and a more
specific family ("gpt-4o-mini") wins over a shorter one ("gpt-4o"). LLM_PRICES adds entries or
replaces these defaults; a model that matches nothing (a local model behind OPENAI_BASE_URL)
has no price, and its calls are counted in tokens with the cost shown as unknown, never as $0.

The defaults are the providers' list prices for standard (non-batch, uncached) tokens as
published in late 2025; check them against the providers' pricing pages and override any that
changed. Estimates ignore cached-input discounts and long-context surcharges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Price:
    input_per_mtok: float
    """Dollars per million input (prompt) tokens."""
    output_per_mtok: float
    """Dollars per million output (completion) tokens."""

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


DEFAULT_PRICES: Mapping[str, tuple[float, float]] = {
    # OpenAI
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o1-mini": (1.10, 4.40),
    "o1-pro": (150.00, 600.00),
    "o3": (2.00, 8.00),
    "o3-pro": (20.00, 80.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    # Anthropic
    "claude-opus-4-5": (5.00, 25.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-opus": (15.00, 75.00),
    "claude-3-haiku": (0.25, 1.25),
}


class PriceTable:
    def __init__(self, overrides: Mapping[str, tuple[float, float]] | None = None) -> None:
        merged = {**DEFAULT_PRICES, **(overrides or {})}
        self._prices = {
            name.lower(): Price(input_per_mtok=i, output_per_mtok=o)
            for name, (i, o) in merged.items()
        }
        # Longest first: the first entry a model name starts with is the most specific one.
        self._order = sorted(self._prices, key=len, reverse=True)

    def price(self, model: str) -> Price | None:
        name = model.lower()
        for entry in self._order:
            if name.startswith(entry):
                return self._prices[entry]
        return None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        """Estimated dollars for one call, or None when the model has no price."""
        price = self.price(model)
        return None if price is None else price.cost(input_tokens, output_tokens)
