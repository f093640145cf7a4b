"""The fire's cheaper paths give exactly what the plain ones gave: JSON and datetime text,
the clock, and transactions begun on the driver (atomic, with Core statements inside)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from opsflow.clock import iso, system_now
from opsflow.core.results import Case, FireResult
from opsflow.store import tables as t
from opsflow.store.prepared import Statement, run
from opsflow.store.types import JSONText, UTCDateTime, dumps, loads


def _plain_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _outcome(function: Any, value: Any) -> str:
    try:
        return repr(function(value))
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return f"{type(exc).__name__}: {exc}"


_circular: list[Any] = []
_circular.append(_circular)


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        'é\u2028"\\',
        0,
        -1.5,
        float("nan"),
        float("inf"),
        10**30,
        True,
        None,
        {"b": 1, "a": [1, 2, {"z": None, "y": "ü"}], "c": {}},
        {1: 2, 2.5: "x", False: 1, None: 3},
        {1: 2, "1": 3},
        {"when": datetime(2024, 1, 2, tzinfo=UTC), "amount": Decimal("1.10"), "s": {1}},
        (1, 2),
        _circular,
        {(1,): 2},
    ],
)
def test_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    assert _outcome(dumps, value) == _outcome(_plain_dumps, value)


@pytest.mark.parametrize(
    "text",
    ["{}", '{"a":1}', ' {"a":1}', '{"a":1} ', "[1,2]", '"x"', "NaN", '{"a":1}x', "", "\ufeff{}"]
    + ['{"a":"\\u00e9"}', '{"a":1,"a":2}', "{", "nul"],
)
def test_loads_reads_what_json_loads_reads(text: str) -> None:
    assert _outcome(loads, text) == _outcome(json.loads, text)
    if text == "{}":
        first, second = loads(text), loads(text)
        first["x"] = 1
        assert second == {}  # never a shared dict


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 2, 29, 12, 0, 0, tzinfo=UTC),  # no microseconds: isoformat drops them
        datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 6, 1, 8, 30, 15, 250000),  # naive: taken as UTC
        datetime(2024, 6, 1, 8, 30, 15, 250000, tzinfo=timezone(timedelta(hours=5))),
    ],
)
def test_sqlite_datetime_text_is_sqlalchemys(moment: datetime) -> None:
    dialect = sqlite.dialect()
    fast = UTCDateTime().fast_bind_processor(dialect)
    assert fast is not None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    expected = aware.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    iso(datetime(2000, 1, 1, tzinfo=UTC))  # another instant formatted in between
    assert fast(moment) == expected
    assert fast(moment) == expected  # again, from the kept text
    read = UTCDateTime().fast_result_processor(dialect)
    assert read is not None
    back = read(expected)
    assert back == aware
    assert back.tzinfo is UTC
    assert read("2024-06-01 08:30:15") == datetime(2024, 6, 1, 8, 30, 15, tzinfo=UTC)


def test_json_columns_convert_as_before_on_both_dialects() -> None:
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        bind = JSONText().fast_bind_processor(dialect)
        result = JSONText().fast_result_processor(dialect)
        assert bind is not None
        assert result is not None
        assert bind(None) is None
        assert result(None) is None
        assert bind({"b": [1, {}], "a": "é"}) == '{"a":"é","b":[1,{}]}'
        assert result('{"a":"é","b":[1,{}]}') == {"a": "é", "b": [1, {}]}


def test_the_clock_follows_opsflow_now_as_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSFLOW_NOW", "2024-03-01T10:00:00Z")
    assert system_now() == datetime(2024, 3, 1, 10, tzinfo=UTC)
    monkeypatch.setenv("OPSFLOW_NOW", "2024-03-02T10:00:00+02:00")
    assert system_now() == datetime(2024, 3, 2, 8, tzinfo=UTC)
    monkeypatch.delenv("OPSFLOW_NOW")
    assert abs(system_now() - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_fire_result_built_for_a_fire_equals_the_plain_one() -> None:
    case = Case.deferred(
        list,
        id="c",
        workflow="w",
        version=1,
        state="s",
        data={},
        metrics={},
        metric_details={},
        created_by="ann",
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        updated_at=datetime(2024, 1, 1, tzinfo=UTC),
        entered_at=datetime(2024, 1, 1, tzinfo=UTC),
        closed=False,
        row_version=1,
        deadlines=[],
        title=None,
    )
    quick = FireResult.of_fire(case, "transitioned", None, "s", [])
    plain = FireResult(case=case, outcome="transitioned", from_state="s", notices=[])
    assert quick == plain
    assert list(quick.__dict__) == list(plain.__dict__)
    assert quick.case.events == []


_SET_STATE = Statement(
    update(t.cases).where(t.cases.c.id == bindparam("_id")).values(state=bindparam("state"))
)


def _state(engine: Any, case_id: str) -> str:
    return str(engine.get(case_id).state)


def _both_writes(conn: Any, case_id: str) -> None:
    run(conn, _SET_STATE, {"_id": case_id, "state": "review"})  # on the driver's cursor
    conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(visit=9))  # Core


def _fail_after(write: Any, engine: Any, case_id: str) -> None:
    with engine.db.write() as conn:
        write(conn, case_id)
        raise RuntimeError("boom")


def _driver_write(conn: Any, case_id: str) -> None:
    run(conn, _SET_STATE, {"_id": case_id, "state": "review"})


def test_a_transaction_with_core_statements_inside_commits_them_together(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    with engine.db.write() as conn:
        _both_writes(conn, case.id)
    assert _state(engine, case.id) == "review"
    with engine.db.read() as conn:
        assert conn.execute(select(t.cases.c.visit).where(t.cases.c.id == case.id)).scalar() == 9


def test_a_failed_transaction_rolls_back_driver_and_core_writes(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    with pytest.raises(RuntimeError, match="boom"):
        _fail_after(_both_writes, engine, case.id)
    with pytest.raises(RuntimeError, match="boom"):
        _fail_after(_driver_write, engine, case.id)  # the driver's statements only
    assert _state(engine, case.id) == "draft"
    with engine.db.read() as conn:
        assert conn.execute(select(t.cases.c.visit).where(t.cases.c.id == case.id)).scalar() == 1
    engine.fire(case.id, "submit", actor="ann")  # the kept connection is still good
    assert _state(engine, case.id) == "review"
