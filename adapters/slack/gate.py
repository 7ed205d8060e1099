"""The door of `/slack/events`: size, signature and shape are checked before anything parses
the body for real, so a stranger's request can never reach Bolt or raise inside it.

How this works
--------------
`admit(headers, body)` runs in this order and returns either the request's text or a refusal
(status + one short reason, logged once as a WARNING by the caller, never with the body):

1. size: more than `MAX_BODY_BYTES` (1 MB) → 413; the caller reads at most one byte more;
2. encoding: not UTF-8 → 400 (the signature is defined over UTF-8 text);
3. signature: `X-Slack-Request-Timestamp` must be digits within five minutes and
   `X-Slack-Signature` the HMAC slack_sdk's `SignatureVerifier` computes → else 401;
4. syntax: JSON (or a form whose `payload=` is JSON) that parses without hitting the
   recursion limit → else 400;
5. shape: the fields Bolt and `normalize` read (`event`, `authorizations`, `user`, `channel`,
   `team`, `actions`, …) have the JSON types Slack documents → else the request is *signed but
   malformed*: answered 200 (so Slack does not retry it) and dropped.

Only what passes all five is handed to Bolt. The shape check is hand-written because it guards
exactly the handful of fields Bolt's context extraction dereferences; a full schema of every
Slack payload would be larger than the code it protects.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.signature import SignatureVerifier

from bot.http import Refused

MAX_BODY_BYTES = 1024 * 1024
"""Slack's payloads are a few KB; anything over 1 MB is refused unread."""

_DICT_OR_STR = ("user", "channel", "team", "container", "message")
_STRINGS = ("type", "token", "team_id", "api_app_id", "event_id", "command", "trigger_id")
_EVENT_STRINGS = (
    "type",
    "subtype",
    "user",
    "channel",
    "channel_type",
    "text",
    "ts",
    "thread_ts",
    "parent_user_id",
    "bot_id",
    "team",
)


@dataclass(frozen=True, slots=True)
class Admitted:
    text: str
    malformed: str = ""
    """Non-empty: signed, but not the shape Slack sends (answer 200, drop it)."""


def admit(
    verifier: SignatureVerifier, headers: Mapping[str, str], body: bytes
) -> Admitted | Refused:
    if len(body) > MAX_BODY_BYTES:
        return Refused(413, "body over 1 MB")
    try:
        text = body.decode("utf-8")  # Slack signs UTF-8 text; so does SignatureVerifier
    except UnicodeDecodeError:
        return Refused(400, "body is not UTF-8")
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp.isascii() or not timestamp.isdigit() or not signature:
        return Refused(401, "missing or malformed signature headers")
    if not verifier.is_valid(text, timestamp, signature):
        return Refused(401, "bad or expired signature")
    try:
        payload = _parse(text, headers.get("Content-Type", ""))
    except (ValueError, RecursionError):
        return Refused(400, "body is not a Slack payload (JSON or form)")
    return Admitted(text, malformed=_shape_problem(payload))


def _parse(text: str, content_type: str) -> Any:
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = urllib.parse.parse_qs(text, keep_blank_values=True)
        if "payload" in form:
            return json.loads(form["payload"][0])
        return {k: v[0] for k, v in form.items()}
    return json.loads(text)


def _shape_problem(payload: Any) -> str:
    """ "" when the fields Bolt and normalize read have the documented types, else what is wrong.
    A field that is present must have its type (null included: Bolt reads `"event" in body`)."""
    if not isinstance(payload, dict):
        return "payload is not an object"
    for key in _STRINGS:
        if key in payload and not isinstance(payload[key], str):
            return f"{key} is not a string"
    for key in _DICT_OR_STR:
        if key in payload and not isinstance(payload[key], dict | str):
            return f"{key} is neither an object nor a string"
        if isinstance(payload.get(key), dict) and not _flat_strings(payload[key]):
            return f"{key} has fields of the wrong type"
    for key in ("authorizations", "actions"):
        value = payload.get(key, [{}])
        if not isinstance(value, list) or not value or not all(_flat_object(v) for v in value):
            return f"{key} is not a non-empty list of objects"
    if "event" in payload:
        event = payload["event"]
        if not isinstance(event, dict):
            return "event is not an object"
        for key in _EVENT_STRINGS:
            if key in event and not isinstance(event[key], str):
                return f"event.{key} is not a string"
    for key in _NULLABLE:
        if payload.get(key) is not None and not isinstance(payload[key], dict | str | bool):
            return f"{key} has the wrong type"
    return ""


_NULLABLE = ("enterprise", "enterprise_id", "is_enterprise_install", "view")


def _flat_object(value: Any) -> bool:
    return isinstance(value, dict) and _flat_strings(value)


_ID_FIELDS = ("id", "team_id", "user_id", "enterprise_id", "channel_id", "name", "action_id")


def _flat_strings(value: Any) -> bool:
    """The id-like fields of a nested object are strings (or absent)."""
    if not isinstance(value, dict):
        return True
    return all(value.get(k) is None or isinstance(value[k], str) for k in _ID_FIELDS)
