from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.llm.helpers import OPENED


@pytest.fixture(autouse=True)
async def _close_sdk_clients() -> AsyncIterator[None]:
    """Close SDK clients inside the test's loop (else their __del__ schedules a close too late)."""
    yield
    while OPENED:
        await OPENED.pop().aclose()
