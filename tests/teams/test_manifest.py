"""The Teams app manifest validates against Microsoft's published schema (1.29), the icons have
the sizes Teams requires, and `python -m bot teams package` writes an uploadable zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from adapters.teams.icons import color_icon, outline_icon, png_size
from adapters.teams.manifest import PLACEHOLDER_APP_ID, render_manifest, write_package

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / ".." / "shared" / "schemas" / "teams-manifest.schema.json"
MANIFESTS = ROOT / "manifests" / "teams"
APP_ID = "c9e1c3a5-9cbb-4a4e-8f7b-1b7f3c1f0d2e"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    if not SCHEMA.exists():
        pytest.skip(f"the Teams manifest schema is not beside the checkout ({SCHEMA})")
    # Draft 4 without check_schema: the schema's `\p{L}` patterns (ECMA regex) are not Python
    # regexes; none of them applies to a bot manifest.
    return jsonschema.Draft4Validator(json.loads(SCHEMA.read_text()))


def errors(validator: jsonschema.Draft4Validator, manifest: dict[str, Any]) -> list[str]:
    return [e.message for e in validator.iter_errors(manifest)]


def test_the_committed_manifest_is_valid_and_matches_the_code(
    validator: jsonschema.Draft4Validator,
) -> None:
    committed = json.loads((MANIFESTS / "manifest.json").read_text())
    assert errors(validator, committed) == []
    assert committed == render_manifest(PLACEHOLDER_APP_ID, "https://example.com")


def test_a_rendered_manifest_is_valid_with_bot_scopes_and_commands(
    validator: jsonschema.Draft4Validator,
) -> None:
    manifest = render_manifest(APP_ID, "https://parley.example.org/")
    assert errors(validator, manifest) == []
    assert manifest["manifestVersion"] == "1.29"
    (bot,) = manifest["bots"]
    assert bot["botId"] == manifest["id"] == APP_ID
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    titles = [c["title"] for c in bot["commandLists"][0]["commands"]]
    assert titles == [
        "ask",
        "reset",
        "help",
        "kb status",
        "kb search",
        "kb reindex",
        "kb cancel",
        "kb sources",
        "kb add",
        "kb remove",
    ]
    assert manifest["validDomains"] == ["parley.example.org"]


def test_the_validator_does_refuse_a_broken_manifest(validator: jsonschema.Draft4Validator) -> None:
    manifest = render_manifest(APP_ID, "https://parley.example.org")
    manifest["bots"][0]["scopes"] = ["everywhere"]
    del manifest["accentColor"]
    assert len(errors(validator, manifest)) == 2


@pytest.mark.parametrize(
    ("app_id", "base_url"),
    [("not-a-guid", "https://x.example"), (APP_ID, "http://x.example"), (APP_ID, "parley")],
)
def test_bad_arguments_are_refused_with_a_reason(app_id: str, base_url: str) -> None:
    with pytest.raises(ValueError, match=r"GUID|https"):
        render_manifest(app_id, base_url)


def test_icons_have_the_sizes_teams_requires() -> None:
    assert png_size(color_icon()) == (192, 192)
    assert png_size(outline_icon()) == (32, 32)
    assert png_size((MANIFESTS / "color.png").read_bytes()) == (192, 192)
    assert png_size((MANIFESTS / "outline.png").read_bytes()) == (32, 32)
    assert (MANIFESTS / "color.png").read_bytes() == color_icon()
    assert (MANIFESTS / "outline.png").read_bytes() == outline_icon()


def test_outline_icon_is_white_on_transparent() -> None:
    pixels = _rgba(outline_icon(), 32)
    assert {p for p in pixels if p[3]} == {(255, 255, 255, 255)}
    assert any(p[3] == 0 for p in pixels)


def test_package_holds_the_manifest_with_the_app_id_and_both_icons(tmp_path: Path) -> None:
    path = write_package(tmp_path / "parley.zip", APP_ID, "https://parley.example.org")
    with zipfile.ZipFile(path) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
        assert png_size(package.read("color.png")) == (192, 192)
        assert png_size(package.read("outline.png")) == (32, 32)


def test_cli_writes_the_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    out = tmp_path / "app.zip"
    code = main(
        [
            "teams",
            "package",
            "--app-id",
            APP_ID,
            "--base-url",
            "https://parley.example.org",
            "-o",
            str(out),
        ]
    )
    assert code == 0 and zipfile.is_zipfile(out)
    assert (
        main(["teams", "package", "--app-id", "x", "--base-url", "https://a.b", "-o", str(out)])
        == 2
    )
    assert "GUID" in capsys.readouterr().out


def _rgba(data: bytes, size: int) -> list[tuple[int, ...]]:
    import zlib

    raw, chunks, at = b"", data[8:], 0
    while at < len(chunks):
        length = int.from_bytes(chunks[at : at + 4], "big")
        kind = chunks[at + 4 : at + 8]
        if kind == b"IDAT":
            raw += chunks[at + 8 : at + 8 + length]
        at += 12 + length
    rows = zlib.decompress(raw)
    stride = 1 + size * 4
    return [
        tuple(rows[y * stride + 1 + x * 4 : y * stride + 5 + x * 4])
        for y in range(size)
        for x in range(size)
    ]
