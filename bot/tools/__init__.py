"""Tools the model may call, with durable approvals for the ones that change things.

`registry` (what a tool is, argument checks, risk), `results` (output framed as data),
`approvals` (the state machine and its store protocol), `host` (the `ToolHost` the core calls),
`builtin/` (search_knowledge, current_time, calculator, http_request, schedule_message),
`plugins` (operator tools from the `parley.tools` entry-point group), `build` (wiring).
"""

from bot.tools.approvals import ApprovalRequest, ApprovalStatus, ApprovalStore, PausedTurn
from bot.tools.registry import ApproverPolicy, Risk, Tool, ToolContext, ToolRegistry

__all__ = [
    "ApprovalRequest",
    "ApprovalStatus",
    "ApprovalStore",
    "ApproverPolicy",
    "PausedTurn",
    "Risk",
    "Tool",
    "ToolContext",
    "ToolRegistry",
]
