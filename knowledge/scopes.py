"""Per-directory scopes from configuration.

`KNOWLEDGE_SCOPES` lists `directory=scope[,scope...]` entries separated by `;`, e.g.

    KNOWLEDGE_SCOPES="docs/team-a=slack:T123:C456;docs/eng=slack:T123,discord:G9;docs/public=public"

A document takes the scopes of the longest configured directory that contains it, and is public
when none does. A scope is `public`, a workspace `<platform>:<workspace>` or a channel
`<platform>:<workspace>:<channel>`, the same strings `bot.ports.scopes_for` gives a conversation;
a conversation sees a document when they share a scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError

PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class ScopeRules:
    rules: tuple[tuple[Path, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, spec: str, *, base: Path | None = None) -> ScopeRules:
        base = base or Path.cwd()
        rules: list[tuple[Path, tuple[str, ...]]] = []
        for entry in (e.strip() for e in spec.split(";")):
            if not entry:
                continue
            directory, sep, scopes_text = entry.partition("=")
            scopes = tuple(s.strip() for s in scopes_text.split(",") if s.strip())
            if not sep or not directory.strip() or not scopes:
                raise ConfigError(
                    f"KNOWLEDGE_SCOPES: bad entry {entry!r}; use dir=scope[,scope] entries "
                    "separated by ';', e.g. docs/team=slack:T123:C456;docs/public=public"
                )
            bad = [s for s in scopes if s != PUBLIC and ":" not in s]
            if bad:
                raise ConfigError(
                    f"KNOWLEDGE_SCOPES: scope(s) {bad} must be 'public', 'platform:workspace' or "
                    "'platform:workspace:channel'"
                )
            path = Path(directory.strip()).expanduser()
            rules.append(((path if path.is_absolute() else base / path).resolve(), scopes))
        rules.sort(key=lambda rule: len(rule[0].parts), reverse=True)
        return cls(tuple(rules))

    def scopes_for_path(self, path: Path) -> tuple[str, ...]:
        for directory, scopes in self.rules:
            if path.is_relative_to(directory):
                return scopes
        return (PUBLIC,)
