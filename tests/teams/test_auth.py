"""JWT validation on /api/messages with TEAMS_APP_ID set: keys from a local OpenID/JWKS endpoint,
tokens signed locally. Refused requests get 401 (botbuilder alone would answer 500), reach no
one, and leave one log line without the token."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity

from adapters.teams import create_adapter
from adapters.teams.adapter import TeamsAdapter
from bot.errors import ConfigError
from bot.events import Event
from bot.settings import Settings
from tests.fakes.teams_auth import OpenIdServer
from tests.fakes.teams_connector import FakeConnector
from tests.teams.conftest import Rig, serve

APP_ID = "c9e1c3a5-9cbb-4a4e-8f7b-1b7f3c1f0d2e"


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings from `overrides` alone (no `.env`); `Any` as `Settings.__init__` takes fields."""
    return Settings(_env_file=None, data_dir=tmp_path, **overrides)


@pytest.fixture
def idp() -> Iterator[OpenIdServer]:
    with OpenIdServer() as server:
        yield server


@pytest.fixture
async def secured(
    tmp_path: Path, idp: OpenIdServer, fake_connector: FakeConnector
) -> AsyncIterator[Rig]:
    adapter = create_adapter(
        settings(
            tmp_path,
            teams_app_id=APP_ID,
            teams_app_password="not-used-by-inbound-checks",
            teams_openid_metadata_url=idp.metadata_url,
        )
    )
    assert isinstance(adapter, TeamsAdapter)
    from aiohttp import ClientSession, web

    app = web.Application()
    adapter.mount(app)
    runner, url = await serve(app)
    session = ClientSession()
    rig = Rig(fake=fake_connector, adapter=adapter, url=f"{url}/api/messages", session=session)

    async def sink(event: Event) -> None:
        rig.events.append(event)

    await adapter.start(sink)
    yield rig
    await session.close()
    await adapter.stop()
    await runner.cleanup()


def message(rig: Rig) -> dict[str, object]:
    return rig.fake.inbound(rig.fake.personal_chat(), "hello")


async def test_a_valid_token_is_accepted(secured: Rig, idp: OpenIdServer) -> None:
    token = idp.token(audience=APP_ID, service_url=secured.fake.service_url)
    status, _ = await secured.post(message(secured), token=token)
    assert status == 201
    await secured.wait_for(lambda: len(secured.events) == 1)


def _alg_none(idp: OpenIdServer, service_url: str) -> str:
    signed = idp.token(audience=APP_ID, service_url=service_url)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": idp.kid}).encode())
    return f"{header.decode().rstrip('=')}.{signed.split('.')[1]}."


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda idp, url: "", id="no token"),
        pytest.param(
            lambda idp, url: idp.stranger_token(audience=APP_ID, service_url=url), id="unknown key"
        ),
        pytest.param(
            lambda idp, url: idp.token(audience="someone-else", service_url=url),
            id="wrong audience",
        ),
        pytest.param(
            lambda idp, url: idp.token(audience=APP_ID, service_url=url, expires_in=-3600),
            id="expired",
        ),
        pytest.param(
            lambda idp, url: idp.token(audience=APP_ID, service_url="https://evil.example/"),
            id="other serviceUrl",
        ),
        pytest.param(
            lambda idp, url: idp.token(audience=APP_ID, service_url=url, key=idp.stranger),
            id="forged signature",
        ),
        pytest.param(_alg_none, id="alg none"),
        pytest.param(lambda idp, url: "not.a.jwt", id="garbage"),
    ],
)
async def test_invalid_tokens_are_refused_with_401(
    secured: Rig, idp: OpenIdServer, make, capsys: pytest.CaptureFixture[str]
) -> None:
    token = make(idp, secured.fake.service_url)
    status, body = await secured.post(message(secured), token=token)
    assert status == 401 and body == {"error": "unauthorized"}
    assert secured.events == [] and secured.fake.calls == []
    out = capsys.readouterr().out
    assert out.count("teams.request_refused") == 1
    if token:
        signature = token.rsplit(".", 1)[-1]
        assert token not in out
        assert len(signature) < 8 or signature not in out


async def test_only_the_metadata_url_would_refuse_every_token(
    idp: OpenIdServer, fake_connector: FakeConnector
) -> None:
    """The botbuilder trap `auth.py` works around: given alone, the metadata URL switches to a
    mode with an empty issuer, and a valid token is refused."""

    class OnlyMetadata:
        APP_ID = APP_ID
        APP_PASSWORD = "x"
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = idp.metadata_url

    auth = ConfigurationBotFrameworkAuthentication(OnlyMetadata())
    activity = Activity().deserialize(fake_connector.inbound(fake_connector.personal_chat(), "hi"))
    token = idp.token(audience=APP_ID, service_url=fake_connector.service_url)
    with pytest.raises(PermissionError):
        await auth.authenticate_request(activity, f"Bearer {token}")


def test_configuration_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TEAMS_APP_PASSWORD"):
        create_adapter(settings(tmp_path, teams_app_id=APP_ID))
    with pytest.raises(ConfigError, match="TEAMS_APP_TENANT_ID"):
        create_adapter(
            settings(
                tmp_path, teams_app_id=APP_ID, teams_app_password="p", teams_app_type="SingleTenant"
            )
        )
    with pytest.raises(ConfigError, match="TEAMS_ALLOW_ANONYMOUS"):
        create_adapter(settings(tmp_path))


def test_teams_admins_count_as_admin_users(tmp_path: Path) -> None:
    s = settings(tmp_path, admin_users="slack:U1", teams_admin_ids="aad-1, aad-2")
    assert s.admin_users == ("slack:U1", "teams:aad-1", "teams:aad-2")
    assert settings(tmp_path, teams_allow_anonymous=True).teams_enabled
    assert not settings(tmp_path).teams_enabled
