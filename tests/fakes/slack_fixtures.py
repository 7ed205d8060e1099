"""pytest fixtures for the Slack fake (registered in tests/conftest.py `pytest_plugins`).

- `fake_slack`: a started `FakeSlackApi` on 127.0.0.1 with Slack's real limits; tighten or
  loosen them per test with `fake_slack.configure(update_limit=…, update_window_s=…)`.
- `slack_client`: the real `slack_sdk.AsyncWebClient` pointed at it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
def slack_client(fake_slack: FakeSlackApi) -> AsyncWebClient:
    return AsyncWebClient(token=fake_slack.token, base_url=fake_slack.api_url)
