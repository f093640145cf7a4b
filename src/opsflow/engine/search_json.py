"""A search page as the API answers it, written from the rows as the driver returns them.

``Engine.search`` makes a ``Case`` of each row, its three times parsed into datetimes, and
the answer then makes a dict of each case and formats the times back into text
(``Case.to_json``). The service only needs the JSON: here each raw row becomes the object
``Case.to_json`` makes of its case directly — the same keys and values, so the same
bytes once encoded (``tests/engine/test_search_json.py`` compares the two on both
backends). On SQLite a stored time ("YYYY-MM-DD HH:MM:SS.ffffff", UTC) is parsed and
formatted by two C calls; a row that cannot be read is left out and named, as
``Engine.search`` leaves it out, with the same message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy.engine import Connection, Dialect

from opsflow.clock import iso
from opsflow.engine import search
from opsflow.errors import Damaged, NotFound
from opsflow.jsontext import dumps, loads
from opsflow.store import tables
from opsflow.store.rows import RawSelect, column_processor, converted_rows


class SearchEngine(search.CaseEngine, Protocol):
    """What the page needs of the engine: search's, and the actor's name checked."""

    def actor_name(self, actor: str | None) -> str: ...


def page_json(engine: SearchEngine, query: search.SearchQuery, actor: str | None) -> str:
    """``{items, next_cursor}`` of ``query``'s page as JSON text: ``Engine.search(query,
    actor).to_json()`` encoded by :func:`opsflow.jsontext.dumps`, byte for byte."""
    name = engine.actor_name(actor)
    with engine.db.read() as conn:
        items, next_cursor, _unreadable = page_items(engine, conn, query, name)
    if not items and query.workflow and query.workflow not in engine.definitions.ids():
        raise NotFound(f"no workflow '{query.workflow}'")
    return dumps({"items": items, "next_cursor": next_cursor})


def page_items(
    engine: search.CaseEngine, conn: Connection, query: search.SearchQuery, actor: str
) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    """The page's cases as ``Case.to_json`` shows them, the next cursor, and the rows
    left out because they cannot be read (named)."""
    prepared, raws, unreadable = search.page_rows(engine, conn, query, actor)
    convert = _row_converter(conn.dialect)
    items: list[dict[str, Any]] = []
    for raw in raws:
        try:
            items.append(convert(raw))
        except (ValueError, TypeError, Damaged):
            unreadable.append(_why(conn, prepared, raw))
    more = len(items) > query.limit
    del items[query.limit :]
    keys = [(item["id"], item["workflow"], item["version"]) for item in items]
    deadlines = search.pending_deadlines(engine, conn, keys)
    if deadlines:
        for item in items:
            item["deadlines"] = [d.to_json() for d in deadlines.get(item["id"], ())]
    next_cursor = None
    if more and items:
        last = items[-1]
        name = query.sort.lstrip("-")
        # a time's key is its text here, which encode_cursor keeps as it is
        next_cursor = search.encode_cursor(query.sort, last[name], last["id"])
    return items, next_cursor, unreadable


def _why(conn: Connection, prepared: RawSelect, raw: Sequence[Any]) -> str:
    """The message ``Engine.search`` gives for a row it cannot read (found the slow way)."""
    found, damaged = converted_rows(conn, prepared, [raw])
    if damaged:
        return str(damaged[0][1])
    try:
        search.listed_case(found[0])
    except Damaged as problem:
        return str(problem)
    return f"damaged data: case {raw[0]!r} cannot be read"  # pragma: no cover - both agree


# -- one row -------------------------------------------------------------------------------

_TIMES = ("created_at", "updated_at", "entered_at")
_INDEX = {name: i for i, name in enumerate(search.CASE_COLUMNS)}
_TAKE = itemgetter(
    *(_INDEX[n] for n in ("id", "workflow", "version", "state", "data", "metrics")),
    *(_INDEX[n] for n in ("created_by", *_TIMES, "closed", "assignee")),
)
_CONVERTERS: dict[str, Callable[[Sequence[Any]], dict[str, Any]]] = {}  # by dialect name


def _row_converter(dialect: Dialect) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """The function making a raw row of :data:`search.CASE_COLUMNS` a case's JSON object."""
    found = _CONVERTERS.get(dialect.name)
    if found is None:
        found = _CONVERTERS[dialect.name] = _make_converter(dialect)
    return found


def _make_converter(dialect: Dialect) -> Callable[[Sequence[Any]], dict[str, Any]]:
    columns = tables.cases.c
    when = time_text(column_processor(columns.created_at.type, dialect), dialect)
    # The other columns the driver may give in another form (SQLite: closed, an integer).
    others = [
        (i, read)
        for i, name in enumerate(search.CASE_COLUMNS)
        if name not in ("data", "metrics", *_TIMES)
        and (read := column_processor(columns[name].type, dialect)) is not None
    ]

    def convert(raw: Sequence[Any]) -> dict[str, Any]:
        if others:
            raw = list(raw)
            for i, read in others:
                raw[i] = read(raw[i])
        (case_id, workflow, version, state, data, metrics, created_by, created, updated,
         entered, closed, assignee) = _TAKE(raw)  # fmt: skip
        data, metrics = loads(data), loads(metrics)
        if type(data) is not dict or type(metrics) is not dict:
            raise Damaged("data or metrics are not JSON objects")
        return {
            "id": case_id,
            "workflow": workflow,
            "version": version,
            "state": state,
            "data": data,
            "metrics": {
                name: d.get("value") if isinstance(d, dict) else None for name, d in metrics.items()
            }
            if metrics
            else {},
            "created_by": created_by,
            "created_at": when(created),
            "updated_at": when(updated),
            "entered_at": when(entered),
            "closed": closed,
            "assignee": assignee,
            "deadlines": [],
            "incidents": [],
            "events": [],
        }

    return convert


def time_text(read: Callable[[Any], Any] | None, dialect: Dialect) -> Callable[[Any], str]:
    """A stored time's canonical text (``clock.iso`` of the datetime Core would read)."""
    parse = datetime.fromisoformat

    def general(value: Any) -> str:
        moment = value if read is None else read(value)
        if not isinstance(moment, datetime):
            raise TypeError(f"not a time: {value!r}")
        return iso(moment)

    if dialect.name != "sqlite":
        return general

    def sqlite(value: Any) -> str:
        # The text UTCDateTime stores, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, is cut into
        # clock.iso's "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00" once it parses (2.5x cheaper
        # than parsing it and formatting the datetime); any other text goes that way.
        if (
            type(value) is str
            and len(value) == 26
            and value[4] == value[7] == "-"
            and value[10] == " "
            and value[13] == value[16] == ":"
            and value[19] == "."
        ):
            try:
                parse(value)  # a real time
            except ValueError:
                return general(value)
            if value.endswith("000000"):
                return f"{value[:10]}T{value[11:19]}+00:00"
            return f"{value[:10]}T{value[11:]}+00:00"
        try:
            return parse(value + "+00:00").isoformat()
        except (TypeError, ValueError):
            return general(value)

    return sqlite


__all__ = ["page_items", "page_json"]
