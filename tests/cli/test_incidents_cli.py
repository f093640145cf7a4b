"""`opsflow incidents`, the worker's report and exit status, `status`: on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KPI = (Path(__file__).parent.parent / "engine" / "test_incidents.py").read_text(encoding="utf-8")
KPI = KPI.split('KPI = """\\\n', 1)[1].split('"""', 1)[0]


@pytest.fixture
def root(tmp_path: Path, db_url: str) -> Path:
    project = tmp_path / "proj"
    (project / "workflows").mkdir(parents=True)
    (project / "workflows" / "kpi.yaml").write_text(KPI, encoding="utf-8")
    (project / "opsflow.yaml").write_text(
        f"database: '{db_url}'\nworkflows: workflows/\n"
        "team: {ann: [analyst], ed: [analyst]}\n"
        "sources:\n  app_events: {path: events.csv}\n",
        encoding="utf-8",
    )
    return project


def _cli(root: Path, *args: str, days: float = 0, actor: str = "ann") -> Result:
    from opsflow.cli import cli

    env = {"OPSFLOW_NOW": (START + timedelta(days=days)).isoformat(), "OPSFLOW_ACTOR": actor}
    return CliRunner().invoke(
        cli, ["--config", str(root / "opsflow.yaml"), *args], env=env, catch_exceptions=False
    )


def _json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_a_failing_timer_is_reported_retried_and_closed_by_a_person(root: Path) -> None:
    case = _cli(root, "start", "kpi", "--set", "title=q1").stdout.strip()
    first = _cli(root, "worker", "--once", "--json", days=1)
    assert first.exit_code == 0, first.output  # retrying: nothing needs a person yet
    report = _json(first)
    assert (report["deadlines_fired"], report["incidents_opened"]) == (0, 0)
    assert "when: 'ready' is false" in report["errors"][0]
    listed = _json(_cli(root, "incidents", "--json", days=1))
    assert [(i["kind"], i["status"], i["case"]) for i in listed] == [("timer", "retrying", case)]
    for day in (2, 3, 4, 5):
        last = _cli(root, "worker", "--once", days=day)
    assert last.exit_code == 1, last.output  # an incident is open
    assert "1 incident(s) opened" in last.stdout
    assert "1 incident(s) open (see 'opsflow incidents')" in last.stdout
    (incident,) = _json(_cli(root, "incidents", "--json", days=5))
    assert (incident["status"], incident["attempts"]) == ("open", 5)
    table = _cli(root, "incidents", days=5)
    assert "timer 'measure'" in table.stdout
    assert "open" in table.stdout
    shown = _cli(root, "status", case, days=5)
    assert "Incidents (failed automation)" in shown.stdout
    assert "opsflow incidents retry ID" in shown.stderr
    assert (
        _json(_cli(root, "status", case, "--json", days=5))["incidents"][0]["id"]
        == (incident["id"])
    )
    # retried before the cause is fixed: fails again, says why, stays open
    again = _cli(root, "incidents", "retry", str(incident["id"]), days=5)
    assert again.exit_code == 1
    assert f"error: incident {incident['id']} failed again: " in again.stderr
    assert "'ready' is false" in again.stderr
    assert _cli(root, "set", case, "ready=true", days=5).exit_code == 0
    fixed = _cli(root, "incidents", "retry", str(incident["id"]), days=5, actor="ed")
    assert fixed.exit_code == 0, fixed.output
    assert f"incident {incident['id']} recovered: timer 'measure'" in fixed.stdout
    assert _json(_cli(root, "status", case, "--json", days=5))["state"] == "measured"
    # entering `measured` computes a metric whose source file is missing: resolve it
    (compute,) = _json(_cli(root, "incidents", "--json", days=5))
    assert compute["kind"] == "compute"
    stranger = _cli(
        root, "incidents", "resolve", str(compute["id"]), "--comment", "x", days=5, actor="zed"
    )
    assert stranger.exit_code == 3
    no_comment = _cli(root, "incidents", "resolve", str(compute["id"]), days=5)
    assert no_comment.exit_code == 2
    done = _cli(
        root,
        "incidents",
        "resolve",
        str(compute["id"]),
        "--comment",
        "no data yet",
        "--json",
        days=5,
    )
    assert done.exit_code == 0, done.output
    assert (_json(done)["status"], _json(done)["closed_by"]) == ("resolved", "ann")
    history = _json(_cli(root, "history", case, "--json", days=5))
    assert history[-1]["kind"] == "incident"
    assert history[-1]["actor"] == "ann"
    assert _cli(root, "incidents", days=5).stderr.strip() == (
        "no open incidents: all automation ran"
    )
    assert _cli(root, "worker", "--once", days=6).exit_code == 0
    assert len(_json(_cli(root, "incidents", "--all", "--json", days=6))) == 2
    missing = _cli(root, "incidents", "retry", "999", days=6)
    assert missing.exit_code == 5
    assert "no incident 999" in missing.stderr
