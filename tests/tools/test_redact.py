from __future__ import annotations

from bot.tools.redact import MASK, args_hash, args_preview, redact


def test_sensitive_keys_are_masked_at_any_depth() -> None:
    args = {
        "url": "https://api.example.com/x?api_key=abc123&q=1",
        "headers": {"Authorization": "Bearer sk-live-123", "X-Trace": "t1"},
        "nested": [{"password": "hunter2", "name": "ok"}],
        "client_secret": "s",
        "note": "use Bearer abc.def and https://bob:pw@host/",
    }
    out = redact(args)
    assert out["headers"]["Authorization"] == MASK
    assert out["headers"]["X-Trace"] == "t1"
    assert out["nested"][0] == {"password": MASK, "name": "ok"}
    assert out["client_secret"] == MASK
    assert out["url"] == f"https://api.example.com/x?api_key={MASK}&q=1"
    assert out["note"] == f"use Bearer {MASK} and https://{MASK}@host/"
    preview = args_preview(args)
    for secret in ("abc123", "sk-live-123", "hunter2", "abc.def", "bob:pw"):
        assert secret not in preview


def test_preview_is_truncated_and_hash_is_canonical() -> None:
    long = {"text": "y" * 1000}
    assert len(args_preview(long)) == 300 and args_preview(long).endswith("…")
    assert args_hash({"a": 1, "b": 2}) == args_hash({"b": 2, "a": 1})
    assert args_hash({"a": 1}) != args_hash({"a": 2})
    assert len(args_hash({})) == 64
