"""start, fire, set, status, cases, inbox, history, compute through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

from opsflow.cli.values import MAX_COMMENT

Run = Callable[..., Result]
Project = Any
NOW = "2026-01-05T09:00:00+00:00"


def as_json(result: Result) -> Any:
    """The one JSON document on stdout."""
    return json.loads(result.stdout)


CASE_KEYS = {
    "id", "workflow", "version", "state", "data", "metrics", "created_by", "created_at",
    "updated_at", "entered_at", "closed", "deadlines", "events",
}  # fmt: skip
HISTORY_KEYS = {
    "seq", "at", "actor", "event", "from", "to", "data_changes", "comment", "kind", "hash",
}  # fmt: skip


# -- start -----------------------------------------------------------------------------


def test_start_prints_the_case_id_alone(run: Run, project: Project) -> None:
    result = run("--as", "rita", "start", "expense", "--set", "title=Taxi", "--set", "amount=40")
    assert result.exit_code == 0, result.output
    case_id = result.stdout.strip()
    assert len(case_id) == 32
    assert int(case_id, 16) >= 0
    case = project.engine().status(case_id)
    assert case.state == "draft"
    assert case.data["title"] == "Taxi"
    assert case.data["amount"] == 40
    assert case.created_by == "rita"


def test_start_keeps_its_comment_in_the_history(run: Run, project: Project) -> None:
    result = run(
        "--as", "rita", "start", "expense", "--set", "title=Taxi", "--comment", "出差 trip"
    )
    assert result.exit_code == 0, result.output
    (entry,) = project.engine().history(result.stdout.strip())
    assert (entry.kind, entry.comment) == ("start", "出差 trip")
    refused = run("start", "expense", "--set", "title=T", "--comment", "x" * (MAX_COMMENT + 1))
    assert refused.exit_code == 2
    assert len(project.engine().cases()) == 1  # the refused start wrote nothing


def test_start_json_is_the_case(run: Run) -> None:
    result = run("--as", "rita", "start", "expense", "--set", "title=Taxi", "--json")
    assert result.exit_code == 0, result.output
    doc = as_json(result)
    assert set(doc) >= CASE_KEYS
    assert doc["state"] == "draft"
    assert doc["workflow"] == "expense"
    assert doc["version"] == 1


def test_start_parses_values_by_field_type(run: Run) -> None:
    result = run(
        "start", "expense", "--json",
        "--set", "title=标题 with = sign", "--set", "amount=12.5", "--set", "urgent=yes",
        "--set", "due=2026-12-01", "--set", "tags=a,b", "--set", "count=3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = as_json(result)["data"]
    assert data["title"] == "标题 with = sign"
    assert data["amount"] == 12.5
    assert data["urgent"] is True
    assert data["count"] == 3
    assert data["due"] == "2026-12-01"
    assert data["tags"] == ["a", "b"]


def test_start_with_data_file_and_set_override(run: Run, project: Project) -> None:
    (project.root / "claim.json").write_text(
        json.dumps({"title": "From file", "amount": 10}), encoding="utf-8"
    )
    result = run("start", "expense", "--data", "claim.json", "--set", "amount=11", "--json")
    assert result.exit_code == 0, result.output
    assert as_json(result)["data"] == {"title": "From file", "amount": 11, "urgent": False}


def test_start_data_from_stdin(run: Run) -> None:
    result = run("start", "expense", "--data", "-", "--json", input='{"title": "stdin"}')
    assert result.exit_code == 0, result.output
    assert as_json(result)["data"]["title"] == "stdin"


def test_start_bad_data_file_is_invalid(run: Run, project: Project) -> None:
    (project.root / "bad.json").write_text("{nope", encoding="utf-8")
    result = run("start", "expense", "--data", "bad.json")
    assert result.exit_code == 65
    assert result.stderr.startswith("error: bad.json:1:2: not valid JSON")
    (project.root / "list.json").write_text("[1]", encoding="utf-8")
    assert run("start", "expense", "--data", "list.json").exit_code == 65


def test_start_malformed_set_is_usage(run: Run, project: Project) -> None:
    result = run("start", "expense", "--set", "title")
    assert result.exit_code == 2
    assert "error: --set expects FIELD=VALUE, got 'title'" in result.stderr
    assert project.engine().cases() == []


def test_start_unknown_field_is_invalid_with_hint(run: Run, project: Project) -> None:
    result = run("start", "expense", "--set", "titel=x", "--set", "amount=abc")
    assert result.exit_code == 65
    assert "unknown field 'titel' in workflow expense (did you mean 'title'?)" in result.stderr
    assert "field 'amount': must be a number" in result.stderr
    assert result.stdout == ""
    assert project.engine().cases() == []


def test_start_value_out_of_bounds_changes_nothing(run: Run, project: Project) -> None:
    result = run("start", "expense", "--set", "title=x", "--set", "amount=-5", "--json")
    assert result.exit_code == 65
    assert as_json(result)["error"] == "invalid"
    assert result.stderr.startswith("error: ")
    assert project.engine().cases() == []


def test_start_unknown_workflow_is_not_found(run: Run) -> None:
    result = run("start", "nope", "--json")
    assert result.exit_code == 5
    doc = as_json(result)
    assert set(doc) == {"error", "message", "reasons"}
    assert doc["error"] == "not_found"
    assert result.stderr.startswith("error: ")


def test_start_key_is_idempotent(run: Run, project: Project) -> None:
    first = run("start", "expense", "--set", "title=x", "--key", "k1")
    again = run("start", "expense", "--set", "title=x", "--key", "k1")
    assert first.exit_code == again.exit_code == 0
    assert first.stdout == again.stdout
    assert len(project.engine().cases()) == 1


def test_opsflow_now_fixes_the_clock(run: Run) -> None:
    result = run("start", "expense", "--set", "title=x", "--json", env={"OPSFLOW_NOW": NOW})
    assert as_json(result)["created_at"] == NOW
    bad = run("start", "expense", "--set", "title=x", env={"OPSFLOW_NOW": "yesterday"})
    assert bad.exit_code == 2
    assert "OPSFLOW_NOW" in bad.stderr


# -- fire ------------------------------------------------------------------------------


def test_fire_prints_the_new_state(run: Run, start_case: Callable[..., str]) -> None:
    case_id = start_case()
    result = run("--as", "rita", "fire", case_id, "submit")
    assert result.exit_code == 0, result.output
    assert result.stdout == "review\n"


def test_fire_json_shape(run: Run, start_case: Callable[..., str]) -> None:
    case_id = start_case()
    doc = as_json(run("--as", "rita", "fire", case_id, "submit", "--json"))
    assert set(doc) == {"case", "outcome"}
    assert doc["outcome"] == "transitioned"
    assert doc["case"]["state"] == "review"
    assert set(doc["case"]) >= CASE_KEYS


def test_fire_accepts_a_unique_prefix(run: Run, start_case: Callable[..., str]) -> None:
    case_id = start_case()
    assert run("--as", "rita", "fire", case_id[:6], "submit").stdout == "review\n"


def test_fire_short_prefix_is_usage(run: Run, start_case: Callable[..., str]) -> None:
    case_id = start_case()
    result = run("--as", "rita", "fire", case_id[:5], "submit")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_fire_unknown_case_is_not_found(run: Run, start_case: Callable[..., str]) -> None:
    start_case()
    result = run("fire", "ffffffffffff", "submit")
    assert result.exit_code == 5


def test_four_eyes_is_not_permitted(run: Run, project: Project, in_review: str) -> None:
    before = project.engine().status(in_review)
    result = run("--as", "rita", "fire", in_review, "approve")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: ")
    assert "  - " in result.stderr  # the reasons, one per line
    assert "Traceback" not in result.output
    after = project.engine().status(in_review)
    assert after.state == before.state == "review"
    assert after.row_version == before.row_version


def test_not_permitted_json(run: Run, in_review: str) -> None:
    result = run("--as", "rita", "fire", in_review, "approve", "--json")
    assert result.exit_code == 3
    doc = as_json(result)
    assert doc["error"] == "not_permitted"
    assert doc["reasons"]


def test_refused_event_exit_4(run: Run, project: Project, start_case: Callable[..., str]) -> None:
    case_id = start_case()
    result = run("--as", "fin", "fire", case_id, "pay")
    assert result.exit_code == 4
    assert project.engine().status(case_id).state == "draft"


def test_fire_with_set_and_comment(run: Run, project: Project) -> None:
    case_id = run("--as", "rita", "start", "expense", "--set", "title=Taxi").stdout.strip()
    missing = run("--as", "rita", "fire", case_id, "submit")
    assert missing.exit_code == 4  # requires amount
    result = run(
        "--as", "rita", "fire", case_id, "submit", "--set", "amount=9", "--comment", "go"
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    entries = project.engine().history(case_id)
    assert entries[-1].comment == "go"
    assert entries[-1].to_state == "review"


def test_approval_vote(run: Run, in_review: str) -> None:
    assert run("--as", "mia", "fire", in_review, "approve").stdout == "approved\n"
    first = run("--as", "fin", "fire", in_review, "pay")
    assert first.stdout == "approval 1/2 recorded\n"
    doc = as_json(run("--as", "fay", "fire", in_review, "pay", "--json"))
    assert doc["outcome"] == "transitioned"
    assert doc["case"]["state"] == "paid"
    assert doc["case"]["closed"] is True


def test_approval_json_has_counts(run: Run, in_review: str) -> None:
    run("--as", "mia", "fire", in_review, "approve")
    doc = as_json(run("--as", "fin", "fire", in_review, "pay", "--json"))
    assert set(doc) == {"case", "outcome", "approvals"}
    assert doc["approvals"] == {"have": 1, "need": 2}


def test_fire_key_replays(run: Run, project: Project, start_case: Callable[..., str]) -> None:
    case_id = start_case()
    assert run("--as", "rita", "fire", case_id, "submit", "--key", "s1").stdout == "review\n"
    again = run("--as", "rita", "fire", case_id, "submit", "--key", "s1")
    assert again.exit_code == 0
    assert again.stdout == "replayed: review\n"
    kinds = [e.kind for e in project.engine().history(case_id)]
    assert kinds.count("transition") == 1


def test_dry_run_writes_nothing(run: Run, project: Project, in_review: str) -> None:
    before = len(project.engine().history(in_review))
    doc = as_json(run("--as", "mia", "fire", in_review, "approve", "--dry-run", "--json"))
    assert doc["outcome"] == "dry_run"
    assert doc["would"]["to"] == "approved"
    assert set(doc) == {"case", "outcome", "would"}
    human = run("--as", "mia", "fire", in_review, "approve", "--dry-run")
    assert human.exit_code == 0
    assert "review -> approved" in human.stdout
    assert "nothing was written" in human.stdout
    refused = run("--as", "rita", "fire", in_review, "approve", "--dry-run")
    assert refused.exit_code == 3
    engine = project.engine()
    assert engine.status(in_review).state == "review"
    assert len(engine.history(in_review)) == before


# -- set -------------------------------------------------------------------------------


def test_set_changes_data(run: Run, project: Project, start_case: Callable[..., str]) -> None:
    case_id = start_case()
    result = run("--as", "rita", "set", case_id, "spent=10", "tags=x,y", "--comment", "fix")
    assert result.exit_code == 0, result.output
    data = project.engine().status(case_id).data
    assert data["spent"] == 10
    assert data["tags"] == ["x", "y"]
    assert project.engine().history(case_id)[-1].kind == "data"
    doc = as_json(run("set", case_id, "note=hello", "--json"))
    assert set(doc) >= CASE_KEYS
    assert doc["data"]["note"] == "hello"


def test_set_bad_value_changes_nothing(
    run: Run, project: Project, start_case: Callable[..., str]
) -> None:
    case_id = start_case()
    before = project.engine().status(case_id)
    result = run("set", case_id, "count=1.5")
    assert result.exit_code == 65
    assert "field 'count'" in result.stderr
    assert run("set", case_id, "count").exit_code == 2
    assert run("set", case_id).exit_code == 2  # no FIELD=VALUE at all
    after = project.engine().status(case_id)
    assert after.data == before.data
    assert after.row_version == before.row_version


# -- status, cases, inbox, history, compute ----------------------------------------------


def test_status_human_and_json(run: Run, in_review: str) -> None:
    human = run("--as", "mia", "status", in_review)
    assert human.exit_code == 0
    assert "state:" in human.stdout
    assert "review" in human.stdout
    assert "approve" in human.stdout
    assert "Deadlines" in human.stdout
    doc = as_json(run("--as", "rita", "status", in_review[:8], "--json"))
    assert set(doc) >= CASE_KEYS
    assert doc["deadlines"]
    assert set(doc["deadlines"][0]) >= {"event", "due_at"}
    events = {e["event"]: e for e in doc["events"]}
    assert set(events["approve"]) == {"event", "allowed", "reasons"}
    assert events["approve"]["allowed"] is False
    assert events["approve"]["reasons"]


def test_cases_filters(run: Run, start_case: Callable[..., str], in_review: str) -> None:
    draft = start_case()
    listed = as_json(run("cases", "--json"))
    assert {c["id"] for c in listed} == {draft, in_review}
    assert [c["id"] for c in as_json(run("cases", "--state", "review", "--json"))] == [in_review]
    assert len(as_json(run("cases", "--limit", "1", "--json"))) == 1
    assert as_json(run("cases", "--closed", "--json")) == []
    assert len(as_json(run("cases", "--open", "--workflow", "expense", "--json"))) == 2
    human = run("cases")
    assert human.stdout.splitlines()[0].split()[:3] == ["ID", "WORKFLOW", "STATE"]
    assert draft in human.stdout
    assert run("cases", "--limit", "0").exit_code == 2


def test_cases_json_shows_pending_deadlines_as_status_does(
    run: Run, start_case: Callable[..., str], in_review: str
) -> None:
    draft = start_case()
    listed = {c["id"]: c for c in as_json(run("cases", "--json"))}
    status = as_json(run("status", in_review, "--json"))
    assert status["deadlines"]  # review has an SLA
    assert listed[in_review]["deadlines"] == status["deadlines"]
    assert listed[draft]["deadlines"] == []
    limited = as_json(run("cases", "--state", "review", "--limit", "1", "--json"))
    assert limited[0]["deadlines"] == status["deadlines"]


def test_cases_reads_every_listed_cases_deadlines_in_one_query(
    run: Run, project: Project, start_case: Callable[..., str]
) -> None:
    from sqlalchemy import event

    for _ in range(5):
        case_id = start_case()
        assert run("--as", "rita", "fire", case_id, "submit").exit_code == 0
    engine = project.engine()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.db.engine, "before_cursor_execute", count)
    found = engine.cases()
    assert len(found) == 5
    assert all(len(c.deadlines) == 1 for c in found)
    assert sum("deadlines" in s for s in statements) == 1


def test_inbox_lists_what_the_actor_can_do(run: Run, in_review: str) -> None:
    doc = as_json(run("--as", "mia", "inbox", "--json"))
    assert [c["id"] for c in doc] == [in_review]
    assert any(e["event"] == "approve" and e["allowed"] for e in doc[0]["events"])
    assert as_json(run("--as", "fin", "inbox", "--json")) == []
    human = run("--as", "mia", "inbox")
    assert in_review in human.stdout
    assert "approve" in human.stdout
    assert run("--as", "fin", "inbox").stdout == ""


def test_history(run: Run, in_review: str) -> None:
    doc = as_json(run("history", in_review, "--json"))
    assert [e["kind"] for e in doc] == ["start", "transition"]
    assert all(set(e) - {"detail"} == HISTORY_KEYS for e in doc)
    human = run("history", in_review)
    lines = human.stdout.splitlines()
    assert lines[0].split()[:4] == ["SEQ", "AT", "ACTOR", "KIND"]
    assert "draft -> review" in human.stdout


def test_compute(run: Run, start_case: Callable[..., str]) -> None:
    case_id = start_case("rita", "spent=10")
    doc = as_json(run("compute", case_id, "--json"))
    assert set(doc) == {"case", "metrics"}
    assert doc["metrics"] == {"spend_ratio": 0.25}
    assert doc["case"]["metrics"]["spend_ratio"] == 0.25
    human = run("compute", case_id, "spend_ratio")
    assert "spend_ratio" in human.stdout
    assert "0.25" in human.stdout
    assert run("compute", case_id, "nope").exit_code == 5


def test_json_output_is_utf8_not_escaped(run: Run, tmp_path: Path) -> None:
    result = run("start", "expense", "--set", "title=春季", "--json")
    assert "春季" in result.stdout


def test_ambiguous_prefix_is_usage(
    run: Run, project: Project, start_case: Callable[..., str]
) -> None:
    import sqlite3

    case_id = start_case()
    twin = case_id[:8] + "0" * 24 if case_id[8:] != "0" * 24 else case_id[:8] + "1" * 24
    with sqlite3.connect(project.root / "opsflow.db") as conn:
        columns = [row[1] for row in conn.execute("pragma table_info(cases)")]
        picked = ", ".join("?" if c == "id" else c for c in columns)
        conn.execute(
            f"insert into cases ({', '.join(columns)}) select {picked} from cases where id = ?",
            (twin, case_id),
        )
    result = run("status", case_id[:8])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert run("status", case_id).exit_code == 0


def test_unexpected_exception_is_internal_error(run: Run, monkeypatch: Any) -> None:
    from opsflow.facade import Engine

    def boom(self: Any, *_: Any, **__: Any) -> None:
        raise RuntimeError("kaputt")

    monkeypatch.setattr(Engine, "search", boom)
    result = run("cases")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: internal error: RuntimeError: kaputt")
    assert "Traceback" not in result.stderr
    debug = run("--debug", "cases", "--json")
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr
    assert json.loads(debug.stdout)["error"] == "internal"


def _transactions(monkeypatch: Any) -> list[str]:
    """Record every read and write transaction the CLI's engine opens, in order."""
    from opsflow.store.database import Database

    calls: list[str] = []
    for kind in ("read", "write"):
        method = getattr(Database, kind)

        def counted(self: Any, _kind: str = kind, _method: Any = method) -> Any:
            calls.append(_kind)
            return _method(self)

        monkeypatch.setattr(Database, kind, counted)
    return calls


def test_fire_with_set_is_one_write_and_reads_no_case_of_its_own(
    run: Run, project: Project, monkeypatch: Any
) -> None:
    """The engine parses --set in the step: no status or definition read before the fire.

    The one read is the engine's warm-up before it takes the write lock, which a fresh
    process makes for every fire, with or without --set (before, --set read the case and
    its definition first: read, read, write).
    """
    case_id = run("--as", "rita", "start", "expense", "--set", "title=Taxi").stdout.strip()
    other = run("--as", "rita", "start", "expense", "--set", "title=Bus").stdout.strip()
    assert run("--as", "rita", "fire", other, "submit", "--set", "amount=1").exit_code == 0
    calls = _transactions(monkeypatch)
    plain = run("--as", "mia", "fire", other, "approve")
    assert plain.exit_code == 0, plain.output
    without_set = list(calls)
    calls.clear()
    result = run("--as", "rita", "fire", case_id, "submit", "--set", "amount=9")
    assert result.exit_code == 0, result.output
    assert calls == without_set == ["read", "write"]
    assert project.engine().status(case_id).data["amount"] == 9


def test_fire_with_bad_set_writes_nothing(run: Run, project: Project, monkeypatch: Any) -> None:
    case_id = run("--as", "rita", "start", "expense", "--set", "title=Taxi").stdout.strip()
    before = project.engine().history(case_id)
    result = run("--as", "rita", "fire", case_id, "submit", "--set", "amount=abc")
    assert result.exit_code == 65
    assert result.stderr == "error: field 'amount': must be a number (got 'abc')\n"
    assert project.engine().history(case_id) == before
    assert project.engine().status(case_id).state == "draft"
