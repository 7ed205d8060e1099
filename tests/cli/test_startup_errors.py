"""Start-up failures a user can cause: one or two lines naming the variable or service, what was
tried (no secrets) and how to fix it; exit code 2; no traceback, nothing printed after it."""

from __future__ import annotations

import socket

import pytest

from tests.cli.helpers import Result, run_bot

pytestmark = pytest.mark.slow


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_one_clear_failure(result: Result, *needles: str) -> str:
    assert result.rc == 2, result.both
    assert "Traceback" not in result.both and "Exception ignored" not in result.both, result.err
    lines = [line for line in result.err.strip().splitlines() if line.startswith("parley: ")]
    assert lines, result.err
    message = lines[-1]
    assert result.err.rstrip().endswith(message), "something was printed after the message"
    for needle in needles:
        assert needle in message, message
    return message


async def test_wrong_slack_token(fake_slack, tmp_path) -> None:
    result = await run_bot(
        "run",
        data_dir=tmp_path,
        SLACK_BOT_TOKEN="xoxb-wrong-secret-token",
        SLACK_SIGNING_SECRET="signing-secret-value",
        SLACK_API_URL=fake_slack.api_url,
    )
    message = assert_one_clear_failure(result, "SLACK_BOT_TOKEN", "invalid_auth", "auth.test")
    assert fake_slack.api_url in message and "xoxb-wrong-secret-token" not in result.both


async def test_slack_unreachable(tmp_path) -> None:
    url = f"http://127.0.0.1:{_refused_port()}/api/"
    result = await run_bot(
        "run",
        data_dir=tmp_path,
        SLACK_BOT_TOKEN="xoxb-any",
        SLACK_SIGNING_SECRET="signing-secret-value",
        SLACK_API_URL=url,
    )
    assert_one_clear_failure(result, "Cannot reach Slack", url, "SLACK_API_URL")


async def test_garbage_database_url(tmp_path) -> None:
    result = await run_bot("chat", data_dir=tmp_path, DATABASE_URL="garbage")
    assert_one_clear_failure(result, "DATABASE_URL", "postgresql://")


async def test_postgres_refusing_connections(tmp_path) -> None:
    port = _refused_port()
    result = await run_bot(
        "run", data_dir=tmp_path, DATABASE_URL=f"postgresql://ada:hunter22@127.0.0.1:{port}/db"
    )
    assert_one_clear_failure(result, "PostgreSQL", f"127.0.0.1:{port}", "DATABASE_URL")
    assert "hunter22" not in result.both


async def test_data_dir_not_writable(tmp_path) -> None:
    # A path under a regular file cannot be created by anyone, root included.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = await run_bot("chat", data_dir=tmp_path, DATA_DIR=str(blocker / "data"))
    assert_one_clear_failure(result, "DATA_DIR", str(blocker / "data"), "not writable")


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("EMBEDDING_MODEL", "nonsense", "EMBEDDING_MODEL"),
        ("KNOWLEDGE_SCOPES", "garbage", "KNOWLEDGE_SCOPES"),
        ("QDRANT_URL", "http://127.0.0.1:{port}", "QDRANT_URL"),
    ],
)
async def test_knowledge_configuration_errors_stop_start_up(tmp_path, name, value, needle) -> None:
    value = value.format(port=_refused_port())
    result = await run_bot("chat", data_dir=tmp_path, stdin="hello\n", **{name: value})
    assert_one_clear_failure(result, needle)
    assert result.out == ""  # no answer: the bot did not run on without its knowledge base


async def test_debug_shows_the_traceback(tmp_path) -> None:
    result = await run_bot("chat", data_dir=tmp_path, DATABASE_URL="garbage", LOG_LEVEL="DEBUG")
    assert result.rc == 2 and "Traceback" in result.err
    assert result.err.rstrip().splitlines()[-1].startswith("parley: DATABASE_URL")


async def test_port_in_use(fake_slack, tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = await run_bot(
            "run",
            data_dir=tmp_path,
            SLACK_BOT_TOKEN=fake_slack.token,
            SLACK_SIGNING_SECRET="signing-secret-value",
            SLACK_API_URL=fake_slack.api_url,
            PORT=str(port),
        )
    assert_one_clear_failure(result, "PORT", str(port))


async def test_wrong_slack_app_token_in_socket_mode(fake_slack, tmp_path) -> None:
    result = await run_bot(
        "run",
        data_dir=tmp_path,
        SLACK_BOT_TOKEN=fake_slack.token,
        SLACK_APP_TOKEN="xapp-wrong-app-token",
        SLACK_API_URL=fake_slack.api_url,
    )
    assert_one_clear_failure(result, "SLACK_APP_TOKEN", "connections:write")
    assert "xapp-wrong-app-token" not in result.both
