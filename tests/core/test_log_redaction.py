"""Secrets never reach the log (nor the database): what the handler configured by `bot.logs.configure_logging` writes
after a whole flow (an event through the pipeline, a turn whose provider call fails with an error
that echoes the key), in both formats.

The output is captured where the configured handler writes it (stderr, pointed at a buffer before
configuring), so the test sees exactly what an operator would. Three things each keep a secret
out on their own, and each is checked by a value only it can hide:

- `REGISTERED` is a configured secret (the OpenAI key) that appears inside an exception message,
  under no secret-looking key: only the registered-values rule masks it;
- `UNREGISTERED` is no configured secret but is logged as `api_key=` and as an `Authorization`
  header inside a dict: only the mask-by-key-name rule masks it;
- `REGISTERED` also comes through stdlib logging (as an SDK logs), which the foreign chain
  redacts.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from sqlalchemy import select

from bot.app import Parley
from bot.events import IncomingMessage, Origin, OriginKind
from bot.llm.types import LLMRequest
from bot.logs import configure_logging, get_logger
from storage.models import messages
from tests.core.conftest import ADA, FAST, channel, make_settings
from tests.fakes.memory_adapter import MemoryAdapter
from tests.fakes.scripted_model import ScriptedModel

REGISTERED = "sk-live-REGISTERED-4f9a1c"
SLACK_TOKEN = "xoxb-registered-slack-77e2"
UNREGISTERED = "refresh-UNREGISTERED-0b3d"


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """A buffer that `run_flow` points stderr at (inside the test: pytest sets its own stderr
    between setup and call); logging and structlog as they were afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def leaky_provider(request: LLMRequest) -> str:
    """A provider call that logs what it sends (as an SDK at debug level would) and then fails
    with an error echoing the request's headers."""
    log = get_logger("bot.llm.openai_provider")
    log.info(
        "provider request",
        api_key=UNREGISTERED,
        headers={"Authorization": f"Bearer {UNREGISTERED}"},
    )
    logging.getLogger("openai._base_client").warning(
        "retrying request with Authorization: Bearer %s", REGISTERED
    )
    raise RuntimeError(
        f"upstream rejected the request, headers: Authorization: Bearer {REGISTERED}"
    )


async def run_flow(tmp_path: Any, fmt: str, buffer: io.StringIO) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stderr", buffer)
        configure_logging("INFO", fmt)  # its handler now writes to `buffer`
    await answer_one_question(tmp_path)
    return buffer.getvalue()


async def test_a_failed_turn_stores_no_secret(tmp_path: Any) -> None:
    """What failed is kept with the reply, for the operator; the key it echoed is not."""
    [error] = await answer_one_question(tmp_path)
    assert "upstream rejected the request" in error
    assert REGISTERED not in error and "Bearer ***" in error


async def answer_one_question(tmp_path: Any) -> list[str]:
    """Run the flow; the errors stored with the failed reply."""
    settings = make_settings(
        tmp_path, openai_api_key=REGISTERED, slack_bot_token=SLACK_TOKEN, llm_providers="openai"
    )
    adapter = MemoryAdapter(FAST)
    model = ScriptedModel(responder=leaky_provider)
    app = Parley(
        settings, chat_model=model, adapters=[adapter], load_platforms=False, knowledge=False
    )
    await app.start(http=False)
    try:
        assert app.pipeline is not None
        await app.pipeline(
            IncomingMessage(
                event_id="Ev-log-1",
                ref=channel(),
                author=ADA,
                text="Why did the deploy fail?",
                origin=Origin(kind=OriginKind.MESSAGE, message_id="u1"),
                mentions_bot=True,
            )
        )
        await app.settled()
        async with app.store.engine.connect() as conn:
            rows = await conn.execute(select(messages.c.error).where(messages.c.error.is_not(None)))
            errors = [str(error) for (error,) in rows]
    finally:
        await app.stop()
    assert model.requests, "the turn never reached the model"
    return errors


def assert_no_secret(output: str) -> None:
    for secret in (REGISTERED, SLACK_TOKEN, UNREGISTERED):
        assert secret not in output
    assert "Bearer ***" in output  # the registered key, masked inside the messages


async def test_json_log_of_a_flow_holds_no_secret(tmp_path: Any, stderr: io.StringIO) -> None:
    output = await run_flow(tmp_path, "json", stderr)
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    by_event = {line["event"]: line for line in lines}

    request = by_event["provider request"]
    assert request["api_key"] == "***" and request["headers"] == {"Authorization": "***"}
    assert request["event_id"] == "Ev-log-1"  # logged inside the flow, bound to its event
    failed = by_event["turn failed"]
    assert failed["level"] == "error" and "upstream rejected the request" in failed["exception"]
    retry = next(line for line in lines if line["logger"] == "openai._base_client")
    assert retry["event"] == "retrying request with Authorization: Bearer ***"
    assert_no_secret(output)


async def test_console_log_of_a_flow_holds_no_secret(tmp_path: Any, stderr: io.StringIO) -> None:
    output = await run_flow(tmp_path, "console", stderr)
    assert "provider request" in output and "api_key=***" in output
    assert "turn failed" in output and "upstream rejected the request" in output
    assert "retrying request with Authorization: Bearer ***" in output
    assert_no_secret(output)


def test_a_line_that_cannot_be_written_leaks_nothing(
    stderr: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    """When the log stream fails (closed, full), the handler says so in one line; the stock
    one prints the record and its exception chain to stderr, past every redaction."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stderr", stderr)
        configure_logging("INFO", "json")
    stderr.close()
    try:
        raise RuntimeError(f"upstream rejected the request, key {REGISTERED}")
    except RuntimeError:
        get_logger("bot.llm.router").exception("turn failed", api_key=UNREGISTERED)
    logging.getLogger("openai._base_client").warning("retrying with key %s", REGISTERED)
    err = capfd.readouterr().err
    assert err.count("parley: a log line could not be written (ValueError)") == 2
    assert REGISTERED not in err and UNREGISTERED not in err
