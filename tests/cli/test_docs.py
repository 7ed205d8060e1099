"""The user docs agree with the code: links resolve, page references name real pages, and the
Slack scopes the docs list are the ones the manifest asks for."""

from __future__ import annotations

import re

import pytest

from adapters.slack.manifest import BOT_SCOPES
from tests.cli.helpers import ROOT

PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
TITLES = {p.read_text().splitlines()[0].removeprefix("# ").strip() for p in PAGES}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_and_page_references_resolve(page) -> None:
    text = page.read_text()
    for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", text):
        if not re.match(r"[a-z]+:", target):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
    for title in re.findall(r'see "([^"]+)"', text):
        assert title in TITLES, f"{page.name} refers to a page titled {title!r}; none exists"


@pytest.mark.parametrize("name", ["setup.md", "slack.md"])
def test_slack_scopes_in_the_docs_match_the_manifest(name) -> None:
    text = (ROOT / "docs" / name).read_text()
    missing = [scope for scope in BOT_SCOPES if f"`{scope}`" not in text]
    assert not missing, f"{name} does not list {missing}"
    scopes = set(re.findall(r"`([a-z_.]+:(?:read|write|history))`", text))
    extra = scopes - set(BOT_SCOPES) - {"connections:write"}  # the app-level token's scope
    assert not extra, f"{name} lists scopes the manifest does not ask for: {extra}"
