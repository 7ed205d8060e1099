"""Microsoft Teams adapter: the only package that imports botbuilder / botframework.

The composition root calls `create_adapter(settings)` when TEAMS_APP_ID is set (or
TEAMS_ALLOW_ANONYMOUS=true for local testing). Everything botbuilder-specific stays behind
`TeamsAdapter`, so moving to Microsoft's Teams SDK later is a change to this folder only
(docs/teams.md says what it would take).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.teams.adapter import TeamsAdapter
    from bot.settings import Settings


def create_adapter(settings: Settings) -> TeamsAdapter:
    """Build the Teams adapter from settings. Raises ConfigError naming what to fix."""
    from adapters.teams.adapter import TeamsAdapter
    from adapters.teams.auth import TeamsAuth
    from bot.errors import ConfigError

    app_id = (settings.teams_app_id or "").strip()
    password = settings.teams_app_password.get_secret_value() if settings.teams_app_password else ""
    tenant = (settings.teams_app_tenant_id or "").strip()
    kind = settings.teams_app_type
    if not app_id and not settings.teams_allow_anonymous:
        raise ConfigError(
            "TEAMS_APP_ID is not set: copy the Microsoft App ID from the Azure Bot resource "
            "(Configuration), or set TEAMS_ALLOW_ANONYMOUS=true for local testing only."
        )
    if app_id and kind != "UserAssignedMSI" and not password:
        raise ConfigError(
            "TEAMS_APP_PASSWORD is not set: create a client secret for the bot's app "
            "registration (Certificates & secrets) and put its value here."
        )
    if app_id and kind in ("SingleTenant", "UserAssignedMSI") and not tenant:
        raise ConfigError(
            f"TEAMS_APP_TENANT_ID is required when TEAMS_APP_TYPE={kind}: use the Directory "
            "(tenant) ID of the app registration."
        )
    return TeamsAdapter(
        TeamsAuth(
            app_id=app_id,
            app_password=password,
            tenant_id=tenant,
            app_type=kind,
            openid_metadata_url=settings.teams_openid_metadata_url or "",
            allow_anonymous=settings.teams_allow_anonymous,
        )
    )


__all__ = ["create_adapter"]
