"""Inbound authentication for `/api/messages`, done before botbuilder sees the request.

botbuilder validates the Bot Framework JWT (issuer, audience = our app id, expiry, signing key
from the OpenID metadata with the `msteams` endorsement, the `serviceurl` claim) but
`CloudAdapter.process` answers 500 for most refusals: a missing header, a forged signature, an
unknown key id (its key lookup raises IndexError), an expired token, `alg: none`. So the
transport calls `authenticate` first and answers 401 itself, with one log line that never holds
the token; the result then goes to `CloudAdapter.process_activity`, which does not validate again.

Configuration (`build_authentication`): botbuilder's `ConfigurationBotFrameworkAuthentication`
with the app id / password / tenant / type. `TEAMS_OPENID_METADATA_URL` (tests, sovereign
setups) must not be given alone: setting any one of the "parameterized" values switches
botbuilder to a mode where every value must be given, and with only the metadata URL the issuer
is empty and every token, valid ones included, is refused. So the issuer, login URL, OAuth scope,
OAuth URL and emulator metadata URL are set to their public-cloud values alongside it.

With no app id and `allow_anonymous`, botbuilder accepts requests without a token (local tests,
the Bot Framework Emulator); the app warns about it at start.

Known limitation of botbuilder 4.17: it fetches the metadata and keys with the blocking
`requests` library inside the event loop (once a day, or at most hourly for an unknown key id).
"""

from __future__ import annotations

from dataclasses import dataclass

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ServiceClientCredentialsFactory,
)

from bot.logs import get_logger

log = get_logger("adapters.teams")


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamsAuth:
    app_id: str = ""
    app_password: str = ""
    tenant_id: str = ""
    app_type: str = "MultiTenant"
    openid_metadata_url: str = ""
    allow_anonymous: bool = False

    @property
    def anonymous(self) -> bool:
        return not self.app_id


class _Configuration:
    """The attribute names botbuilder's configuration classes read."""

    def __init__(self, auth: TeamsAuth) -> None:
        self.APP_ID = auth.app_id or None
        self.APP_PASSWORD = auth.app_password or None
        self.APP_TENANTID = auth.tenant_id or None
        self.APP_TYPE = auth.app_type
        if auth.openid_metadata_url:
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = auth.openid_metadata_url
            self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = (
                AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
            )
            self.TO_CHANNEL_FROM_BOT_LOGIN_URL = (
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
            )
            self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = (
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
            )
            self.OAUTH_URL = AuthenticationConstants.OAUTH_URL
            self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = (
                AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
            )
            self.CALLER_ID = CallerIdConstants.public_azure_channel


def build_authentication(
    auth: TeamsAuth, credentials: ServiceClientCredentialsFactory | None = None
) -> BotFrameworkAuthentication:
    """botbuilder's authentication from our settings. `credentials` replaces how the bot gets
    its outbound token (default: MSAL against Entra ID, from the app id / password / tenant);
    tests pass a local one, because MSAL only talks to https authorities."""
    return ConfigurationBotFrameworkAuthentication(
        _Configuration(auth), credentials_factory=credentials
    )


class Refused(Exception):
    """The request is not from Teams (401) or its keys could not be fetched (503)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def authenticate(
    authentication: BotFrameworkAuthentication, auth: TeamsAuth, activity: Activity, header: str
) -> AuthenticateRequestResult:
    """botbuilder's validation, with every refusal turned into `Refused` (logged once)."""
    if not header and not auth.anonymous:
        raise _refused(401, "no Authorization header", activity)
    try:
        return await authentication.authenticate_request(activity, header or None)
    except Exception as exc:
        status = 503 if _is_network_error(exc) else 401
        detail = str(exc).replace(header, "[token]") if header else str(exc)
        raise _refused(status, f"{type(exc).__name__}: {detail[:200]}", activity) from None


def _refused(status: int, reason: str, activity: Activity) -> Refused:
    log.warning(
        "teams.request_refused",
        status=status,
        reason=reason,
        activity_type=activity.type,
        service_url=activity.service_url,
    )
    return Refused(status, reason)


def _is_network_error(exc: Exception) -> bool:
    import requests

    return isinstance(exc, requests.RequestException)
