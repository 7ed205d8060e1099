"""Typed settings, read once at start-up from the environment and `.env`.

Every other module receives a `Settings` (or the part it needs); nothing else reads the
environment. An empty value (`FOO=`, in the environment or in `.env`) means the variable is not
set: its default applies. `load_settings` turns validation failures into one `ConfigError` whose
lines each name the variable and how to fix it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError

CommaList = Annotated[tuple[str, ...], NoDecode]
_OVERRIDE = re.compile(r"[a-z]+:[^=,\s]+=(on|off|true|false|yes|no|1|0)", re.IGNORECASE)
KNOWN_PROVIDERS = ("openai", "anthropic")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        # `FOO=` (environment or .env, as in a copied .env.example) means "not set": an empty
        # key must never switch a platform or provider on, nor fail a typed field.
        env_ignore_empty=True,
    )

    # --- LLM -----------------------------------------------------------------------------
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    llm_providers: CommaList = ()
    """Fallback order; empty means every configured provider, OpenAI first."""
    llm_model: str | None = None
    """Model for the first provider; others use their default unless `<PROVIDER>_MODEL` is set."""
    openai_model: str = "gpt-4o-mini"
    anthropic_model: str = "claude-sonnet-4-5"
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
    llm_context_window: int = Field(default=128_000, ge=4_000)

    # --- Memory budget (tokens) ----------------------------------------------------------
    budget_system_tokens: int = Field(default=1000, ge=100)
    budget_knowledge_tokens: int = Field(default=3000, ge=0)
    budget_history_tokens: int = Field(default=3000, ge=200)
    budget_output_tokens: int = Field(default=2000, ge=100)
    max_message_chars: int = Field(default=32_000, ge=100)

    # --- Slack ---------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_command: str = "/parley"
    slack_native_streaming: bool = False
    slack_thread_followups: bool | None = None
    """Kept from earlier versions: the same as THREAD_FOLLOWUPS_OVERRIDES=slack:*=on|off."""

    # --- Discord -------------------------------------------------------------------------
    discord_bot_token: SecretStr | None = None
    discord_api_url: str | None = None
    """REST base including the version; default Discord's https://discord.com/api/v10."""
    discord_gateway_url: str | None = None
    """Gateway websocket URL; default: what GET /gateway/bot on DISCORD_API_URL says."""
    discord_guild_ids: CommaList = ()
    """Register app commands in these guilds (instant updates); empty: globally."""
    discord_shards: int | None = Field(default=None, ge=0)
    """Run sharded (AutoShardedClient) with this many shards; 0: as many as Discord says."""
    discord_reply_in_thread: bool = False
    """Answer a channel mention in a new thread instead of a reply to the message."""
    discord_application_id: str | None = None
    """Only for `discord invite-url` without a token (the id is read from the token otherwise)."""

    @field_validator("discord_guild_ids", mode="before")
    @classmethod
    def _guild_ids(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        bad = [g for g in value if not str(g).isdigit()] if isinstance(value, tuple | list) else []
        if bad:
            raise ValueError(
                f"guild ids are numbers (Developer Mode, then right-click the server → Copy Server ID), got {bad}"
            )
        return value

    # --- Teams (docs/teams.md) ----------------------------------------------------------
    teams_app_id: str | None = None
    """The bot's Microsoft App ID; setting it turns Teams on and every request's JWT is checked."""
    teams_app_password: SecretStr | None = None
    teams_app_tenant_id: str | None = None
    teams_app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = "MultiTenant"
    teams_openid_metadata_url: str | None = None
    """Where inbound tokens' signing keys are published (default: the Bot Framework's)."""
    teams_allow_anonymous: bool = False
    """With no TEAMS_APP_ID: accept requests without a token (local testing, the Emulator)."""
    teams_admin_ids: CommaList = ()
    """Entra object ids of people who count as admins in Teams (added to ADMIN_USERS)."""

    teams_admin_group_id: str | None = None
    """Not supported yet (its members would come from Microsoft Graph): refused at start-up."""

    @field_validator("teams_admin_group_id")
    @classmethod
    def _no_admin_group(cls, value: str | None) -> str | None:
        if value:
            raise ValueError(
                "admin groups are not supported yet; list the admins' Entra object ids in "
                "TEAMS_ADMIN_IDS instead"
            )
        return value

    @field_validator("teams_admin_ids", mode="before")
    @classmethod
    def _split_teams_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _teams_admins_are_admins(self) -> Settings:
        extra = tuple(
            f"teams:{i}" for i in self.teams_admin_ids if f"teams:{i}" not in self.admin_users
        )
        if extra:  # the model is frozen; this runs once, while it is being built
            object.__setattr__(self, "admin_users", (*self.admin_users, *extra))
        return self

    @property
    def teams_enabled(self) -> bool:
        return bool(self.teams_app_id) or self.teams_allow_anonymous

    # --- end of Teams --------------------------------------------------------------------

    # --- Storage -------------------------------------------------------------------------
    data_dir: Path = Path("./data")
    database_url: SecretStr | None = None
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None

    # --- Knowledge -----------------------------------------------------------------------
    knowledge_paths: CommaList = ()
    embedding_model: str = "all-MiniLM-L6-v2"
    model_cache_dir: Path | None = None
    """Where the packaged model's fast graph is built and kept (default DATA_DIR/models)."""
    reindex_interval_minutes: int = Field(default=0, ge=0)
    """0 turns the scheduled reindex off."""
    answer_from_general_knowledge: bool = False
    knowledge_scopes: str = ""
    """Per-directory scopes: `dir=scope[,scope];dir2=public` (see docs/knowledge.md); default public."""
    knowledge_include: CommaList = ()
    """File globs to index (default: every supported document type)."""
    knowledge_exclude: CommaList = ()
    """File globs to skip, on top of hidden folders, node_modules and __pycache__."""
    knowledge_chunk_chars: int = Field(default=1000, ge=200)
    knowledge_chunk_overlap: int = Field(default=200, ge=0)
    knowledge_min_score: float = Field(default=0.4, ge=-1.0, le=1.0)
    """Best dense cosine a question's passages need, else "not in the knowledge base" (an
    identifier from the question found in a passage also passes); calibrated for the packaged
    model by benchmarks/bench_retrieval.py."""
    knowledge_max_file_mb: float = Field(default=20.0, gt=0)
    """Larger files are capped (their first part is indexed) with a warning."""
    knowledge_add_roots: CommaList = ()
    """Folders under which admins may add paths from chat (`kb add PATH`), besides
    KNOWLEDGE_PATHS; URLs need HTTP_TOOL_ALLOWED_HOSTS instead."""

    thread_followups: bool = True
    """Answer thread replies without a mention where the bot took part (every platform)."""
    thread_followups_overrides: CommaList = ()
    """`platform:workspace_id=on|off` entries (`platform:*` for a whole platform) that override
    THREAD_FOLLOWUPS."""
    first_post_wait_s: float = Field(default=1.0, ge=0, le=10)
    """How long a reply waits for the model's first text before posting a placeholder."""
    user_messages_per_minute: int = Field(default=20, ge=1)
    """Messages and commands one person may send per minute before being asked to wait."""
    event_retention_hours: int = Field(default=48, ge=1)
    """How long processed event ids are kept for dedupe (platforms retry within minutes)."""
    retention_days: int = Field(default=90, ge=0)
    """Conversations, messages and summaries older than this are purged daily; 0 keeps them."""
    audit_retention_days: int = Field(default=365, ge=0)
    """Approvals, audit entries and job runs older than this are purged daily; 0 keeps them."""
    shutdown_grace_s: float = Field(default=20.0, gt=0, le=600)
    """On SIGTERM: how long answers in progress may take to finish before they are finalized
    with a notice and the process exits (docs/operations.md)."""

    # --- Access and tools ----------------------------------------------------------------
    admin_users: CommaList = ()
    """`platform:user_id` entries."""
    approval_timeout_s: float = Field(default=300.0, gt=0)
    tool_max_steps: int = Field(default=10, ge=1, le=50)
    tool_turn_timeout_s: float = Field(default=120.0, gt=0)
    http_tool_allowed_hosts: CommaList = ()

    # --- Quotas and cost (docs/operations.md) --------------------------------------------
    quota_user_requests: str = ""
    """Questions one person may ask: `30/hour`, `10/minute` or `500/day`; empty: no limit."""
    quota_channel_requests: str = ""
    """Questions one channel may ask, in the same form."""
    quota_user_tokens_per_day: int = Field(default=0, ge=0)
    """Tokens (in + out) one person's questions may use per UTC day; 0: no limit."""
    quota_channel_tokens_per_day: int = Field(default=0, ge=0)
    quota_concurrent_per_user: int = Field(default=0, ge=0)
    """Answers one person may have in progress at once; 0: no limit."""
    quota_admins_exempt: bool = True
    quota_overrides: dict[str, dict[str, str | int]] = Field(default_factory=dict)
    """JSON: `{"slack:T0123": {"user_tokens_per_day": 200000}, "discord:*": {...}}`."""
    llm_prices: dict[str, tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]]] = (
        Field(default_factory=dict)
    )
    """JSON: model (or model prefix) → [dollars per million input, per million output tokens]."""

    @field_validator("quota_user_requests", "quota_channel_requests")
    @classmethod
    def _rates(cls, value: str) -> str:
        from bot.core.quota_limits import parse_rate

        parse_rate(value)
        return value

    @field_validator("quota_overrides")
    @classmethod
    def _quota_overrides(cls, value: dict[str, dict[str, str | int]]) -> object:
        from bot.core.quota_limits import parse_overrides

        return parse_overrides(value)

    # --- Server and logs -----------------------------------------------------------------
    port: int = Field(default=8080, ge=0, le=65535)
    """0 asks the OS for any free port (tests)."""
    host: str = "0.0.0.0"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] | None = None
    """Unset: json when stdout is not a terminal (Procfile, container), console lines otherwise."""

    # --- Hardening (docs/security.md) ----------------------------------------------------
    redact_builtin: bool = True
    """Redact well-known token formats and Luhn-valid card numbers from posts and storage."""
    redact_patterns: Annotated[tuple[str, ...], NoDecode] = ()
    """More regular expressions to redact: a JSON list, or one pattern per line."""
    llm_turn_deadline_s: float = Field(default=45.0, gt=0)
    """The most model time one turn may take, over every provider and retry."""
    llm_slow_notice_s: float = Field(default=8.0, gt=0)
    """After this long without text, the reply says the model is slow."""

    @field_validator("redact_patterns", mode="before")
    @classmethod
    def _patterns(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a JSON list of patterns: {exc}") from None
            else:
                value = [line for line in (p.strip() for p in text.splitlines()) if line]
        if isinstance(value, list | tuple):
            from bot.redaction import compile_patterns

            compile_patterns(str(p) for p in value)
            return tuple(str(p) for p in value)
        return value

    @field_validator(
        "llm_providers",
        "knowledge_paths",
        "admin_users",
        "http_tool_allowed_hosts",
        "knowledge_include",
        "knowledge_exclude",
        "knowledge_add_roots",
        "thread_followups_overrides",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("llm_providers")
    @classmethod
    def _known_providers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [p for p in value if p not in KNOWN_PROVIDERS]
        if unknown:
            raise ValueError(
                f"unknown provider(s) {unknown}; use a comma list of {KNOWN_PROVIDERS}"
            )
        return value

    @field_validator("admin_users")
    @classmethod
    def _qualified_users(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [u for u in value if ":" not in u]
        if bad:
            raise ValueError(
                f"entries must look like platform:user_id, e.g. slack:U0123 (got {bad})"
            )
        return value

    @field_validator("thread_followups_overrides")
    @classmethod
    def _overrides(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _OVERRIDE.fullmatch(v)]
        if bad:
            raise ValueError(f"entries must look like slack:T0123=off or discord:42=on (got {bad})")
        return value

    # --- Derived -------------------------------------------------------------------------
    @property
    def followup_overrides(self) -> dict[str, bool]:
        """`platform:workspace_id` → on/off, from THREAD_FOLLOWUPS_OVERRIDES."""
        pairs = (entry.rsplit("=", 1) for entry in self.thread_followups_overrides)
        found = {key: value.lower() in ("on", "true", "yes", "1") for key, value in pairs}
        if self.slack_thread_followups is not None:
            found.setdefault("slack:*", self.slack_thread_followups)
        return found

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url is not None:
            url = self.database_url.get_secret_value()
            # Heroku-style URLs name the scheme "postgres"; use the psycopg 3 driver.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'parley.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def qdrant_path(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def configured_providers(self) -> tuple[str, ...]:
        """Providers in fallback order that have credentials or a base URL."""
        available = {
            "openai": self.openai_api_key is not None or self.openai_base_url is not None,
            "anthropic": self.anthropic_api_key is not None or self.anthropic_base_url is not None,
        }
        order = self.llm_providers or KNOWN_PROVIDERS
        return tuple(p for p in order if available[p])

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def discord_enabled(self) -> bool:
        return self.discord_bot_token is not None


def load_settings(**overrides: object) -> Settings:
    """Read settings once; on any invalid value raise ConfigError naming every bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            given = err.get("input")
            message = str(err["msg"]).removeprefix("Value error, ")
            shown = (
                ""
                if "(got " in message  # a validator already named the bad part
                or "key" in name.lower()
                or "token" in name.lower()
                or "secret" in name.lower()
                or "password" in name.lower()
                else f" (got {given!r})"
            )
            lines.append(f"{name}: {message}{shown}. Fix it in the environment or in .env.")
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(lines)) from None
