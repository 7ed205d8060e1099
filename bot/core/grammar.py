"""The one command grammar, for slash commands, app commands and typed text alike.

    ask <question> | reset | help | kb status | kb search <query> | kb reindex [source ...]
    kb cancel | kb sources | kb add <URL or path> | kb remove <source>
    approve <id> | deny <id> | forget-me [confirm] | export-me
    usage [today|week|month] [@user|#channel]

`parse(text, typed=...)` reads the words of a command (the text after `/parley`, Discord's
`/kb search query:x` flattened by its adapter to "kb search x", or a message to the bot). In a
command (`typed=False`) anything that is not a known command is a question, so `/parley how do
I…` answers; a known command used wrongly gets its usage. In a typed message (`typed=True`) only
an exact command form counts, so "help me with X" or "reset the router?" stay questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.usage.report import USAGE_WORDS, parse_request

KB_SUBCOMMANDS = ("status", "search", "reindex", "cancel", "sources", "add", "remove")
_KB_BARE = ("status", "reindex", "cancel", "sources")
"""Subcommands that need no argument (reindex takes optional ones); the others need one."""
_APPROVAL_ID = re.compile(r"[0-9a-f]{8,32}")
USAGE = {
    "ask": "`ask <question>`",
    "kb": "`kb status`, `kb search <query>`, `kb reindex [source ...]`, `kb cancel`, "
    "`kb sources`, `kb add <URL or path>` or `kb remove <source>`",
    "approve": "`approve <approval id>`",
    "deny": "`deny <approval id>`",
    "forget-me": "`forget-me` (then press Forget me, or send `forget-me confirm`)",
    "export-me": "`export-me`",
    "usage": USAGE_WORDS,
}
USAGE_REPORT = "usage-report"
"""The `usage` command's invocation name ("usage" names a known command used wrongly)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    name: str
    """"ask", "reset", "help", "kb", "approve", "deny", "forget-me", "export-me", "usage-report"
    (the `usage` command), or "usage" (a known command misused)."""
    args: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.args)


def parse(text: str, *, typed: bool) -> Invocation | None:
    """The command `text` is, or None when it is a question (typed text only; a command that is
    not one becomes `ask`)."""
    words = text.split()
    if not words:
        return None if typed else Invocation(name="help")
    head, rest = words[0].lower().lstrip("/"), words[1:]
    if head in ("reset", "help", "forget-me", "export-me") and not rest:
        return Invocation(name=head)
    if head == "forget-me" and [w.lower() for w in rest] == ["confirm"]:
        return Invocation(name=head, args=("confirm",))
    if head in ("forget-me", "export-me"):
        return None if typed else _usage(head)
    if head in ("approve", "deny"):
        if len(rest) == 1 and _APPROVAL_ID.fullmatch(rest[0].lower()):
            return Invocation(name=head, args=(rest[0].lower(),))
        return None if typed else Invocation(name="usage", args=(head,))
    if head == "kb":
        sub = rest[0].lower() if rest else ""
        bare = sub in _KB_BARE and (sub == "reindex" or len(rest) == 1)
        if bare or (sub in KB_SUBCOMMANDS and sub not in _KB_BARE and len(rest) > 1):
            return Invocation(name="kb", args=(sub, *rest[1:]))
        return None if typed else Invocation(name="usage", args=("kb",))
    if head == "usage":
        # Typed, only a well-formed report request counts ("usage of the VPN?" is a question);
        # as a command, its handler explains what it could not read.
        if typed and not _is_usage_request(rest):
            return None
        return Invocation(name=USAGE_REPORT, args=tuple(rest))
    if head == "ask" and not typed:
        return Invocation(name="ask", args=tuple(rest)) if rest else _usage("ask")
    if typed:
        return None
    return Invocation(name="ask", args=tuple(words))


def _usage(name: str) -> Invocation:
    return Invocation(name="usage", args=(name,))


def _is_usage_request(words: list[str]) -> bool:
    try:
        parse_request(words)
    except ValueError:
        return False
    return True
