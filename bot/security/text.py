"""Text from a platform made safe to store and to show a model, once, where events enter the
core (`Pipeline.__call__`), so every adapter gets it.

- `clean_text` (every text field of an event: message, command, author name, click value):
  lone UTF-16 surrogates (JSON allows `"\\ud800"`; UTF-8, SQLite and PostgreSQL do not) and
  the noncharacters U+FFFE/U+FFFF become U+FFFD; NUL and other C0/C1 controls except tab and
  newline are removed (PostgreSQL refuses NUL in text).
- `clean_question` (what a person asks): also NFC-normalised, with invisible format characters
  removed: zero-width spaces and joiners used to hide words, bidirectional overrides that make
  text read differently than it is stored, Unicode tag characters (invisible ASCII look-alikes
  used to smuggle instructions to models), the BOM and soft hyphens. ZWJ and ZWNJ stay: emoji
  sequences and Persian/Indic writing need them. The turn's length cap (MAX_MESSAGE_CHARS)
  applies to the cleaned text, so invisible padding cannot push a question over it, nor hide
  one under it.

`is_data_error` tells a value the database refused from a database that is down, so a user is
never told "my database is unavailable" about their own text.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

from bot.events import Command, Event, IncomingMessage

REPLACEMENT = "\ufffd"
_INVALID = re.compile("[\ud800-\udfff\ufffe\uffff]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_KEEP_FORMAT = frozenset({"\u200c", "\u200d"})  # ZWNJ, ZWJ


def clean_text(text: str) -> str:
    """Valid Unicode without control characters (tab and newline kept)."""
    if text.isascii() and text.isprintable():
        return text  # the common case costs one scan
    return _CONTROLS.sub("", _INVALID.sub(REPLACEMENT, text.replace("\r\n", "\n")))


def clean_question(text: str) -> str:
    """`clean_text`, NFC, and no invisible format characters (see the module docstring)."""
    text = clean_text(text)
    if text.isascii():
        return text
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if c in _KEEP_FORMAT or unicodedata.category(c) != "Cf")


def sanitized(event: Event) -> Event:
    """`event` with every text field cleaned; questions and commands as questions."""
    author = dataclasses.replace(event.author, display_name=clean_text(event.author.display_name))
    if isinstance(event, IncomingMessage | Command):
        return dataclasses.replace(event, author=author, text=clean_question(event.text))
    return dataclasses.replace(event, author=author, value=clean_text(event.value))


def is_data_error(exc: BaseException) -> bool:
    """The database refused a value (bad encoding, NUL, out of range), not an outage: a
    UnicodeError or ValueError anywhere in the chain, or a DB-API `DataError` (SQLAlchemy wraps
    the driver's under the same name)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UnicodeError | ValueError) or type(current).__name__ == "DataError":
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False
