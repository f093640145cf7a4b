"""The built-in console and file notifiers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsflow.plugins import Notification, Plugins


def note(settings: dict[str, object], **changes: object) -> Notification:
    fields: dict[str, object] = {
        "channel": "audit_log",
        "to": "brand",
        "subject": None,
        "message": "「春季促销」 needs brand review",
        "case": "c0ffee12",
        "event": "approve",
        "dedupe_key": "c0ffee12:7:0",
        "settings": settings,
    }
    fields.update(changes)
    return Notification(**fields)  # type: ignore[arg-type]


def test_file_appends_one_json_object_per_line(
    plugins: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSFLOW_NOW", "2026-03-01T09:30:00+08:00")
    path = tmp_path / "out" / "notifications.jsonl"
    plugins.notifiers["file"](note({"path": str(path), "secret": "x"}))
    plugins.notifiers["file"](note({"path": str(path)}, subject="Hi", event=None))
    assert path.read_text(encoding="utf-8") == (
        '{"channel": "audit_log", "to": "brand", "subject": null,'
        ' "message": "「春季促销」 needs brand review", "case": "c0ffee12", "event": "approve",'
        ' "dedupe_key": "c0ffee12:7:0", "at": "2026-03-01T01:30:00+00:00"}\n'
        '{"channel": "audit_log", "to": "brand", "subject": "Hi",'
        ' "message": "「春季促销」 needs brand review", "case": "c0ffee12", "event": null,'
        ' "dedupe_key": "c0ffee12:7:0", "at": "2026-03-01T01:30:00+00:00"}\n'
    )
    assert list(json.loads(path.read_text(encoding="utf-8").splitlines()[0])) == [
        "channel",
        "to",
        "subject",
        "message",
        "case",
        "event",
        "dedupe_key",
        "at",
    ]


def test_file_paths_are_relative_to_the_base_dir(plugins: Plugins, tmp_path: Path) -> None:
    plugins.notifiers["file"](note({"path": "log.jsonl", "_base_dir": str(tmp_path)}))
    assert len((tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_file_without_a_path_raises_for_a_retry(plugins: Plugins) -> None:
    with pytest.raises(ValueError, match="channel 'audit_log': the file notifier needs a `path`"):
        plugins.notifiers["file"](note({}))


def test_console_writes_one_line_to_stderr(
    plugins: Plugins, capsys: pytest.CaptureFixture[str]
) -> None:
    plugins.notifiers["console"](note({}, subject="Review", message="line one\nline two"))
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "[audit_log] to brand: Review — line one line two (case c0ffee12)\n"
