"""The dependency rule (docs/architecture.md, "Layers"): platform SDKs are imported only under adapters/<platform>/,
adapters never import each other, and bot/ imports an adapter only in the composition root."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDKS = {
    "slack_bolt": "slack",
    "slack_sdk": "slack",
    "discord": "discord",
    "botbuilder": "teams",
    "botframework": "teams",
}
PACKAGES = ("bot", "adapters", "knowledge", "storage")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_platform_sdks_only_in_their_adapter() -> None:
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT)
            for name in _imports(path):
                platform = SDKS.get(name.split(".")[0])
                if platform and rel.parts[:2] != ("adapters", platform):
                    offenders.append(f"{rel}: {name}")
    assert offenders == []


def test_adapters_do_not_import_each_other_and_core_only_in_composition_root() -> None:
    offenders = []
    for path in (ROOT / "adapters").rglob("*.py"):
        rel = path.relative_to(ROOT)
        own = rel.parts[1] if len(rel.parts) > 2 else None
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "adapters" and len(parts) > 1 and parts[1] != own:
                offenders.append(f"{rel}: {name}")
    for path in (ROOT / "bot").rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.as_posix() in {"bot/app.py", "bot/platforms.py", "bot/cli.py"}:
            continue
        offenders.extend(f"{rel}: {n}" for n in _imports(path) if n.split(".")[0] == "adapters")
    assert offenders == []
