"""Test-wide setup: no test reaches the internet, and models load only from installed packages."""

from __future__ import annotations

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Settings read .env from the working directory; tests must not pick up a developer's real keys.
for _name in list(os.environ):
    if _name.startswith(
        ("OPENAI_", "ANTHROPIC_", "SLACK_", "DISCORD_", "TEAMS_", "QDRANT_")
    ) or _name in {
        "DATABASE_URL",
        "LLM_PROVIDERS",
        "LLM_MODEL",
        "KNOWLEDGE_PATHS",
        "ADMIN_USERS",
        "DATA_DIR",
    }:
        del os.environ[_name]
# One build of the packaged model's fast graph serves every test (and every run); the tests of
# the build itself build into their own temporary directories.
os.environ.setdefault(
    "MODEL_CACHE_DIR", os.path.join(tempfile.gettempdir(), "parley-test-model-cache")
)
pytest_plugins = ["tests.fakes.llm_fixtures", "tests.fakes.slack_fixtures"]
