"""Who may see what: ``readers:``, admins and the people who acted (on both backends).

A case a person may not read answers exactly as a case that does not exist, for every
way of reading or acting on it, and writes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from opsflow.engine import access
from opsflow.errors import NotFound, NotPermitted, Refused
from opsflow.store import tables

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MISSING = "0" * 32


@pytest.fixture
def engine(make_engine: Any, workflows_dir: Path) -> Any:
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")
    made = make_engine()
    made.settings.admins = ["dir"]
    return made


@pytest.fixture
def secret(engine: Any) -> str:
    """A case of the restricted workflow, started and submitted by ann (in review)."""
    case = engine.start("hr", {"title": "pay rise"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return str(case.id)


def _missing(call: Any) -> str:
    with pytest.raises(NotFound) as caught:
        call()
    return str(caught.value)


def _entries(engine: Any, case_id: str) -> list[tuple[str, str]]:
    with engine.db.read() as conn:
        rows = conn.execute(
            select(tables.history.c.actor, tables.history.c.kind)
            .where(tables.history.c.case_id == case_id)
            .order_by(tables.history.c.seq)
        )
        return [(r.actor, r.kind) for r in rows]


def _row(engine: Any, case_id: str) -> tuple[Any, ...]:
    case = engine.get(case_id)
    return case.state, case.data, case.row_version, case.updated_at


def test_a_reader_role_an_admin_the_creator_and_system_read_the_case(
    engine: Any, secret: str
) -> None:
    for who in ("lou", "dir", "ann", "system"):
        assert engine.status(secret, actor=who).state == "review"
        assert [e.kind for e in engine.history(secret, actor=who)][-1] == "transition"


def test_every_read_and_act_answers_as_for_a_missing_case(engine: Any, secret: str) -> None:
    before, entries = _row(engine, secret), _entries(engine, secret)
    expected = f"no case '{secret}'"
    assert _missing(lambda: engine.status(MISSING, actor="ed")) == f"no case '{MISSING}'"
    calls = [
        lambda: engine.status(secret, actor="ed"),
        lambda: engine.history(secret, actor="ed"),
        lambda: engine.fire(secret, "approve", actor="ed"),
        lambda: engine.fire(secret, "approve", actor="ed", dry_run=True),
        lambda: engine.set(secret, {"title": "x"}, actor="ed"),
        lambda: engine.compute(secret, actor="ed"),
        lambda: engine.graph("hr", "mermaid", secret, actor="ed"),
        lambda: engine.incidents(case_id=secret, actor="ed"),
    ]
    for call in calls:
        assert _missing(call) == expected
    assert _row(engine, secret) == before
    assert _entries(engine, secret) == entries  # no denied entry either


def test_a_prefix_answers_with_the_prefix_as_a_missing_one_does(engine: Any, secret: str) -> None:
    prefix = secret[:8]
    assert _missing(lambda: engine.status(prefix, actor="ed")) == f"no case '{prefix}'"
    assert _missing(lambda: engine.history(prefix, actor="ed")) == f"no case '{prefix}'"
    assert _missing(lambda: engine.status("ffffffff", actor="ed")) == "no case 'ffffffff'"


def test_lists_and_the_inbox_leave_out_what_the_actor_may_not_read(
    engine: Any, secret: str
) -> None:
    open_review = engine.start("review", {"title": "open to all"}, actor="ann").id
    assert {c.id for c in engine.cases(actor="ed")} == {open_review}
    assert {c.id for c in engine.cases(actor="lou")} == {open_review, secret}
    assert {c.id for c in engine.cases(actor="dir")} == {open_review, secret}
    assert [c.id for c in engine.cases(workflow="hr", actor="ed")] == []
    inbox = [c.id for c in engine.inbox(actor="ed")]
    assert secret not in inbox  # approve is ed's to fire, yet the case is not readable
    assert open_review in inbox  # cancel
    engine.settings.admins = ["dir", "ed"]
    assert secret in [c.id for c in engine.inbox(actor="ed")]


def test_a_person_who_acted_keeps_reading_a_denied_attempt_is_not_acting(
    engine: Any, secret: str
) -> None:
    engine.settings.admins = ["ed", "eve"]
    with pytest.raises((NotPermitted, Refused)):
        engine.fire(secret, "submit", actor="eve")  # refused: a denied entry only
    assert _entries(engine, secret)[-1] == ("eve", "denied")
    engine.fire(secret, "approve", actor="ed")  # while an admin: ed acted
    engine.settings.admins = []
    assert engine.status(secret, actor="ed").state == "done"
    assert _missing(lambda: engine.status(secret, actor="eve")) == f"no case '{secret}'"
    with engine.db.read() as conn:
        clause = access.readable_clause(engine, "ed", conn)
        assert clause is not None
        ids = conn.execute(select(tables.cases.c.id).where(clause)).scalars().all()
        assert ids == [secret]
        eve = access.readable_clause(engine, "eve", conn)
        assert conn.execute(select(tables.cases.c.id).where(eve)).scalars().all() == []


def test_the_clause_is_none_when_nothing_is_hidden(engine: Any, secret: str) -> None:
    assert access.readable_clause(engine, "dir") is None  # an admin
    assert access.readable_clause(engine, "system") is None
    assert access.readable_clause(engine, "lou") is None  # holds every reader role
    assert access.readable_clause(engine, "ed") is not None
    assert access.readable_clause(engine, None) is not None  # the configured actor, tester


def test_without_readers_nothing_is_hidden_and_no_query_is_added(
    make_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access, "FRESH_SECONDS", 1e9)  # however slow the machine
    engine = make_engine()
    case = engine.start("review", {"title": "t"}, actor="ann")
    assert access.readable_clause(engine, "ed") is None
    engine.fire(case.id, "submit", actor="ann")  # warm
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.db.engine, "before_cursor_execute", count)
    engine.fire(case.id, "approve", actor="ed")
    engine.status(case.id, actor="ed")
    engine.history(case.id, actor="ed")
    event.remove(engine.db.engine, "before_cursor_execute", count)
    assert statements
    assert not any("definitions" in s or "FROM history" in s and "EXISTS" in s for s in statements)


def test_a_warm_fire_on_an_open_workflow_reads_no_access_data(
    engine: Any, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access, "FRESH_SECONDS", 1e9)  # however slow the machine
    case = engine.start("review", {"title": "t"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    statements: list[str] = []
    event.listen(engine.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    engine.fire(case.id, "approve", actor="ed")
    assert not any("definitions" in s for s in statements)


def test_the_newest_registered_version_decides_for_older_cases(
    make_engine: Any, workflows_dir: Path
) -> None:
    text = (FIXTURES / "access" / "hr.yaml").read_text(encoding="utf-8")
    (workflows_dir / "hr.yaml").write_text(text.replace("readers: [legal]\n", ""), "utf-8")
    first = make_engine()
    old = first.start("hr", {"title": "v1"}, actor="ann").id
    assert first.status(old, actor="ed").state == "draft"  # version 1: open to all
    (workflows_dir / "hr.yaml").write_text(text.replace("version: 1", "version: 2"), "utf-8")
    second = make_engine()
    second.start("hr", {"title": "v2"}, actor="ann")  # registers version 2 (readers: legal)
    assert _missing(lambda: second.status(old, actor="ed")) == f"no case '{old}'"
    assert second.status(old, actor="lou").version == 1
    assert [c.id for c in second.cases(actor="ed")] == []


def test_a_version_registered_after_the_readers_were_read_is_seen_at_once(
    make_engine: Any, workflows_dir: Path
) -> None:
    text = (FIXTURES / "access" / "hr.yaml").read_text(encoding="utf-8")
    (workflows_dir / "hr.yaml").write_text(text.replace("readers: [legal]\n", ""), "utf-8")
    watcher = make_engine()
    watcher.start("hr", {"title": "v1"}, actor="ann")
    assert access.readable_clause(watcher, "ed") is None  # read: nothing restricted
    (workflows_dir / "hr.yaml").write_text(text.replace("version: 1", "version: 2"), "utf-8")
    newer = make_engine().start("hr", {"title": "v2"}, actor="ann").id
    assert _missing(lambda: watcher.status(newer, actor="ed")) == f"no case '{newer}'"


def test_search_finds_only_what_the_actor_may_read(engine: Any, secret: str) -> None:
    from opsflow.engine.search import SearchQuery

    other = engine.start("review", {"title": "pay rise too"}, actor="ann").id
    query = SearchQuery(q="pay rise")
    assert [c.id for c in engine.search(query, actor="ed").items] == [other]
    assert {c.id for c in engine.search(query, actor="lou").items} == {other, secret}
    assert engine.search_count(query, actor="ed") == 1
    assert engine.search_ids(SearchQuery(workflow="hr"), actor="ed") == []
    assert engine.search_ids(SearchQuery(workflow="hr"), actor="dir") == [secret]


def test_a_cold_check_reads_the_newest_versions_once(make_engine: Any, workflows_dir: Path) -> None:
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")
    case = make_engine().start("hr", {"title": "t"}, actor="ann")
    cold = make_engine()  # a fresh process: nothing known yet
    statements: list[str] = []
    event.listen(cold.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert _missing(lambda: cold.status(case.id, actor="ed")) == f"no case '{case.id}'"
    assert cold.status(case.id, actor="lou").state == "draft"
    assert sum("max(definitions.version)" in s for s in statements) == 1


def test_the_compiled_workflow_carries_its_readers(engine: Any) -> None:
    assert engine.definitions.current("hr").readers == frozenset({"legal"})
    assert engine.definitions.current("review").readers is None


def test_a_version_this_engine_registers_restricts_its_lists_at_once(
    make_engine: Any, workflows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access, "FRESH_SECONDS", 1e9)  # only a registration may refresh it
    text = (FIXTURES / "access" / "hr.yaml").read_text(encoding="utf-8")
    (workflows_dir / "hr.yaml").write_text(text.replace("readers: [legal]\n", ""), "utf-8")
    make_engine().start("hr", {"title": "v1"}, actor="ann")  # version 1: open to all
    (workflows_dir / "hr.yaml").write_text(text.replace("version: 1", "version: 2"), "utf-8")
    engine = make_engine()  # a process with version 2 in its folder, 1 in the database
    assert access.readable_clause(engine, "ed") is None  # read and kept: nothing restricted
    engine.start("hr", {"title": "v2"}, actor="ann")  # registers version 2 (readers: legal)
    assert access.readable_clause(engine, "ed") is not None
    assert [c.id for c in engine.cases(actor="ed")] == []
