"""The console adapter: chat with Parley in a terminal, or pipe lines through it."""

from adapters.console.adapter import ConsoleAdapter

__all__ = ["ConsoleAdapter"]
