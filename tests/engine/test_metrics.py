"""One metric run: params rendered, the calculator called, its inputs fingerprinted (SPEC §2.5)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opsflow.core import metrics
from opsflow.language.models import MetricSpec
from opsflow.testing import builtin_plugins

NOW = datetime(2026, 1, 20, tzinfo=UTC)
EVENTS = "user_id,event,timestamp\n1,visit,2026-01-15T09:00:00Z\n2,visit,2026-01-15T10:00:00Z\n"


@pytest.fixture
def plugins() -> Any:
    return builtin_plugins()


def _run(plugins: Any, tmp_path: Path, **sources: Any) -> dict[str, Any]:
    spec = MetricSpec(calculator="dau", params={"source": "events", "date": "{{ day }}"})
    return metrics.run_metric(
        "active",
        spec,
        case={"data": {"day": "2026-01-15"}, "metrics": {}},
        variables={"day": "2026-01-15"},
        plugins=plugins,
        sources=sources or {"events": {"path": "events.csv"}},
        base_dir=tmp_path,
        now=NOW,
    )


def test_the_record_names_value_params_and_a_content_fingerprint(
    plugins: Any, tmp_path: Path
) -> None:
    (tmp_path / "events.csv").write_text(EVENTS)
    record = _run(plugins, tmp_path)
    assert record["value"] == 2
    assert record["params"] == {"source": "events", "date": "2026-01-15"}
    assert (record["calculator"], record["computed_at"]) == ("dau", "2026-01-20T00:00:00+00:00")
    assert record == _run(plugins, tmp_path)  # same inputs, same fingerprint
    digest = hashlib.sha256(EVENTS.encode()).hexdigest()
    assert metrics.source_digest({"path": "events.csv"}, tmp_path) == digest


def test_the_fingerprint_follows_the_file_content(plugins: Any, tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text(EVENTS)
    before = _run(plugins, tmp_path)
    source.write_text(EVENTS.replace("2,visit", "3,visit"))  # same size, other content
    os.utime(source, ns=(1, 1))
    after = _run(plugins, tmp_path)
    assert after["value"] == before["value"] == 2
    assert after["fingerprint"] != before["fingerprint"]


def test_a_digest_the_thread_could_not_take_fails_in_the_caller(
    plugins: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "events.csv").write_text(EVENTS)
    calls = []

    def unreadable(path: str, size: int, mtime_ns: int) -> str:
        calls.append(path)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(metrics, "_file_digest", unreadable)
    with pytest.raises(PermissionError):
        _run(plugins, tmp_path)
    assert len(calls) == 2  # the thread's attempt, then the caller's, which raises


def test_query_sources_are_digested_by_their_definition(tmp_path: Path) -> None:
    one = {"url": "sqlite:///x.db", "query": "SELECT 1"}
    wait = metrics._digest_sources(["q"], {"q": one}, tmp_path)
    assert wait() == {"q": metrics.source_digest(one, tmp_path)}
    other = metrics.source_digest({**one, "query": "SELECT 2"}, tmp_path)
    assert other != wait()["q"]
