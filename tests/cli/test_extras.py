"""Platform SDKs are extras: the core install does not pull them, and a platform whose extra is
missing says how to install it instead of a traceback."""

from __future__ import annotations

import tomllib

import pytest

from bot import platforms
from bot.errors import ConfigError
from bot.settings import load_settings
from tests.cli.helpers import ROOT


def test_platform_sdks_are_extras_that_make_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for sdk in ("slack-bolt", "discord.py", "botbuilder"):
        assert sdk not in core
    extras = project["optional-dependencies"]
    assert {"slack", "discord", "teams"} <= set(extras)
    assert "PLATFORMS := slack,discord,teams" in (ROOT / "Makefile").read_text()


def test_missing_extra_names_the_install_command(tmp_path, monkeypatch) -> None:
    package = tmp_path / "fake_platform"
    package.mkdir()
    (package / "__init__.py").write_text("import parley_sdk_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(platforms.PLATFORMS, "slack", ("fake_platform", lambda s: True))
    with pytest.raises(ConfigError, match=r"pip install 'parley\[slack\]'"):
        platforms.load_adapter("slack", load_settings(_env_file=None))
