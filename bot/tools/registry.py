"""The tool registry: what a tool is, how its arguments are checked, and how results are framed.

A `Tool` is data plus one coroutine. Before anything runs, a call goes through `ToolRegistry.check`:
unknown name → error; arguments that are not JSON or fail the tool's JSON Schema (validated with
`jsonschema`, never by hand) → error; then the tool's own optional `precheck` (e.g. the HTTP host
allowlist) → error. An error becomes a tool message telling the model what was wrong; the call is
not executed. A call that passes is a `CheckedCall` carrying its risk for *these* arguments:
`read` runs at once, `write` / `external` wait for a person's approval.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from bot.llm.types import ChatMessage, ToolCall, ToolSpec
from bot.refs import Author, ConversationRef
from bot.tools.results import error_message

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Risk(StrEnum):
    READ = "read"
    """Reads something; runs without asking."""
    WRITE = "write"
    """Changes something the bot owns or posts (e.g. schedules a message); needs approval."""
    EXTERNAL = "external"
    """Changes something outside the bot (e.g. an HTTP POST); needs approval."""

    @property
    def needs_approval(self) -> bool:
        return self is not Risk.READ


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproverPolicy:
    """Who may approve a call of a tool. Default: the person who asked, and the admins."""

    requester: bool = True
    admins: bool = True
    users: tuple[str, ...] = ()
    """Further `platform:user_id` entries allowed to decide."""

    def allows(self, who: str, *, requested_by: str, admins: Iterable[str]) -> bool:
        """`who`, `requested_by` and `admins` are `platform:user_id` strings."""
        return (
            (self.requester and who == requested_by)
            or (self.admins and who in set(admins))
            or who in self.users
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolContext:
    """What a running tool may know about the call."""

    ref: ConversationRef
    author: Author
    """Who asked (the turn's author), not who approved."""
    call_id: str
    turn_id: str
    now: datetime
    """Wall-clock time, timezone-aware UTC (from the injected clock)."""


Args = Mapping[str, Any]
RunFn = Callable[[Args, ToolContext], Awaitable[str]]
RiskFn = Callable[[Args], Risk]
PrecheckFn = Callable[[Args], str | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Tool:
    name: str
    """`[A-Za-z0-9_-]{1,64}`, as the OpenAI and Anthropic APIs require."""
    description: str
    """One or two sentences for the model."""
    parameters: Mapping[str, Any]
    """JSON Schema (draft 2020-12) of the arguments object."""
    run: RunFn
    """Does the work and returns text for the model; raise to report a failure."""
    risk: Risk | RiskFn = Risk.READ
    """A fixed level, or a function deciding per call (http_request: GET is read)."""
    precheck: PrecheckFn | None = None
    """Extra checks after the schema, before any approval: an error text, or None if fine."""
    timeout_s: float = 20.0
    max_output_chars: int = 8_000
    approvers: ApproverPolicy = field(default_factory=ApproverPolicy)
    status: str = ""
    """Shown while the tool runs, e.g. "Searching the knowledge base…"."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must match {_NAME.pattern}")
        Draft202012Validator.check_schema(dict(self.parameters))
        if self.timeout_s <= 0 or self.max_output_chars <= 0:
            raise ValueError(f"tool {self.name}: timeout_s and max_output_chars must be > 0")

    def risk_for(self, args: Args) -> Risk:
        return self.risk if isinstance(self.risk, Risk) else self.risk(args)

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedCall:
    """A call whose arguments passed every check."""

    call: ToolCall
    tool: Tool
    risk: Risk


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"two tools are named {tool.name!r}")
        self._tools[tool.name] = tool
        self._validators[tool.name] = Draft202012Validator(dict(tool.parameters))

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def tools(self) -> Sequence[Tool]:
        return tuple(self._tools.values())

    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self._tools.values()]

    def check(self, call: ToolCall) -> CheckedCall | ChatMessage:
        """A `CheckedCall`, or a tool message for the model saying why the call was not run."""
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return error_message(call, f"there is no tool named {call.name!r} (tools: {known}).")
        if not call.arguments and call.raw_arguments.strip() not in ("", "{}"):
            return error_message(call, "the arguments are not a valid JSON object. Not run.")
        problem = best_match(self._validators[tool.name].iter_errors(dict(call.arguments)))
        if problem is not None:
            where = "/".join(str(p) for p in problem.absolute_path) or "arguments"
            return error_message(
                call, f"invalid arguments ({where}: {problem.message}). Not run; fix and retry."
            )
        if tool.precheck is not None and (refusal := tool.precheck(call.arguments)) is not None:
            return error_message(call, f"{refusal} Not run.")
        return CheckedCall(call=call, tool=tool, risk=tool.risk_for(call.arguments))
