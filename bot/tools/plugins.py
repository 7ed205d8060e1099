"""Operator tools from the `parley.tools` entry-point group.

A package declares, in its pyproject.toml:

    [project.entry-points."parley.tools"]
    tickets = "acme_parley.tools:make_tools"

The object named is a `bot.tools.Tool`, or a callable taking the app's `Settings` and returning a
`Tool` or an iterable of them. A plugin that fails to load, or returns something else, stops the
start-up with a `ConfigError` naming the entry point: a half-loaded tool set is worse than none.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from bot.errors import ConfigError
from bot.settings import Settings
from bot.tools.registry import Tool

GROUP = "parley.tools"


def load_plugin_tools(settings: Settings, eps: Iterable[EntryPoint] | None = None) -> list[Tool]:
    found: list[Tool] = []
    for ep in entry_points(group=GROUP) if eps is None else eps:
        where = f"entry point {ep.name!r} ({ep.value}) in group {GROUP!r}"
        try:
            obj = ep.load()
            made = obj if isinstance(obj, Tool) else obj(settings)
        except Exception as exc:
            raise ConfigError(
                f"{where} failed to load: {exc!r}. Fix or uninstall the plugin."
            ) from exc
        tools = list(made) if isinstance(made, Iterable) else [made]
        bad = [t for t in tools if not isinstance(t, Tool)]
        if bad:
            raise ConfigError(f"{where} returned {bad[0]!r}, not a bot.tools.Tool.")
        found.extend(tools)
    return found
