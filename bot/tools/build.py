"""`build_tool_host`: the one place that knows which tools exist with the current settings.

For the composition root (`bot.app`): build the host, `await host.start(deliveries)` once the
adapters' deliveries exist, `await host.close()` at shutdown.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.clock import Clock
from bot.core.toolhost import TurnResumer
from bot.ports import Retriever
from bot.settings import Settings
from bot.tools.approvals import ApprovalStore
from bot.tools.builtin.calculator import calculator_tool
from bot.tools.builtin.current_time import current_time_tool
from bot.tools.builtin.http import http_request_tool
from bot.tools.builtin.knowledge import search_knowledge_tool
from bot.tools.builtin.schedule import MessageScheduler, schedule_message_tool
from bot.tools.host import ApprovingToolHost, HostLimits
from bot.tools.plugins import load_plugin_tools
from bot.tools.registry import Tool, ToolRegistry
from bot.tools.wallclock import WallClock


def builtin_tools(
    settings: Settings, *, retriever: Retriever | None, scheduler: MessageScheduler | None
) -> list[Tool]:
    tools = [current_time_tool(), calculator_tool()]
    if retriever is not None:
        tools.append(search_knowledge_tool(retriever))
    if settings.http_tool_allowed_hosts:
        tools.append(http_request_tool(settings.http_tool_allowed_hosts))
    if scheduler is not None:
        tools.append(schedule_message_tool(scheduler))
    return tools


def build_tool_host(
    settings: Settings,
    *,
    store: ApprovalStore,
    retriever: Retriever | None,
    resumer: TurnResumer,
    clock: Clock,
    scheduler: MessageScheduler | None = None,
    extra_tools: Iterable[Tool] = (),
    plugins: bool = True,
) -> ApprovingToolHost:
    """The host with the built-in tools, `extra_tools` and the `parley.tools` plugins."""
    tools = builtin_tools(settings, retriever=retriever, scheduler=scheduler)
    tools.extend(extra_tools)
    if plugins:
        tools.extend(load_plugin_tools(settings))
    limits = HostLimits(
        approval_timeout_s=settings.approval_timeout_s,
        max_steps=settings.tool_max_steps,
        turn_timeout_s=settings.tool_turn_timeout_s,
        admins=settings.admin_users,
    )
    return ApprovingToolHost(
        registry=ToolRegistry(tools),
        store=store,
        resumer=resumer,
        wall=WallClock(clock),
        limits=limits,
        scheduler=scheduler,
    )
