"""The search page written from raw rows (engine/search_json) is Engine.search's JSON, byte
for byte, on both backends: every column kind, deadlines, metrics, cursors, damaged rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from opsflow.clock import iso
from opsflow.engine.search import SearchQuery
from opsflow.engine.search_json import page_items, page_json, time_text
from opsflow.errors import NotFound
from opsflow.jsontext import dumps
from opsflow.store import tables
from opsflow.store.rows import column_processor
from opsflow.store.types import sqlite_text_or_none

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _raw_sql(engine: Any, statement: str, **params: Any) -> None:
    with engine.db.write() as conn:
        conn.execute(text(statement), params)


def _same(engine: Any, query: SearchQuery, actor: str = "ann") -> dict[str, Any]:
    """page_json's text equals Engine.search's JSON encoded; the page, decoded."""
    expected = dumps(engine.search(query, actor=actor).to_json())
    assert page_json(engine, query, actor) == expected
    page: dict[str, Any] = engine.search(query, actor=actor).to_json()
    return page


@pytest.fixture
def cases(engine: Any, clock: Any) -> list[str]:
    """Cases of every kind a page shows: deadlines (review's SLA), closed, assigned,
    metrics, non-ASCII and nested data, times with and without microseconds."""
    ids = []
    for n, title in enumerate(["plain", '中文 标题 "quoted" \\ slash', "x" * 50, "ad"]):
        data = {"title": title, "budget": 10.5 * n, "kind": "ad" if n % 2 else "article"}
        ids.append(engine.start("review", data, actor="ann").id)
        clock.advance(seconds=1, microseconds=0 if n % 2 else 123456)
    engine.fire(ids[0], "submit", actor="ann")  # in review: an SLA deadline
    engine.fire(ids[1], "submit", actor="ann")
    engine.fire(ids[2], "cancel", actor="ed")  # closed
    metrics = '{"hit_rate":{"value":0.25,"calculator":"ratio"},"odd":5,"none":{"x":1}}'
    _raw_sql(engine, "UPDATE cases SET metrics = :m WHERE id = :i", m=metrics, i=ids[3])
    _raw_sql(engine, "UPDATE cases SET assignee = 'ed' WHERE id = :i", i=ids[1])
    return ids


def test_every_column_kind_reads_the_same(engine: Any, cases: list[str]) -> None:
    page = _same(engine, SearchQuery(workflow="review"))
    assert {c["id"] for c in page["items"]} == set(cases)
    shown = {c["id"]: c for c in page["items"]}
    assert shown[cases[0]]["deadlines"], "the SLA deadline is listed"
    assert shown[cases[2]]["closed"] is True
    assert shown[cases[1]]["assignee"] == "ed"
    assert shown[cases[3]]["metrics"] == {"hit_rate": 0.25, "odd": None, "none": None}


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "updated_at", "-updated_at", "id"])
def test_pages_and_cursors_read_the_same(engine: Any, cases: list[str], sort: str) -> None:
    query = SearchQuery(workflow="review", sort=sort, limit=1)
    seen = []
    while True:
        page = _same(engine, query)
        seen.extend(c["id"] for c in page["items"])
        if page["next_cursor"] is None:
            break
        query = replace(query, cursor=page["next_cursor"])
    assert sorted(seen) == sorted(cases)


def test_filters_read_the_same(engine: Any, cases: list[str]) -> None:
    for query in [
        SearchQuery(states=("review", "rejected")),  # an IN list: Core runs it
        SearchQuery(where="budget >= 10 and kind == 'ad'", workflow="review"),
        SearchQuery(q="中文", workflow="review"),
        SearchQuery(open=False),
        SearchQuery(assignee="ed"),
        SearchQuery(workflow="review", where="budget > 1000"),  # nothing found
    ]:
        _same(engine, query)
    _same(engine, SearchQuery(workflow="review"), actor="ed")


def test_an_unknown_workflow_is_not_found(engine: Any, cases: list[str]) -> None:
    with pytest.raises(NotFound):
        page_json(engine, SearchQuery(workflow="nope"), "ann")


@SQLITE_ONLY  # SQLite's typeless columns let the damage in
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("data", "'not { json'"),
        ("data", "'[1, 2]'"),
        ("metrics", "'7'"),
        ("entered_at", "'not a time'"),
        ("created_at", "'2026-01-05 09:00:00'"),  # readable: no microseconds
        ("updated_at", "'2026-01-05T09:00:00+00:00'"),  # readable: another form
        ("data", "CAST(x'ff00fe9c' AS TEXT)"),  # not UTF-8: the whole fetch fails
    ],
)
def test_damaged_rows_are_left_out_and_named_the_same(
    engine: Any, cases: list[str], column: str, value: str
) -> None:
    _raw_sql(engine, f"UPDATE cases SET {column} = {value} WHERE id = :i", i=cases[1])
    query = SearchQuery(workflow="review")
    _same(engine, query)
    expected = engine.search(query, actor="ann").unreadable
    with engine.db.read() as conn:
        _items, _cursor, unreadable = page_items(engine, conn, query, "ann")
    assert unreadable == expected


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(timezones=st.just(UTC)).map(sqlite_text_or_none)
    | st.text(alphabet="0123456789-: .T+Z", min_size=10, max_size=32)
    | st.sampled_from(["2026-W01-1 09:00:00.000000", "2026-01-05 24:00:00.000000"])
)
def test_a_sqlite_time_reads_as_the_datetime_core_reads(stored: str) -> None:
    dialect = sqlite.dialect()
    read = column_processor(tables.cases.c.created_at.type, dialect)
    try:
        expected: str | type[Exception] = iso(read(stored))
    except (ValueError, TypeError, AttributeError) as exc:
        expected = type(exc)
    try:
        shown: str | type[Exception] = time_text(read, dialect)(stored)
    except (ValueError, TypeError) as exc:
        shown = type(exc)
    if isinstance(expected, str):
        assert shown == expected
    else:  # unreadable both ways
        assert not isinstance(shown, str)
