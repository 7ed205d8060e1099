"""Reading JSON of unknown shape: each accessor turns a value of the wrong type into the empty
one, so an adapter's `normalize` reads any payload without an exception (a payload of the wrong
shape becomes a skip, or an event with empty fields that the core ignores).

Adapters use these instead of `payload.get(...)` chains that assume the documented types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Payload = Mapping[str, Any]


def obj(value: object) -> Payload:
    """An object, else {}."""
    return value if isinstance(value, Mapping) else {}


def text(value: object) -> str:
    """A scalar as text (ids may come as numbers); objects, lists and null as ""."""
    if value is None or isinstance(value, Mapping | list | tuple):
        return ""
    return str(value)


def items(value: object) -> list[Any]:
    """A list, else []."""
    return list(value) if isinstance(value, list | tuple) else []


def objects(value: object) -> list[Payload]:
    """The objects in a list (other members dropped), else []."""
    return [v for v in items(value) if isinstance(v, Mapping)]


def integer(value: object, default: int = 0) -> int:
    """An integer (or a string of digits), else `default`; booleans are not integers here."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return default
