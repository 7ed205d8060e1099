"""What the bot posts and stores never carries a secret: redaction of outgoing text.

How this works
--------------
One `Redactor` per process is applied in the core where every outgoing text passes: the
delivery engine (each streamed reply's accumulated text before each plan, one-shot posts and
updates, private replies) and the reply rows before they are stored. So every adapter gets it.

It replaces, in this order:

1. the bot's own secrets (every `SecretStr` value in `Settings`), always, as literal strings;
2. well-known token and key formats (OpenAI `sk-…`, Anthropic `sk-ant-…`, Slack `xox?-…` and
   `xapp-…`, GitHub `ghp_…`/`github_pat_…`, AWS access key ids, Google API keys, Stripe keys,
   JWTs, PEM private key blocks) and card numbers that pass the Luhn check, unless
   `REDACT_BUILTIN=false`;
3. the operator's own `REDACT_PATTERNS` (regular expressions, checked at start-up).

Each match becomes `[redacted]`. A canary (a random marker put in the system prompt) that shows
up in an answer means the model is repeating its instructions: the whole answer is replaced by
`CANARY_NOTICE`.

Streaming: a reply is shown while it grows, so a secret may arrive split over several deltas
("sk-ab" then "c123…"), and redacting the whole text again for every delta would cost
O(length) each time (`StreamView` redacts completed paragraphs once). Redacting the accumulated text is not enough on its own: the prefix
"sk-ab" would already be on screen before the whole key matches. `streaming()` therefore shows
only the *stable* part of the text: it holds back the last unfinished word (a token or key
never contains white space), a trailing run of digits, spaces and dashes (a card number being
typed), and an unterminated PEM block. What is held back appears with the next delta or the
final write, which redacts the whole text. The limit of this: a configured pattern that spans
white space (other than a card number's) can show its first words before the rest arrives.

Hand-written rather than a library: detect-secrets and similar scanners work on files and
report findings; here we need a fast, pure `str -> str` over a growing text with a streaming
view, and the formats are a short, well-documented list.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

MASK = "[redacted]"
CANARY_NOTICE = (
    "_(This answer was withheld: it repeated Parley's internal instructions. "
    "Please ask your question another way.)_"
)
MIN_SECRET_CHARS = 6
"""Shorter configured secrets are not matched (they would redact ordinary words)."""

_TOKENS = [
    r"sk-ant-[A-Za-z0-9_\-]{16,}",  # Anthropic (sk-ant-api03-…)
    r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",  # OpenAI
    r"xox[abposre]-[A-Za-z0-9\-]{10,}",  # Slack bot/user/legacy tokens
    r"xapp-\d-[A-Za-z0-9\-]{10,}",  # Slack app-level token
    r"xoxe\.xox[bp]-\d-[A-Za-z0-9\-]{10,}",  # Slack refresh token
    r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{22,}",  # GitHub fine-grained token
    r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}",  # AWS access key id
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API key
    r"[rs]k_(?:live|test)_[0-9A-Za-z]{16,}",  # Stripe
    r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWT
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
]
_BUILTIN = re.compile(r"(?<![A-Za-z0-9_\-])(?:" + "|".join(_TOKENS) + ")")
_CARD = re.compile(r"(?<![\d\-])\d(?:[ \-]?\d){12,18}(?![\d])")
_PEM_BEGIN = "-----BEGIN "
_PEM_END = "-----END "


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits (every card number passes it)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return MASK if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group()


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """Compile REDACT_PATTERNS; raises ValueError naming the pattern that does not compile."""
    out = []
    for pattern in patterns:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        if compiled.match(""):
            raise ValueError(f"{pattern!r} matches the empty string; it would redact nothing")
        out.append(compiled)
    return tuple(out)


def new_canary() -> str:
    return f"PRLY-{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Redactor:
    secrets: tuple[str, ...] = ()
    """The bot's own secret values, replaced literally (longest first)."""
    patterns: tuple[re.Pattern[str], ...] = ()
    """Configured patterns (REDACT_PATTERNS)."""
    builtin: bool = True
    """Well-known token formats and Luhn-valid card numbers."""
    canary: str = ""
    """The marker in the system prompt; an answer containing it is withheld."""

    @classmethod
    def create(
        cls,
        secret_values: Iterable[str | None] = (),
        *,
        patterns: Iterable[str] = (),
        builtin: bool = True,
        canary: str | None = None,
    ) -> Redactor:
        kept = {v for v in secret_values if v and len(v) >= MIN_SECRET_CHARS}
        return cls(
            secrets=tuple(sorted(kept, key=len, reverse=True)),
            patterns=compile_patterns(patterns),
            builtin=builtin,
            canary=new_canary() if canary is None else canary,
        )

    def redact(self, text: str) -> str:
        """`text` with every secret replaced (the final form of an answer or a stored row)."""
        if not text:
            return text
        if self.canary and self.canary in text:
            return CANARY_NOTICE
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if self.builtin:
            text = _BUILTIN.sub(MASK, text)
            text = _CARD.sub(_mask_card, text)
        for pattern in self.patterns:
            text = pattern.sub(MASK, text)
        return text

    @property
    def active(self) -> bool:
        return bool(self.builtin or self.secrets or self.patterns or self.canary)

    def streaming(self, text: str) -> str:
        """What may be shown of a text that is still growing: its stable part, redacted."""
        return self.redact(stable_prefix(text)) if self.active else text


def stable_prefix(text: str) -> str:
    """`text` without the part a later delta could still turn into a secret (see the module
    docstring): the last unfinished word, a trailing run of digits/spaces/dashes, an open PEM
    block."""
    begin = text.rfind(_PEM_BEGIN)
    if begin >= 0 and text.find(_PEM_END, begin) < 0:
        text = text[:begin]
    end = len(text)
    while end and not text[end - 1].isspace():
        end -= 1
    while end and (text[end - 1].isdigit() or text[end - 1] in " -"):
        end -= 1
    return text[:end]


class StreamView:
    """`Redactor.streaming` for one growing text, without redacting the whole text per delta.

    Completed paragraphs (up to the last blank line of the stable part) are redacted once and
    kept; each call redacts only the paragraph in progress. A token, key or card number never
    spans a blank line; a configured pattern that does is caught by the final redaction. If the
    text stops growing by appends (it was rewritten), the cache starts over.
    """

    __slots__ = ("_raw_head", "_red_head", "redactor")

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._raw_head = ""
        self._red_head = ""

    def __call__(self, text: str) -> str:
        redactor = self.redactor
        if not redactor.active:
            return text
        stable = stable_prefix(text)
        if redactor.canary and redactor.canary in stable:
            return CANARY_NOTICE
        if not stable.startswith(self._raw_head):
            self._raw_head = self._red_head = ""
        done = len(self._raw_head)
        cut = stable.rfind("\n\n", done)
        if cut >= done:
            cut += 2
            self._red_head += redactor.redact(stable[done:cut])
            self._raw_head = stable[:cut]
        return self._red_head + redactor.redact(stable[len(self._raw_head) :])


NO_REDACTION = Redactor(builtin=False)
"""Nothing replaced (tests of delivery mechanics that need the exact text back)."""
