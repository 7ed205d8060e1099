from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.settings import Settings
from bot.tools.plugins import GROUP, load_plugin_tools
from bot.tools.registry import Risk, Tool, ToolContext


async def _run(args: Mapping[str, Any], ctx: ToolContext) -> str:
    return "ticket created"


def make_tools(settings: Settings) -> list[Tool]:
    return [
        Tool(
            name="create_ticket",
            description="Open a ticket",
            parameters={"type": "object"},
            run=_run,
            risk=Risk.EXTERNAL,
        )
    ]


TICKET = make_tools(Settings())[0]


@pytest.fixture
def plugin_module(monkeypatch: pytest.MonkeyPatch) -> str:
    module = types.ModuleType("acme_parley_tools")
    module.make_tools = make_tools  # type: ignore[attr-defined]
    module.TICKET = TICKET  # type: ignore[attr-defined]
    module.broken = lambda settings: 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "acme_parley_tools", module)
    return "acme_parley_tools"


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


def test_factories_and_tool_objects_load(plugin_module: str) -> None:
    tools = load_plugin_tools(
        Settings(),
        [ep("tickets", f"{plugin_module}:make_tools"), ep("one", f"{plugin_module}:TICKET")],
    )
    assert [t.name for t in tools] == ["create_ticket", "create_ticket"]


def test_broken_plugins_stop_start_up_with_a_named_error(plugin_module: str) -> None:
    with pytest.raises(ConfigError, match=r"entry point 'bad'.*not a bot\.tools\.Tool"):
        load_plugin_tools(Settings(), [ep("bad", f"{plugin_module}:broken")])
    with pytest.raises(ConfigError, match=r"entry point 'gone'.*failed to load"):
        load_plugin_tools(Settings(), [ep("gone", "no_such_module_xyz:tools")])


def test_no_plugins_installed_is_fine() -> None:
    assert load_plugin_tools(Settings()) == []
