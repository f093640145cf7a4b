"""Search (SPEC §7.4) on both backends: filters, where, q, sort, keyset pages, readers, indexes.

The property test compares the SQL answer of random ``where`` expressions with a plain
Python reading of the same expression over the same cases.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from opsflow.engine import access
from opsflow.engine.search import SearchQuery, decode_cursor, encode_cursor
from opsflow.engine.search_index import index_name, index_statements
from opsflow.errors import InvalidQuery, NotFound
from opsflow.language.loader import load_workflow_paths
from opsflow.store import tables

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "search"

# title -> data of the deals cases started by ``world``
DEALS: dict[str, dict[str, Any]] = {
    "big": {"budget": 20000, "count": 3, "kind": "ad", "claims": True, "due": "2026-10-05",
            "at": "2026-10-01T10:00:00Z", "price": "12.50", "notes": "包含中文的备注"},
    "small": {"budget": 50, "count": 0, "kind": "article", "claims": False, "due": "2026-09-30",
              "at": "2026-09-30T23:59:59+00:00", "price": "9.99", "notes": "plain NOTES"},
    "bare": {},
    "中文 标题": {"budget": 10000, "kind": "ad", "notes": "50% off_now \\ slash"},
}  # fmt: skip


@pytest.fixture
def engine(make_engine: Any, workflows_dir: Path) -> Any:
    (workflows_dir / "review.yaml").unlink()
    for name in ("deals.yaml", "tickets.yaml", "secret.yaml"):
        shutil.copy(FIXTURES / name, workflows_dir / name)
    return make_engine()


@pytest.fixture
def world(engine: Any, clock: Any) -> dict[str, str]:
    """Cases of deals (DEALS), two tickets and a secret one; title -> id."""
    ids = {}
    for title, data in DEALS.items():
        ids[title] = engine.start("deals", {"title": title, **data}, actor="ann").id
        clock.advance(minutes=1)
    ids["ticket"] = engine.start("tickets", {"title": "printer", "budget": 20000}).id
    clock.advance(minutes=1)
    ids["ticket2"] = engine.start("tickets", {"title": "Big screen", "severity": "low"}).id
    engine.fire(ids["ticket2"], "close", actor="ann")
    clock.advance(minutes=1)
    ids["secret"] = engine.start("secret", {"title": "big secret", "budget": 99999}, actor="lou").id
    engine.fire(ids["small"], "submit", actor="ann")
    access.restrictions(engine, fresh=True)  # the secret workflow is registered now
    return ids


def titles(engine: Any, actor: str = "ann", **query: Any) -> set[str]:
    page = engine.search(SearchQuery(limit=200, **query), actor=actor)
    return {case.data.get("title") for case in page.items}


def where(engine: Any, text_: str, actor: str = "ann", **query: Any) -> set[str]:
    return titles(engine, actor, where=text_, **query)


def test_plain_filters(engine: Any, world: dict[str, str], clock: Any) -> None:
    assert titles(engine, workflow="tickets") == {"printer", "Big screen"}
    assert titles(engine, states=("review", "closed")) == {"small", "Big screen"}
    assert titles(engine, workflow="deals", states=("draft",)) == {"big", "bare", "中文 标题"}
    assert titles(engine, open=False) == {"Big screen"}
    assert "Big screen" not in titles(engine, open=True)
    started = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert titles(engine, created_before=started.replace(minute=2)) == {"big", "small"}
    assert titles(engine, created_after=started.replace(minute=4), workflow="tickets") == {
        "printer",
        "Big screen",
    }
    engine.settings.admins = ["dir"]
    engine.assign(world["bare"], "both", actor="dir")
    assert titles(engine, assignee="both") == {"bare"}
    assert titles(engine, where="assignee == 'both'") == {"bare"}
    assert titles(engine, where="assignee == null", workflow="deals") == {
        "big",
        "small",
        "中文 标题",
    }
    assert "bare" in titles(engine, where="assignee != 'nobody'")
    assert "big" in titles(engine, where="assignee != 'both'")  # unset: != holds
    assert titles(engine, assignee="中文'; drop table cases; --") == set()


def test_search_returns_cases_with_assignee_and_deadlines(
    engine: Any, world: dict[str, str]
) -> None:
    page = engine.search(SearchQuery(where="budget == 50"), actor="ann")
    (case,) = page.items
    doc = case.to_json()
    assert doc["id"] == world["small"]
    assert doc["state"] == "review"
    assert "assignee" in doc
    assert doc["deadlines"] == engine.status(world["small"]).to_json()["deadlines"]
    assert page.next_cursor is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("budget > 10000", {"big", "printer"}),
        ("budget >= 10000", {"big", "printer", "中文 标题"}),
        ("not (budget > 10000)", {"small", "bare", "中文 标题", "Big screen"}),
        ("budget != 50", {"big", "bare", "中文 标题", "printer", "Big screen"}),
        ("budget == null", {"bare", "Big screen"}),
        ("budget != null", {"big", "small", "中文 标题", "printer"}),
        ("10000 < budget", {"big", "printer"}),
        ("50 < budget < 20000", {"中文 标题"}),
        ("not (50 < budget < 20000)", {"big", "small", "bare", "printer", "Big screen"}),
        ("budget in [50, 10000]", {"small", "中文 标题"}),
        ("budget not in [50, 10000]", {"big", "bare", "printer", "Big screen"}),
        ("budget in [50, null]", {"small", "bare", "Big screen"}),
        ("budget in []", set()),
        ("budget > 'a lot'", set()),  # a string meets a number: false, not an error
        ("not (budget > 'a lot')", {"big", "small", "bare", "中文 标题", "printer", "Big screen"}),
        ("title > 5", set()),
        ("budget > 1.5e4", {"big", "printer"}),
        ("budget > -1", {"big", "small", "中文 标题", "printer"}),
        ("data.budget == 50", {"small"}),
        ("kind == 'ad' and budget > 10000", {"big"}),
        ("kind == 'ad' or budget == 50", {"big", "small", "中文 标题"}),
        ("not (kind == 'ad' or budget == 50)", {"bare", "printer", "Big screen"}),
        ("claims", {"big"}),
        ("not claims", {"small", "bare", "中文 标题", "printer", "Big screen"}),
        ("claims == false", {"small"}),
        ("claims == 1", set()),  # a boolean is not a number here
        ("count == 0", {"small"}),
        ("price > 10", {"big"}),
        ("price <= 9.99", {"small"}),
        ("due >= '2026-10-01'", {"big"}),
        ("due < '2026-10-01T12:00:00+08:00'", {"small"}),  # the time's UTC date: 09-30
        ("at >= '2026-10-01'", {"big"}),
        ("at > '2026-09-30T23:59:58Z'", {"big", "small"}),
        ("at == '2026-10-01T12:00:00+02:00'", {"big"}),
        ("at < 20", set()),
        ("title == '中文 标题'", {"中文 标题"}),
        ('title == "\'; drop table cases; --"', set()),
        ("state == 'review'", {"small"}),
        ("state in ['closed', 'review']", {"small", "Big screen"}),
        ("state != 'draft' and state != 'open'", {"small", "Big screen"}),
        ("created_at >= '2026-01-05T09:03:00Z'", {"中文 标题", "printer", "Big screen"}),
        ("created_at < '2026-01-05T09:01:00'", {"big"}),
        (
            "updated_at >= '2026-01-05'",
            {"big", "small", "bare", "中文 标题", "printer", "Big screen"},
        ),
        ("severity == 'low'", {"Big screen"}),
        ("notes == 'plain NOTES'", {"small"}),
    ],
)
def test_where_means_what_the_language_means(
    engine: Any, world: dict[str, str], expression: str, expected: set[str]
) -> None:
    assert where(engine, expression) == expected


def test_where_resolves_fields_against_the_workflow_given(
    engine: Any, world: dict[str, str]
) -> None:
    assert where(engine, "budget > 10000", workflow="deals") == {"big"}
    with pytest.raises(InvalidQuery, match=r"unknown field 'severity'"):
        where(engine, "severity == 'low'", workflow="deals")
    with pytest.raises(NotFound, match="nosuch"):
        where(engine, "budget > 1", workflow="nosuch")
    with pytest.raises(NotFound):
        titles(engine, workflow="nosuch")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("budgt > 5", "unknown field 'budgt' (did you mean 'budget'?)"),
        ("stat == 'draft'", "did you mean 'state'?"),
        ("budget.__class__ == 1", "field on one side"),
        ("().__class__.__bases__[0] == 1", "field on one side"),
        ("__import__('os') == 1", "field on one side"),
        ("open('x')", "where compares fields with literals"),
        ("budget == open('x')", "not a call"),
        ("budget == len(title)", "not a call"),
        ("budget + 1 > 5", "field on one side"),
        ("budget > 2 ** 10", "not a computed value"),
        ("budget > 9223372036854775808", "out of range"),
        ("budget > " + "9" * 5000, "too long"),
        ("budget > 1e999", "out of range"),
        ("data['budget'] > 5", "field on one side"),
        ("budget > title", "not with another name"),
        ("budget", "where compares fields with literals"),
        ("tags == 'a'", "is a list: it cannot be compared"),
        ("'a' in title", "'in' needs a field on the left"),
        ("budget in 5", "'in' needs a list of literals"),
        ("budget = 5", "use '==' to compare"),
        ("lambda: 1", "where compares fields with literals"),
        ("budget is None", "only == != < <= > >= in and not in"),
        ("at > 'yesterday'", "'yesterday' is not a date or time"),
        ("_secret == 1", "'_'"),
        ("(" * 10_000 + "budget > 1" + ")" * 10_000, "too long"),
        ("(" * 600 + "budget > 1" + ")" * 600, "nested"),
        ("1 == 1", "field on one side"),
        ("budget > -'x'", "only a number can have a sign"),
    ],
)
def test_where_refuses_anything_but_comparisons(
    engine: Any, world: dict[str, str], expression: str, message: str
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        where(engine, expression)
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 2
    assert caught.value.http_status == 400


def test_a_field_with_different_types_compares_per_workflow(
    make_engine: Any, workflows_dir: Path, clock: Any
) -> None:
    shutil.copy(FIXTURES / "deals.yaml", workflows_dir / "deals.yaml")
    other = (FIXTURES / "tickets.yaml").read_text()
    other = other.replace("budget: {type: integer}", "budget: {type: money}")
    other = other.replace("title: {type: string}", "title: {type: string}\n  due: {type: string}")
    (workflows_dir / "tickets.yaml").write_text(other)
    engine = make_engine()
    engine.start("deals", {"title": "n", "budget": 20, "due": "2026-10-01"})
    engine.start("tickets", {"title": "m", "budget": "30.00", "due": "2026-10-01"})
    engine.start("tickets", {"title": "x", "due": "someday"})
    assert where(engine, "budget > 5") == {"n", "m"}
    assert where(engine, "budget > 25") == {"m"}
    assert where(engine, "not (budget > 25)") == {"n", "x"}  # the review fixture has none
    assert where(engine, "due == '2026-10-01'") == {"n", "m"}
    assert where(engine, "due == 'someday'") == {"x"}  # no date: false for the date kind only
    assert where(engine, "due != 'someday'") == {"n", "m"}
    with pytest.raises(InvalidQuery, match="'someday' is not a date"):
        where(engine, "due == 'someday'", workflow="deals")


def test_q_finds_text_in_string_and_text_fields(engine: Any, world: dict[str, str]) -> None:
    assert titles(engine, q="中文") == {"big", "中文 标题"}  # notes of big, title of the other
    assert titles(engine, q="BIG") == {"big", "Big screen"}  # not the secret: not readable
    assert titles(engine, q="notes") == {"small"}
    assert titles(engine, q="%") == {"中文 标题"}  # a wildcard is a plain character
    assert titles(engine, q="_") == {"中文 标题"}
    assert titles(engine, q="\\") == {"中文 标题"}
    assert titles(engine, q="ad") == set()  # enum values are not text
    assert titles(engine, q="20000") == set()  # nor are numbers
    assert titles(engine, q="'; drop table cases; --") == set()
    assert titles(engine, q="big", where="budget > 1") == {"big"}
    with pytest.raises(InvalidQuery, match="q is too long"):
        titles(engine, q="x" * 201)


def test_every_sort_pages_through_every_case_once(
    engine: Any, world: dict[str, str], clock: Any
) -> None:
    for title in ("big", "中文 标题"):
        clock.advance(minutes=1)
        engine.set(world[title], {"count": 7}, actor="ann")
    everyone = {c.id for c in engine.search(SearchQuery(limit=200), actor="lou").items}
    assert len(everyone) == 7
    for sort in ("created_at", "-created_at", "updated_at", "-updated_at", "id", "-id"):
        seen: list[str] = []
        keys: list[Any] = []
        cursor = None
        while True:
            page = engine.search(SearchQuery(sort=sort, limit=2, cursor=cursor), actor="lou")
            seen += [c.id for c in page.items]
            name = sort.lstrip("-")
            keys += [(getattr(c, name), c.id) for c in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 7, sort
        assert set(seen) == everyone
        assert keys == sorted(keys, reverse=sort.startswith("-")), sort


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "updated_at", "-updated_at", "-id"])
def test_pages_of_a_where_on_an_indexed_field(
    engine: Any, world: dict[str, str], clock: Any, sort: str
) -> None:
    """On SQLite such a search goes by the field's index, its sort key unindexed."""
    clock.advance(minutes=1)
    engine.set(world["big"], {"count": 1}, actor="ann")
    expected = {world[t] for t in ("big", "small", "中文 标题", "ticket", "secret")}
    seen: list[str] = []
    cursor = None
    while True:
        query = SearchQuery(where="budget > -1", sort=sort, limit=2, cursor=cursor)
        page = engine.search(query, actor="lou")
        seen += [c.id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == expected
    assert engine.search_ids(SearchQuery(where="budget > -1", sort=sort), actor="lou") == seen


def test_cursor_is_checked(engine: Any, world: dict[str, str]) -> None:
    page = engine.search(SearchQuery(limit=1), actor="ann")
    assert page.next_cursor
    with pytest.raises(InvalidQuery, match="invalid cursor"):
        engine.search(SearchQuery(limit=1, sort="updated_at", cursor=page.next_cursor))
    for bad in ("garbage!", "e30", "W10", "x" * 1000, encode_cursor("-created_at", "no", "x"),
                encode_cursor("-created_at", datetime(2026, 1, 1, tzinfo=UTC), "x;")):  # fmt: skip
        with pytest.raises(InvalidQuery, match="invalid cursor"):
            engine.search(SearchQuery(cursor=bad))
    key, case_id = decode_cursor(page.next_cursor, "-created_at")
    assert isinstance(key, datetime)
    assert key.tzinfo is not None
    assert case_id == page.items[0].id


@pytest.mark.parametrize("limit", [0, -1, 201, 100_000])
def test_limit_is_refused_outside_1_to_200(engine: Any, limit: int) -> None:
    with pytest.raises(InvalidQuery, match="limit must be 1 to 200"):
        engine.search(SearchQuery(limit=limit))


def test_unknown_sort_is_refused(engine: Any) -> None:
    with pytest.raises(InvalidQuery, match="unknown sort"):
        engine.search(SearchQuery(sort="data; drop table cases"))


def test_ids_and_count(engine: Any, world: dict[str, str]) -> None:
    query = SearchQuery(where="budget > 0", limit=1)
    assert engine.search_count(query, actor="ann") == 4
    assert engine.search_count(query, actor="lou") == 5  # the secret case too
    ids = engine.search_ids(query, actor="ann")
    assert ids == [world["ticket"], world["中文 标题"], world["small"], world["big"]]
    assert engine.search_ids(query, actor="ann", cap=1) == ids[:2]  # cap + 1: more than cap


def test_only_readable_cases_are_found(engine: Any, world: dict[str, str]) -> None:
    assert "big secret" not in titles(engine, actor="ann")
    assert "big secret" in titles(engine, actor="lou")  # holds the reader role
    assert where(engine, "budget == 99999", actor="ed") == set()
    assert where(engine, "budget == 99999", actor="lou") == {"big secret"}


def test_index_true_fields_are_indexed_at_registration(engine: Any, world: dict[str, str]) -> None:
    with engine.db.read() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
        else:
            rows = conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'cases'"))
        names = {row[0] for row in rows}
    assert {"ix_cases_f_budget_number", "ix_cases_f_due_date", "ix_cases_f_title_text"} <= names
    assert not any("notes" in n or "count" in n for n in names)


@pytest.mark.parametrize(
    ("expression", "index"),
    [
        ("budget > 10000", "ix_cases_f_budget_number"),
        ("due == '2026-10-05'", "ix_cases_f_due_date"),
        ("title == 'big'", "ix_cases_f_title_text"),
        ("title in ['big', 'small'] and kind == 'ad'", "ix_cases_f_title_text"),
        ("budget > 10000 or title == 'x'", "ix_cases_f_title_text"),
    ],
)
def test_a_where_on_an_indexed_field_uses_its_index(
    engine: Any, world: dict[str, str], expression: str, index: str
) -> None:
    """SQLite's plan uses the field's index even beside workflow, state and open filters
    (it has no statistics to weigh them); PostgreSQL's, with sequential scans off."""
    from opsflow.engine import search

    with engine.db.read() as conn:
        if conn.dialect.name == "sqlite":
            query = SearchQuery(where=expression, workflow="deals", states=("draft",), open=True)
        else:
            query = SearchQuery(where=expression)
        sql = search.statement(engine, query, conn, "ann", 51)
        compiled = str(sql.compile(conn, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled)
            plan = " ".join(str(r[-1]) for r in rows)
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + compiled))
    assert index in plan, plan
    found = engine.search(replace(query, limit=200), actor="ann").items
    assert found == engine.search(replace(query, limit=200), actor="ann").items


@pytest.mark.parametrize(
    ("expression", "by_index"),
    [
        ("budget > 5", True),
        ("kind == 'ad' and budget > 5", True),
        ("title == 'x' or budget > 5", True),
        ("title == 'x' or notes == 'y'", False),
        ("not (budget > 5)", False),
        ("budget != 5", False),
        ("not (budget != 5)", True),
        ("not (budget != 5 or kind != 'ad')", True),
        ("data.due in ['2026-10-01']", True),
        ("kind == 'ad'", False),
        ("1 < budget < 5", False),
    ],
)
def test_which_wheres_an_index_answers(expression: str, by_index: bool) -> None:
    from opsflow.engine.where_sql import FieldKinds, compile_where

    loaded, _problems = load_workflow_paths([FIXTURES / "deals.yaml"])
    kinds = FieldKinds.of({"deals": loaded["deals"].spec.fields})
    assert kinds.indexed == {"title", "budget", "due"}
    assert compile_where(expression, kinds, "sqlite")[1] is by_index


def test_index_names_stay_within_postgres_limits() -> None:
    assert index_name("budget", "number") == "ix_cases_f_budget_number"
    long = index_name("f" * 100, "datetime")
    assert len(long) <= 63
    assert long == index_name("f" * 100, "datetime")
    assert long != index_name("f" * 99 + "g", "datetime")


def test_index_true_is_refused_where_no_index_can_hold_the_value(tmp_path: Path) -> None:
    body = (FIXTURES / "tickets.yaml").read_text()
    cases = {
        "notes: {type: text, index: true}": "does not apply to text fields",
        "tags: {type: list, index: true}": "does not apply to list fields",
        "name: {type: string, index: true}": "needs 'max_length' of at most 500",
        "name: {type: string, max_length: 501, index: true}": "needs 'max_length' of at most 500",
    }
    for field, message in cases.items():
        path = tmp_path / "tickets.yaml"
        path.write_text(
            body.replace("  title: {type: string}", f"  title: {{type: string}}\n  {field}")
        )
        _loaded, problems = load_workflow_paths([path])
        assert any(message in d.message for d in problems), (field, problems)
    path.write_text(
        body.replace("title: {type: string}", "title: {type: string, max_length: 80, index: true}")
    )
    _loaded, problems = load_workflow_paths([path])
    assert not [d for d in problems if d.severity == "error"]
    spec = _loaded["tickets"].spec
    (statement,) = index_statements("sqlite", spec)
    assert statement.startswith("CREATE INDEX IF NOT EXISTS ix_cases_f_title_text ON cases")
    assert statement.endswith("END), created_at, id, workflow)")  # a page from the index


def test_the_cases_table_is_intact_after_hostile_input(engine: Any, world: dict[str, str]) -> None:
    hostile = ["'; drop table cases; --", "' OR 1=1 --", "%", "_", "\\", "中文", '"']
    for value in hostile:
        assert titles(engine, assignee=value) == set()
        assert titles(engine, states=(value,)) == set()
        assert where(engine, f"title == {value!r}", workflow="deals") == set()
        assert where(engine, f"state in [{value!r}]") == set()
        found = titles(engine, q=value)
        assert found <= {"中文 标题", "big"}, value  # the texts holding %, _, \ or 中文
    for bad in ("\x00", "\ud800"):
        for query in (
            {"q": bad},
            {"assignee": bad},
            {"states": (bad,)},
            {"where": f"title == {bad!r}"},
            {"where": f"title == 'x{bad}'"},
            {"cursor": bad},
        ):
            with pytest.raises(InvalidQuery):
                titles(engine, **query)
    assert titles(engine, q="'; drop table cases; --") == set()
    with engine.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(tables.cases)).scalar_one() == 7


# -- the property test: SQL against a plain reading of the same where -------------------

FIELDS = {"budget": "number", "count": "number", "kind": "text", "claims": "boolean", "due": "date"}
VALUES: dict[str, list[Any]] = {
    "budget": [None, -5, 0, 50, 10000, 10000.5, 20000],
    "count": [None, 0, 1, 3],
    "kind": [None, "ad", "article"],
    "claims": [None, True, False],
    "due": [None, "2026-09-30", "2026-10-01", "2026-10-02"],
}
LITERALS: dict[str, list[Any]] = {
    "budget": [0, 50, 10000, 10000.5, -5, "x", None],
    "count": [0, 1, 2, None, "ad"],
    "kind": ["ad", "article", "video", 5, None],
    "claims": [True, False, None, 1],
    "due": ["2026-10-01", "2026-09-30", "2026-10-02", None, 7],
}


def _reference(field: str, op: str, value: Any, stored: Any) -> bool:
    """A comparison as the language means it: unset or another type compares false."""
    if op in ("in", "not in"):
        found = any(_reference(field, "==", v, stored) for v in value)
        return found if op == "in" else not found
    if op == "!=":
        return not _reference(field, "==", value, stored)
    if value is None or stored is None:
        return op == "==" and value is None and stored is None
    kind = FIELDS[field]
    same = (
        (kind == "number" and type(value) in (int, float))
        or (kind == "text" and isinstance(value, str))
        or (kind == "boolean" and isinstance(value, bool))
        or (kind == "date" and isinstance(value, str))
    )
    if not same:
        return False
    tests: dict[str, Callable[[Any, Any], bool]] = {
        "==": lambda a, b: bool(a == b),
        "<": lambda a, b: bool(a < b),
        "<=": lambda a, b: bool(a <= b),
        ">": lambda a, b: bool(a > b),
        ">=": lambda a, b: bool(a >= b),
    }
    if kind == "boolean" and op not in ("==",):
        return tests[op](int(stored), int(value))
    return tests[op](stored, value)


@st.composite
def comparisons(draw: st.DrawFn) -> tuple[str, Callable[[dict[str, Any]], bool]]:
    field = draw(st.sampled_from(sorted(FIELDS)))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]))
    if FIELDS[field] == "boolean" and op in ("<", "<=", ">", ">="):
        op = "=="
    if op in ("in", "not in"):
        value: Any = draw(st.lists(st.sampled_from(LITERALS[field]), max_size=3))
        shown = "[" + ", ".join(_show(v) for v in value) + "]"
    else:
        value = draw(st.sampled_from(LITERALS[field]))
        shown = _show(value)
    return f"{field} {op} {shown}", lambda data: _reference(field, op, value, data.get(field))


def _show(value: Any) -> str:
    return (
        "null"
        if value is None
        else "true"
        if value is True
        else "false"
        if value is False
        else repr(value)
    )


def expressions() -> st.SearchStrategy[tuple[str, Callable[[dict[str, Any]], bool]]]:
    def combine(children: Any) -> Any:
        pair = st.tuples(children, children)
        return st.one_of(
            pair.map(
                lambda p: (f"({p[0][0]}) and ({p[1][0]})", lambda d, p=p: p[0][1](d) and p[1][1](d))
            ),
            pair.map(
                lambda p: (f"({p[0][0]}) or ({p[1][0]})", lambda d, p=p: p[0][1](d) or p[1][1](d))
            ),
            children.map(lambda c: (f"not ({c[0]})", lambda d, c=c: not c[1](d))),
        )

    return st.recursive(comparisons(), combine, max_leaves=6)


@pytest.fixture
def grid(make_engine: Any, workflows_dir: Path) -> tuple[Any, dict[str, dict[str, Any]]]:
    """Cases of deals over a spread of values, unset ones included; id -> data."""
    shutil.copy(FIXTURES / "deals.yaml", workflows_dir / "deals.yaml")
    engine = make_engine()
    made = {}
    for i in range(24):
        data = {
            field: values[(i * (k + 2) + i // 3) % len(values)]
            for k, (field, values) in enumerate(VALUES.items())
        }
        data = {k: v for k, v in data.items() if v is not None}
        made[engine.start("deals", {"title": f"c{i}", **data}).id] = data
    return engine, made


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=expressions())
def test_sql_agrees_with_a_plain_reading_of_where(
    grid: tuple[Any, dict[str, dict[str, Any]]], case: tuple[str, Callable[[dict[str, Any]], bool]]
) -> None:
    engine, made = grid
    expression, expected = case
    query = SearchQuery(where=expression, workflow="deals", limit=200)
    found = {c.id for c in engine.search(query).items}
    assert found == {case_id for case_id, data in made.items() if expected(data)}, expression
    assert engine.search_count(replace(query, limit=1)) == len(found)
