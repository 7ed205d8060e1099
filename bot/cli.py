"""Command line: `python -m bot run|chat|kb ...` (also installed as `parley`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("parley: not wired yet", file=sys.stderr)
    return 1
