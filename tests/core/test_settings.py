from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.settings import load_settings


def test_bad_values_name_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "xml")
    monkeypatch.setenv("PORT", "not-a-port")
    monkeypatch.setenv("LLM_PROVIDERS", "openai,gemini")
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None)
    text = str(exc.value)
    assert "LOG_FORMAT" in text and "PORT" in text and "LLM_PROVIDERS" in text
    assert "gemini" in text and "Fix it" in text


def test_secrets_are_not_echoed_in_errors(monkeypatch) -> None:
    monkeypatch.setenv("ADMIN_USERS", "nocolon")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None)
    assert "ADMIN_USERS" in str(exc.value) and "sk-very-secret" not in str(exc.value)


def test_comma_lists_and_derived_values(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ADMIN_USERS", "slack:U1, discord:42")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db/x")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    settings = load_settings(_env_file=None)
    assert settings.admin_users == ("slack:U1", "discord:42")
    assert settings.configured_providers == ("anthropic",)
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db/x"


def test_env_file_is_read(monkeypatch, tmp_path) -> None:
    env = tmp_path / ".env"
    env.write_text("LOG_LEVEL=debug\nLLM_PROVIDERS=anthropic\n")
    settings = load_settings(_env_file=str(env))
    assert settings.log_level == "DEBUG" and settings.llm_providers == ("anthropic",)


def _example_names() -> list[str]:
    """Every variable .env.example mentions, commented out or not."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    return re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.M)


def test_empty_values_in_the_environment_mean_unset(monkeypatch) -> None:
    for name in _example_names():
        monkeypatch.setenv(name, "")
    settings = load_settings(_env_file=None)
    assert settings.configured_providers == ()
    assert not (settings.slack_enabled or settings.discord_enabled or settings.teams_enabled)
    assert settings.port == 8080 and settings.log_level == "INFO"


def test_empty_values_in_dotenv_mean_unset(tmp_path) -> None:
    env = tmp_path / ".env"
    env.write_text("".join(f"{name}=\n" for name in _example_names()))
    settings = load_settings(_env_file=str(env))
    assert settings.configured_providers == ()
    assert not (settings.slack_enabled or settings.discord_enabled or settings.teams_enabled)
    assert settings.database_url is None and settings.qdrant_url is None


def test_env_example_as_copied_switches_nothing_on(tmp_path) -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".env.example"
    settings = load_settings(_env_file=str(example))
    assert settings.configured_providers == ()
    assert not (settings.slack_enabled or settings.discord_enabled or settings.teams_enabled)


def test_a_validator_error_says_it_once(monkeypatch) -> None:
    monkeypatch.setenv("ADMIN_USERS", "bob")
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None)
    text = str(exc.value)
    assert text.count("got") == 1 and "bob" in text and "Value error" not in text
