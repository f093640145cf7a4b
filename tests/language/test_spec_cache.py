"""The checked-spec cache: trusted texts skip the checks only when checked before."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from opsflow.language import cache, loader
from opsflow.language.loader import LoadContext, load_workflow_text

VALID = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / "simple_review.yaml"
TEXT = VALID.read_text(encoding="utf-8")
CHANNELS = LoadContext(channels=frozenset({"team_chat"}))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(path))
    monkeypatch.setattr(loader, "_CHECKED", {})
    return path


def _no_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("the text was checked again")

    monkeypatch.setattr(loader, "_guarded", refuse)


def test_a_checked_text_is_read_back_from_the_cache(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, diagnostics = load_workflow_text(TEXT, "w.yaml", CHANNELS, trusted=True)
    assert first is not None
    assert diagnostics == []
    entries = list(folder.iterdir())
    assert len(entries) == 1
    if hasattr(os, "getuid"):
        assert folder.stat().st_mode & 0o777 == 0o700
    monkeypatch.setattr(loader, "_CHECKED", {})
    _no_checks(monkeypatch)
    again, _ = load_workflow_text(TEXT, "w.yaml", CHANNELS, trusted=True)
    assert again is not None
    assert again.spec == first.spec
    assert again.hash == first.hash


def test_untrusted_text_is_always_checked(folder: Path) -> None:
    load_workflow_text(TEXT, "w.yaml", CHANNELS, trusted=True)
    broken = TEXT.replace("initial: true", "initial: maybe", 1)
    loaded, diagnostics = load_workflow_text(broken, "w.yaml", CHANNELS, trusted=True)
    assert loaded is None
    assert diagnostics
    loaded, diagnostics = load_workflow_text(TEXT, "w.yaml", CHANNELS)
    assert loaded is not None
    assert len(list(folder.iterdir())) == 1  # the broken text was not cached


def test_another_context_is_checked_again(folder: Path) -> None:
    load_workflow_text(TEXT, "w.yaml", CHANNELS, trusted=True)
    loaded, diagnostics = load_workflow_text(TEXT, "w.yaml", LoadContext(), trusted=True)
    assert loaded is not None
    assert any("team_chat" in d.message for d in diagnostics)  # no channels: a warning


def test_stale_or_foreign_entries_are_ignored(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_workflow_text(TEXT, "w.yaml", CHANNELS, trusted=True)
    (entry,) = folder.iterdir()
    document = json.loads(entry.read_text())
    checked: list[str] = []
    real = loader._guarded

    def counting(text: str, path: str, ctx: LoadContext):  # type: ignore[no-untyped-def]
        checked.append(path)
        return real(text, path, ctx)

    monkeypatch.setattr(loader, "_guarded", counting)
    for bad in (
        {**document, "hash": "0" * 64},
        {**document, "key": "another opsflow"},
        {**document, "spec": {"workflow": "x"}},
        "not json {",
    ):
        entry.write_text(bad if isinstance(bad, str) else json.dumps(bad))
        monkeypatch.setattr(loader, "_CHECKED", {})
        loaded, _ = load_workflow_text(TEXT, "w.yaml", CHANNELS, trusted=True)
        assert loaded is not None
    assert len(checked) == 4


def test_a_folder_others_may_write_is_not_used(folder: Path) -> None:
    if not hasattr(os, "getuid"):
        pytest.skip("POSIX permissions")
    folder.mkdir(mode=0o700)
    folder.chmod(0o777)
    assert cache.cache_dir() is None
    loaded, _ = load_workflow_text(TEXT, "w.yaml", CHANNELS, trusted=True)
    assert loaded is not None
    assert list(folder.iterdir()) == []


def test_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV_CACHE_DIR, "off")
    assert cache.cache_dir() is None


def test_values_json_cannot_carry_are_not_cached(folder: Path) -> None:
    text = (
        "workflow: w\nversion: 1\nstates:\n  a: {initial: true}\n  b: {final: true}\n"
        "transitions:\n  - {event: go, from: a, to: b}\n"
        "metrics:\n  m: {calculator: count, params: {source: s, limit: .inf}}\n"
    )
    loaded, diagnostics = load_workflow_text(text, "w.yaml", LoadContext(), trusted=True)
    assert loaded is not None, diagnostics
    assert not folder.exists() or list(folder.iterdir()) == []
    loaded, _ = load_workflow_text(text, "w.yaml", LoadContext(), trusted=True)
    assert loaded is not None  # from the process cache


def test_same_is_type_strict() -> None:
    assert cache.same({"a": [1, "x"]}, {"a": [1, "x"]})
    assert not cache.same({"a": 1}, {"a": True})
    assert not cache.same({"a": 1}, {"a": 1.0})
    assert not cache.same({"a": 1, "b": 2}, {"b": 2, "a": 1})
