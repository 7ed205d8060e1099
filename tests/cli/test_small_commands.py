"""Small CLI traps: `slack manifest` URLs, `kb search --limit 0`, `kb reindex` with failed files."""

from __future__ import annotations

import contextlib
import io

import pytest
import yaml

from bot.cli import build_parser
from bot.errors import ConfigError
from bot.settings import load_settings
from tests.cli.helpers import run_bot


def manifest(*args: str) -> str:
    """`slack manifest ARGS` in-process (the exit code path is the subprocess test below)."""
    parsed = build_parser().parse_args(["slack", "manifest", *args])
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert parsed.handler(parsed, load_settings(_env_file=None)) == 0
    return out.getvalue()


async def test_slack_manifest_without_base_url_is_refused(tmp_path) -> None:
    missing = await run_bot("slack", "manifest", data_dir=tmp_path)
    assert missing.rc == 2 and "--base-url" in missing.err and missing.out == ""


@pytest.mark.parametrize("bad", ["notaurl", "http://bot.example.org", "https://", "https://h/?x=1"])
def test_slack_manifest_refuses_a_base_url_slack_cannot_call(bad) -> None:
    with pytest.raises(ConfigError, match="not a public HTTPS URL"):
        manifest("--base-url", bad)


def test_slack_manifest_uses_the_base_url() -> None:
    settings = yaml.safe_load(manifest("--base-url", "https://parley.example.org/"))["settings"]
    assert (
        settings["event_subscriptions"]["request_url"] == "https://parley.example.org/slack/events"
    )


def test_socket_mode_manifest_needs_no_base_url() -> None:
    settings = yaml.safe_load(manifest("--socket-mode"))["settings"]
    assert settings["socket_mode_enabled"] is True
    assert "request_url" not in settings["event_subscriptions"]


async def test_kb_search_limit_zero_is_a_clear_usage_error(tmp_path) -> None:
    result = await run_bot("kb", "search", "--limit", "0", "holidays", data_dir=tmp_path)
    assert result.rc == 2 and "--limit" in result.err and "1 or more" in result.err
    assert "Traceback" not in result.err and "ValueError" not in result.err


async def test_kb_reindex_with_failed_files_exits_non_zero_with_the_report(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Holidays\n\nBook them in the portal.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    result = await run_bot("kb", "reindex", "--quiet", str(docs), data_dir=tmp_path)
    assert result.rc == 1, result.both
    assert "1 indexed" in result.out and "Error: " in result.out and "broken.pdf" in result.out
