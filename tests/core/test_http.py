from __future__ import annotations

import aiohttp

from bot.app import Parley
from tests.core.conftest import make_settings
from tests.fakes.scripted_model import ScriptedModel


async def test_health_ready_and_metrics(tmp_path) -> None:
    app = Parley(
        make_settings(tmp_path, port=0, host="127.0.0.1"),
        chat_model=ScriptedModel(),
        load_platforms=False,
        knowledge=False,
    )
    await app.start()
    try:
        base = f"http://127.0.0.1:{app.http_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200 and (await r.json())["status"] == "ok"
            async with http.get(f"{base}/readyz") as r:
                body = await r.json()
                assert r.status == 200 and body["checks"]["database"] == "ok"
            async with http.get(f"{base}/metrics") as r:
                assert r.status == 200 and "parley_events_total" in await r.text()
    finally:
        await app.stop()
