"""`current_time`: the current date and time, in UTC or an IANA time zone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.tools.registry import Risk, Tool, ToolContext


def _precheck(args: Mapping[str, Any]) -> str | None:
    name = args.get("timezone")
    if not name:
        return None
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris' or 'UTC'."
    return None


async def _run(args: Mapping[str, Any], ctx: ToolContext) -> str:
    zone = str(args.get("timezone") or "UTC")
    local = ctx.now.astimezone(ZoneInfo(zone))
    return f"{local.isoformat(timespec='seconds')} ({zone}, {local:%A})"


def current_time_tool() -> Tool:
    return Tool(
        name="current_time",
        description="The current date and time (ISO 8601), in UTC or the given IANA time zone.",
        parameters={
            "type": "object",
            "properties": {
                "timezone": {"type": "string", "description": "IANA name, e.g. 'America/New_York'"}
            },
            "additionalProperties": False,
        },
        run=_run,
        precheck=_precheck,
        risk=Risk.READ,
        timeout_s=2.0,
        max_output_chars=200,
        status="Checking the time…",
    )
