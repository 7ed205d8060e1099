"""Start-up failures a user can cause, as one or two lines instead of a traceback.

`python -m bot run|chat|kb` calls `explain(exc, settings)` on whatever escaped start-up. A failure
the user can fix (a refused token, a service that is down, a malformed URL, a folder that is not
writable, a port in use) comes back as a short message that names the variable or the service,
says what was tried (host, port, URL, never a secret) and how to fix it; the CLI prints it and
exits with code 2. Anything else is a bug and keeps its traceback.

Recognition goes by exception type and the attributes the libraries document (SQLAlchemy's
`ArgumentError` / `DBAPIError`, `OSError.errno`, Parley's own `PlatformError.method`), never by
parsing messages. A URL is shown with its password masked; the driver's own first line is quoted
as the cause, and the CLI masks every configured secret in the printed message.

`check_data_dir` runs before anything opens files, so an unwritable DATA_DIR is one line rather
than an SQLite or Qdrant error from deep inside either.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from bot.errors import ConfigError, ParleyError, PlatformError
from bot.settings import Settings

_SLACK_AUTH_CODES = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
}


def check_data_dir(settings: Settings) -> None:
    """Raise ConfigError unless DATA_DIR exists (or can be made) and takes a new file."""
    where = settings.data_dir.resolve()
    try:
        where.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=where, prefix=".write-check-"):
            pass
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
        raise ConfigError(
            f"DATA_DIR {where} is not writable ({reason.lower()}). Point DATA_DIR at a folder "
            "this user can write, or fix its permissions."
        ) from None


def needs_data_dir(settings: Settings) -> bool:
    """SQLite and local Qdrant keep their files under DATA_DIR; with both on servers it is
    optional (the chat log falls back to stderr)."""
    return settings.database_url is None or settings.qdrant_url is None


def explain(exc: BaseException, settings: Settings) -> str | None:
    """The user-facing message for a start-up failure, or None when it is not the user's to fix."""
    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, PlatformError):
        return _platform(exc, settings)
    if isinstance(exc, ParleyError):  # messages written for the user (knowledge, providers)
        return str(exc)
    database = _database(exc, settings)
    if database is not None:
        return database
    if isinstance(exc, OSError):
        return _os_error(exc, settings)
    return None


def _platform(exc: PlatformError, settings: Settings) -> str:
    if exc.method == "auth.test":
        where = f"auth.test at {settings.slack_api_url}"
        if exc.code in _SLACK_AUTH_CODES:
            return (
                f"Slack refused SLACK_BOT_TOKEN ({where}: {exc.code}). Copy the Bot User OAuth "
                "Token (xoxb-…) from OAuth & Permissions; reinstall the app if it was revoked."
            )
        if exc.code == "network_error":
            return (
                f"Cannot reach Slack ({where}). Check the network or proxy, or SLACK_API_URL "
                "if you set it."
            )
    if exc.method == "apps.connections.open":
        return (
            f"Slack refused SLACK_APP_TOKEN (apps.connections.open: {exc.code}). Create an "
            "app-level token (xapp-…) with the connections:write scope under Basic Information, "
            "or unset SLACK_APP_TOKEN to use HTTP mode."
        )
    name = exc.method or "a platform call"
    return f"{exc} ({name}). Check the platform's credentials in .env."


def _database(exc: BaseException, settings: Settings) -> str | None:
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(exc, NoSuchModuleError):
        return (
            "DATABASE_URL names a database Parley does not support. Use "
            "postgresql://user:password@host:5432/dbname, or unset it to use SQLite under DATA_DIR."
        )
    if isinstance(exc, ArgumentError):
        return (
            "DATABASE_URL is not a database URL. Use postgresql://user:password@host:5432/dbname, "
            "or unset it to use SQLite under DATA_DIR."
        )
    if not isinstance(exc, DBAPIError | ConnectionError):
        return None
    where = _database_where(settings)
    cause = _first_line(getattr(exc, "orig", None) or exc)
    if settings.database_url is None:
        return (
            f"Cannot open the SQLite database {where} ({cause}). Check DATA_DIR and that no "
            "other program holds the file."
        )
    return (
        f"Cannot connect to PostgreSQL at {where} (DATABASE_URL): {cause}. Start the server "
        "or fix DATABASE_URL (host, port, user, password, database)."
    )


def _database_where(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def _os_error(exc: OSError, settings: Settings) -> str | None:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"PORT {settings.port} on HOST {settings.host} is already in use. Stop the other "
            "process, or set PORT to a free port."
        )
    if isinstance(exc, PermissionError) and exc.filename:
        return (
            f"Permission denied on {Path(str(exc.filename)).resolve()}. Point DATA_DIR at a "
            "folder this user can write, or fix its permissions."
        )
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__
