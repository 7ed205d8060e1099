"""The door of `/api/messages`: size and syntax are checked before anything parses the body
for real, so a stranger's request is answered 4xx with one WARNING line, never a 5xx.

`read_activity(request)` reads at most `MAX_ACTIVITY_BYTES` (`bot.http.read_body`: a
Content-Length over the cap is refused unread) and returns the activity object or a `Refused`
(a status and a short reason, never the body):

| what | status |
|---|---|
| Content-Type not JSON | 415 |
| body over `MAX_ACTIVITY_BYTES` | 413 |
| not JSON (invalid, not UTF-8, nested too deep), or not an object with a `type` | 400 |

The signature (the Bot Framework JWT) is checked next by `adapters.teams.auth`, before the
activity reaches botbuilder or `normalize`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.http import Refused, read_body

MAX_ACTIVITY_BYTES = 256 * 1024
"""Teams caps a message at about 100 KB (text, cards and mentions together); the activity around
it (ids, channelData, entities) adds a few KB. A quarter of a megabyte leaves room for both."""


async def read_activity(request: web.Request) -> dict[str, Any] | Refused:
    if "application/json" not in request.headers.get("Content-Type", ""):
        return Refused(415, "expected application/json")
    body = await read_body(request, MAX_ACTIVITY_BYTES)
    if body is None:
        return Refused(413, "body over 256 KB")
    try:
        activity = json.loads(body)
    except (ValueError, RecursionError):  # invalid JSON or UTF-8; nesting past the parser's limit
        return Refused(400, "the body is not JSON")
    if not isinstance(activity, dict) or not activity.get("type"):
        return Refused(400, "the body is not an activity")
    return activity
