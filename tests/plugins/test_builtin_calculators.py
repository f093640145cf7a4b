"""count, sum and ratio against a plain-Python reference on seeded random data."""

from __future__ import annotations

import csv
import json
import math
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from opsflow.errors import Invalid
from opsflow.plugins import Plugins

EVENTS = ["signup", "login", "purchase", "share"]
DAY0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    user_id: str
    event: str
    at: datetime  # aware
    value: Any

    def stamp(self, style: int) -> str:
        """The timestamp written in one of several equivalent text forms."""
        if style == 0:
            return self.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if style == 1:  # the same instant, written in Beijing time
            return self.at.astimezone(timezone(timedelta(hours=8))).isoformat()
        if style == 2:
            return self.at.strftime("%Y-%m-%d %H:%M:%S")  # naive: UTC
        return self.at.astimezone(timezone(timedelta(hours=-5))).isoformat()


def random_rows(seed: int, n: int = 400, *, floats: bool) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        day = rng.randrange(0, 20)
        # Cluster a third of the events a second either side of midnight UTC.
        if rng.random() < 0.33:
            seconds = rng.choice([0, 1, 86399, 86398])
        else:
            seconds = rng.randrange(0, 86400)
        at = DAY0 + timedelta(days=day, seconds=seconds)
        value = round(rng.uniform(0, 500), 2) if floats else rng.randrange(-50, 1000)
        rows.append(Row(f"u{rng.randrange(60)}", rng.choice(EVENTS), at, value))
    return rows


def in_window(row: Row, event: str | None, start: date | None, end: date | None) -> bool:
    day = row.at.astimezone(UTC).date()
    return (
        (event is None or row.event == event)
        and (start is None or day >= start)
        and (end is None or day <= end)
    )


def ref_count(rows: list[Row], event: str | None, start: date | None, end: date | None) -> int:
    return sum(1 for r in rows if in_window(r, event, start, end))


def ref_sum(rows: list[Row], event: str | None, start: date | None, end: date | None) -> Any:
    values = [r.value for r in rows if in_window(r, event, start, end)]
    return math.fsum(values) if values and isinstance(values[0], float) else sum(values)


def write_csv(path: Path, rows: list[Row], names: dict[str, str] | None = None) -> None:
    names = names or {}
    header = [names.get(c, c) for c in ("user_id", "event", "timestamp", "value")]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, r in enumerate(rows):
            writer.writerow([r.user_id, r.event, r.stamp(i % 4), r.value])


def write_jsonl(path: Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i, r in enumerate(rows):
            record = {"user_id": r.user_id, "event": r.event, "timestamp": r.stamp(i % 4)}
            handle.write(json.dumps({**record, "value": r.value}) + "\n")


def write_parquet(path: Path, rows: list[Row]) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    value_type = "DOUBLE" if isinstance(rows[0].value, float) else "BIGINT"
    con.execute(
        "CREATE TABLE t (user_id VARCHAR, event VARCHAR, timestamp TIMESTAMPTZ,"
        f" value {value_type})"
    )
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)", [[r.user_id, r.event, r.at, r.value] for r in rows]
    )
    con.execute("COPY t TO ? (FORMAT parquet)", [str(path)])


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}

WINDOWS = [
    (None, None, None),
    ("purchase", None, None),
    (None, date(2026, 1, 5), date(2026, 1, 5)),
    ("login", date(2026, 1, 3), date(2026, 1, 11)),
    (None, date(2026, 1, 10), None),
    ("share", None, date(2026, 1, 7)),
    (None, date(2026, 1, 12), date(2026, 1, 11)),
    ("nobody_does_this", None, None),
]


def params_for(event: str | None, start: date | None, end: date | None) -> dict[str, Any]:
    params: dict[str, Any] = {"source": "events"}
    if event is not None:
        params["event"] = event
    if start is not None:
        params["start"] = start.isoformat()
    if end is not None:
        params["end"] = end.isoformat()
    return params


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_count_and_sum_match_the_reference(
    plugins: Plugins, make_ctx: Any, tmp_path: Path, fmt: str, seed: int
) -> None:
    floats = seed % 2 == 0
    rows = random_rows(seed, floats=floats)
    WRITERS[fmt](tmp_path / f"events.{fmt}", rows)
    ctx = make_ctx({"events": {"path": f"events.{fmt}"}})
    for event, start, end in WINDOWS:
        params = params_for(event, start, end)
        counted = plugins.calculators["count"].run(params, ctx)
        assert counted == ref_count(rows, event, start, end), params
        assert type(counted) is int
        summed = plugins.calculators["sum"].run(params, ctx)
        assert summed == ref_sum(rows, event, start, end), params
        assert type(summed) is (float if floats else int)


def test_day_edges_are_utc_and_inclusive(plugins: Plugins, make_ctx: Any, tmp_path: Path) -> None:
    (tmp_path / "edges.csv").write_text(
        "user_id,event,timestamp,value\n"
        "a,x,2026-01-04T23:59:59Z,1\n"
        "b,x,2026-01-05T00:00:00Z,2\n"
        "c,x,2026-01-05T07:59:59+08:00,4\n"  # 2026-01-04T23:59:59Z
        "d,x,2026-01-06T07:59:59+08:00,8\n"  # 2026-01-05T23:59:59Z
        "e,x,2026-01-05 23:59:59.999,16\n"
        "f,x,2026-01-06T00:00:00Z,32\n"
        "g,x,2026-01-05,64\n",
        encoding="utf-8",
    )
    ctx = make_ctx({"edges": {"path": "edges.csv"}})
    params = {"source": "edges", "start": "2026-01-05", "end": "2026-01-05"}
    assert plugins.calculators["count"].run(params, ctx) == 4
    assert plugins.calculators["sum"].run(params, ctx) == 2 + 8 + 16 + 64


def test_columns_are_renamed(plugins: Plugins, make_ctx: Any, tmp_path: Path) -> None:
    rows = random_rows(7, floats=False)
    renames = {"user_id": "customer id", "event": "action", "timestamp": "ts", "value": "amt"}
    write_csv(tmp_path / "shop.csv", rows, renames)
    ctx = make_ctx({"shop": {"path": "shop.csv", "columns": renames}})
    for event, start, end in WINDOWS:
        params = {**params_for(event, start, end), "source": "shop"}
        assert plugins.calculators["count"].run(params, ctx) == ref_count(rows, event, start, end)
        assert plugins.calculators["sum"].run(params, ctx) == ref_sum(rows, event, start, end)


def test_a_renamed_column_shadows_one_with_our_name(
    plugins: Plugins, make_ctx: Any, tmp_path: Path
) -> None:
    (tmp_path / "s.csv").write_text(
        "value,revenue,event,timestamp\n1,10,a,2026-01-01\n2,20,a,2026-01-02\n", encoding="utf-8"
    )
    ctx = make_ctx({"s": {"path": "s.csv", "columns": {"value": "revenue"}}})
    assert plugins.calculators["sum"].run({"source": "s"}, ctx) == 30


def test_sum_of_another_column_and_of_money_text(
    plugins: Plugins, make_ctx: Any, tmp_path: Path
) -> None:
    (tmp_path / "s.jsonl").write_text(
        '{"event": "a", "timestamp": "2026-01-01T00:00:00Z", "spend": "10.10", "n": 1}\n'
        '{"event": "a", "timestamp": "2026-01-01T00:00:00Z", "spend": "0.20", "n": 2}\n'
        '{"event": "b", "timestamp": "2026-01-01T00:00:00Z", "spend": null, "n": 3}\n',
        encoding="utf-8",
    )
    ctx = make_ctx({"s": {"path": "s.jsonl"}})
    assert plugins.calculators["sum"].run({"source": "s", "column": "spend"}, ctx) == 10.3
    assert plugins.calculators["sum"].run({"source": "s", "column": "n", "event": "b"}, ctx) == 3
    assert plugins.calculators["sum"].run({"source": "s", "column": "n", "event": "z"}, ctx) == 0
    with pytest.raises(Invalid, match="source 's' has no column 'nope'"):
        plugins.calculators["sum"].run({"source": "s", "column": "nope"}, ctx)
    with pytest.raises(Invalid, match="column 'event' has 'a', not a number"):
        plugins.calculators["sum"].run({"source": "s", "column": "event"}, ctx)


def test_a_query_source(plugins: Plugins, make_ctx: Any, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE orders (customer TEXT, kind TEXT, at TEXT, total INTEGER)")
        con.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                ("u1", "purchase", "2026-01-05T23:30:00Z", 5),
                ("u2", "purchase", "2026-01-06T01:00:00+08:00", 7),
                ("u3", "refund", "2026-01-06T09:00:00Z", 11),
            ],
        )
    source = {
        "url": f"sqlite:///{db}",
        "query": "SELECT customer, kind, at, total FROM orders WHERE at >= '2026-01-01 00:00'",
        "columns": {"user_id": "customer", "event": "kind", "timestamp": "at", "value": "total"},
    }
    ctx = make_ctx({"warehouse": source})
    day = {"source": "warehouse", "start": "2026-01-05", "end": "2026-01-05"}
    assert plugins.calculators["count"].run(day, ctx) == 2
    assert plugins.calculators["sum"].run({**day, "event": "purchase"}, ctx) == 12
    broken = {**source, "query": "SELECT * FROM no_such_table"}
    with pytest.raises(Invalid, match="source 'warehouse': query failed: no such table"):
        plugins.calculators["count"].run({"source": "warehouse"}, make_ctx({"warehouse": broken}))


# -- ratio ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (3, 4, 0.75),
        ("interactions", "impressions", 120 / 4000),
        ("budget", "spent", 1234.5 / 300),
        ("engagement", 2, 0.25 / 2),
        ("clicks", "interactions", 7 / 120),
        ("1.5", "0.5", 3.0),
        ("interactions", 0, None),
        ("interactions", "zero", None),
        ("unset", "impressions", None),
        (10**20, 3, 10**20 / 3),
    ],
)
def test_ratio(
    plugins: Plugins, make_ctx: Any, numerator: Any, denominator: Any, expected: Any
) -> None:
    ctx = make_ctx(
        data={
            "interactions": 120,
            "impressions": 4000,
            "budget": "1234.50",
            "spent": 300,
            "zero": 0,
            "unset": None,
        },
        metrics={"engagement": 0.25, "clicks": {"value": 7, "computed_at": "2026-01-01"}},
    )
    result = plugins.calculators["ratio"].run(
        {"numerator": numerator, "denominator": denominator}, ctx
    )
    assert result == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"numerator": "nothing", "denominator": 1}, "numerator 'nothing' is neither a number"),
        ({"numerator": 1, "denominator": "title"}, "denominator title is not a number: 'Hi'"),
        ({"numerator": True, "denominator": 1}, "numerator True is a boolean"),
        ({"numerator": 1}, "param 'denominator': Field required"),
    ],
)
def test_ratio_errors(
    plugins: Plugins, make_ctx: Any, params: dict[str, Any], message: str
) -> None:
    ctx = make_ctx(data={"title": "Hi"})
    with pytest.raises(Invalid, match=message):
        plugins.calculators["ratio"].run(params, ctx, metric="rate")


# -- bad params and bad sources ------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": "events", "start": "2026-1-5"}, "param 'start': must be a date YYYY-MM-DD"),
        ({"source": "events", "end": "2026-02-30"}, "param 'end': must be a date YYYY-MM-DD"),
        ({"source": "events", "evnt": "x"}, "param 'evnt': Extra inputs are not permitted"),
        ({"event": "x"}, "param 'source': Field required"),
        ({"source": "nope"}, r"unknown source 'nope' \(known sources: events\)"),
    ],
)
def test_bad_params(
    plugins: Plugins, make_ctx: Any, tmp_path: Path, params: dict[str, Any], message: str
) -> None:
    write_csv(tmp_path / "e.csv", random_rows(1, 5, floats=False))
    ctx = make_ctx({"events": {"path": "e.csv"}})
    with pytest.raises(Invalid, match=message) as caught:
        plugins.calculators["count"].run(params, ctx, metric="signups")
    assert str(caught.value).startswith("metric 'signups' (calculator 'count'): ")


@pytest.mark.parametrize(
    ("name", "content", "settings", "message"),
    [
        ("missing.csv", None, {}, "source 's': file not found: .*missing.csv"),
        ("bad.parquet", b"not a parquet file", {}, "source 's': cannot read .*bad.parquet"),
        ("bad.jsonl", b'{"event": "a"\n{{{\n', {}, "source 's': cannot read"),
        ("data.xlsx", b"", {}, "source 's': cannot tell the format of data.xlsx"),
        (
            "e.csv",
            b"event,timestamp\na,2026-01-01\n",
            {"columns": {"user_id": "cust"}},
            "source 's': column 'cust' \\(for user_id\\) is not in the source",
        ),
        ("e.csv", b"event,value\na,1\n", {}, "source 's' has no column 'timestamp'"),
        ("e.csv", b"event,timestamp\na,yesterday\n", {}, "source 's': cannot read it: "),
    ],
)
def test_bad_sources(
    plugins: Plugins,
    make_ctx: Any,
    tmp_path: Path,
    name: str,
    content: bytes | None,
    settings: dict[str, Any],
    message: str,
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    ctx = make_ctx({"s": {"path": name, **settings}})
    with pytest.raises(Invalid, match=message):
        plugins.calculators["count"].run({"source": "s", "start": "2026-01-01"}, ctx)
