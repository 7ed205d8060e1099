"""Strangers cannot cause a 5xx or an ERROR line on /slack/events (the real HTTP server)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog

from tests.fakes.slack_api import event_envelope, message_event
from tests.security.conftest import SECRET, Bot

PAYLOADS = Path(__file__).parent.parent / "slack" / "payloads"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEEP = "[" * 50_000 + "]" * 50_000
WRONG_TYPES: list[Any] = [None, 0, -1, 1.5, True, "", "x", [], [1], {}, {"a": 1}]


def signed(body: bytes, *, secret: str = SECRET, ts: str | None = None) -> dict[str, str]:
    ts = ts or str(int(time.time()))
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={mac.hexdigest()}"}


JUNK: list[tuple[str, bytes, str]] = [
    ("invalid json", b"{not json", JSON),
    ("null", b"null", JSON),
    ("invalid utf-8", b'{"type": "\xff\xfe"}', JSON),
    ("nested 50,000 deep", DEEP.encode(), JSON),
    ("form payload not json", b"payload=%7Bnope", FORM),
    ("empty", b"", JSON),
    ("a list", b"[1, 2, 3]", JSON),
    ("url_verification without challenge", b'{"type": "url_verification"}', JSON),
    ("event is a string", b'{"type": "event_callback", "event": "x"}', JSON),
    ("authorizations wrong", b'{"type": "event_callback", "authorizations": 5, "event": {}}', JSON),
]


@pytest.fixture
def logged() -> Any:
    with structlog.testing.capture_logs() as records:
        yield records


async def send(bot: Bot, body: bytes, content_type: str, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session:
        hdrs = {"Content-Type": content_type, **headers}
        async with session.post(bot.url, data=body, headers=hdrs) as resp:
            return resp.status


def errors(caplog: pytest.LogCaptureFixture, logged: list[dict[str, Any]]) -> list[str]:
    stdlib = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    ours = [r["event"] for r in logged if r.get("log_level") in ("error", "critical", "exception")]
    return stdlib + ours


async def test_junk_unsigned_and_signed_never_gives_5xx_or_an_error_line(
    bot: Bot, caplog: pytest.LogCaptureFixture, logged: list[dict[str, Any]]
) -> None:
    caplog.set_level(logging.INFO)
    statuses: dict[str, tuple[int, int]] = {}
    for name, body, kind in JUNK:
        unsigned = await send(bot, body, kind, {})
        signed_status = await send(bot, body, kind, signed(body))
        statuses[name] = (unsigned, signed_status)
    bad_ts = await send(
        bot, b"{}", JSON, {"X-Slack-Request-Timestamp": "soon", **{"X-Slack-Signature": "v0=00"}}
    )
    wrong_secret = await send(bot, b"{}", JSON, signed(b"{}", secret="not-the-secret"))
    stale = await send(bot, b"{}", JSON, signed(b"{}", ts=str(int(time.time()) - 3600)))
    huge = await send(bot, b"{" + b" " * (1024 * 1024 + 10) + b"}", JSON, signed(b"{}"))

    assert all(u in (400, 401) for u, _ in statuses.values()), statuses
    assert (bad_ts, wrong_secret, stale, huge) == (401, 401, 401, 413)
    assert statuses["invalid json"][1] == 400 and statuses["nested 50,000 deep"][1] == 400
    assert statuses["invalid utf-8"] == (400, 400)
    assert statuses["event is a string"][1] == 200  # signed but malformed: dropped
    assert errors(caplog, logged) == []
    refused = [r for r in logged if r["event"] == "slack.request_refused"]
    assert refused and all("body" not in r for r in refused)
    assert bot.llm.requests == []  # nothing reached the core


def mutations(response_url: str) -> list[dict[str, Any]]:
    """Every captured payload with one field (top level, or inside event/user/channel) given
    each wrong JSON type."""
    out = []
    for path in sorted(PAYLOADS.glob("*.json")):
        base = json.loads(path.read_text())
        if "response_url" in base:
            base["response_url"] = response_url  # the fake's, so no test leaves 127.0.0.1
        targets: list[tuple[str, ...]] = [(k,) for k in base]
        for outer in ("event", "user", "channel", "team", "container", "message"):
            if isinstance(base.get(outer), dict):
                targets += [(outer, k) for k in base[outer]]
        for target in targets:
            for value in WRONG_TYPES:
                mutated = copy.deepcopy(base)
                holder = mutated
                for key in target[:-1]:
                    holder = holder[key]
                holder[target[-1]] = value
                out.append(mutated)
    return out


async def test_signed_mutated_payloads_get_no_5xx(
    bot: Bot, caplog: pytest.LogCaptureFixture, logged: list[dict[str, Any]]
) -> None:
    caplog.set_level(logging.INFO)
    corpus = mutations(bot.fake.new_response_url())
    assert len(corpus) > 500
    statuses = []
    async with aiohttp.ClientSession() as session:
        for payload in corpus:
            if payload.get("type") == "block_actions" or "command" in payload:
                form = {"payload": json.dumps(payload)} if "actions" in payload else payload
                body = urllib.parse.urlencode({k: str(v) for k, v in form.items()}).encode()
                kind = FORM
            else:
                body, kind = json.dumps(payload).encode(), JSON
            headers = {"Content-Type": kind, **signed(body)}
            async with session.post(bot.url, data=body, headers=headers) as resp:
                statuses.append(resp.status)
    await bot.idle()
    assert [s for s in statuses if s >= 500] == []
    assert errors(caplog, logged) == []


async def test_a_real_signed_mention_still_gets_an_answer(bot: Bot) -> None:
    message = bot.fake.user_message("C0GENERAL", f"<@{bot.fake.bot_user_id}> hello there")
    status, _ = await bot.sender.event(event_envelope(message_event(message, kind="app_mention")))
    await bot.idle()
    assert status == 200
    assert "hello there" in bot.fake.bot_messages()[-1].text


async def test_a_large_signed_body_under_the_cap_is_read_whole(bot: Bot) -> None:
    """Bodies arrive in several chunks: all of them are read before the signature is checked."""
    challenge = "c" * 600_000
    body = json.dumps({"type": "url_verification", "challenge": challenge}).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(bot.url, data=body, headers={"Content-Type": JSON, **signed(body)}) as resp,
    ):
        assert resp.status == 200
        assert challenge in await resp.text()
