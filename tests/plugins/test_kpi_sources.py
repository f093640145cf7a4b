"""Sources for the KPI calculators: query sources through Arrow, caching, the engine and CLI."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import kpi_reference as ref
import pytest
from click.testing import CliRunner

from opsflow.builtins.sources import arrow_table, connect
from opsflow.errors import Invalid
from opsflow.plugins import Plugins

run, check = ref.run, ref.check


def sqlite_events(path: Path, events: list[ref.Event]) -> None:
    """The events as a warehouse table with its own column names and text timestamps."""
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE clicks (member TEXT, action TEXT, happened TEXT, amount REAL)")
        con.executemany(
            "INSERT INTO clicks VALUES (?, ?, ?, ?)",
            [
                (e.user_id, e.event, ref.stamp(e.at, i % 4) or None, e.value)
                for i, e in enumerate(events)
            ],
        )


def test_a_query_source_feeds_every_event_calculator(plugins: Plugins, tmp_path: Path) -> None:
    events = ref.app_events(seed=31, users=150)
    sqlite_events(tmp_path / "warehouse.db", events)
    sources = {
        "warehouse": {
            "url": f"sqlite:///{tmp_path / 'warehouse.db'}",
            "query": "SELECT member, action, happened, amount FROM clicks",
            "columns": {
                "user_id": "member",
                "event": "action",
                "timestamp": "happened",
                "value": "amount",
            },
        }
    }
    day = date(2026, 2, 20)
    on = {"source": "warehouse", "date": str(day)}
    assert run(plugins, "dau", sources, **on) == ref.dau(events, day)
    assert run(plugins, "mau", sources, **on) == ref.mau(events, day)
    check(ref.stickiness(events, day), run(plugins, "stickiness", sources, **on))
    check(
        ref.growth_rate(events, "week", day, "value", "purchase"),
        run(
            plugins, "growth_rate", sources, **on, period="week", measure="value", event="purchase"
        ),
    )
    check(
        ref.retention(events, 7, date(2026, 1, 1), date(2026, 1, 31)),
        run(
            plugins,
            "retention",
            sources,
            source="warehouse",
            day=7,
            cohort_start="2026-01-01",
            cohort_end="2026-01-31",
        ),
    )
    check(
        ref.cohort_retention(events, "month", 2),
        run(plugins, "cohort_retention", sources, source="warehouse", period="month", periods=2),
    )
    steps = ["view_item", "add_to_cart", "purchase"]
    check(
        ref.funnel(events, steps, timedelta(days=3)),
        run(plugins, "funnel", sources, source="warehouse", steps=steps, window="3d"),
    )
    check(
        ref.conversion_rate(events, "signup", "purchase"),
        run(
            plugins,
            "conversion_rate",
            sources,
            source="warehouse",
            from_event="signup",
            to_event="purchase",
        ),
    )


def test_arrow_table_types() -> None:
    aware = datetime(2026, 1, 5, 7, 30, tzinfo=timezone(timedelta(hours=8)))
    table = arrow_table(
        ["i", "big", "mixed", "money", "at", "day", "flag", "text", "odd", "empty"],
        [
            (1, 2**70, 1, Decimal("10.25"), aware, date(2026, 1, 1), True, "a", 1, None),
            (None, -5, 2.5, Decimal("0.10"), datetime(2026, 1, 5), None, False, "b", "x", None),
        ],
    )
    with connect() as con:
        con.register("t", table)
        described = con.execute("SELECT * FROM t LIMIT 0").description or []
        types = {d[0]: str(d[1]) for d in described}
        rows = con.execute("SELECT * FROM t").fetchall()
    assert types == {
        "i": "BIGINT",
        "big": "DECIMAL(38,0)",
        "mixed": "DOUBLE",
        "money": "DOUBLE",
        "at": "TIMESTAMP",
        "day": "DATE",
        "flag": "BOOLEAN",
        "text": "VARCHAR",
        "odd": "VARCHAR",
        "empty": "VARCHAR",
    }
    assert rows[0][4] == datetime(2026, 1, 4, 23, 30)  # aware -> naive UTC
    assert rows[0][1] == 2**70
    assert rows[1][8] == "x"


def test_a_changed_file_is_read_again(plugins: Plugins, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user_id,timestamp\na,2026-01-01\n", encoding="utf-8")
    sources = {"e": {"path": str(path)}}
    assert run(plugins, "dau", sources, source="e", date="2026-01-01") == 1
    path.write_text("user_id,timestamp\na,2026-01-01\nb,2026-01-01\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's grain
    assert run(plugins, "dau", sources, source="e", date="2026-01-01") == 2


def test_many_sources_evict_the_oldest_parsed_file(plugins: Plugins, tmp_path: Path) -> None:
    sources = {}
    for n in range(12):
        (tmp_path / f"e{n}.csv").write_text(
            "user_id,timestamp\n" + "".join(f"u{k},2026-01-01\n" for k in range(n + 1)),
            encoding="utf-8",
        )
        sources[f"e{n}"] = {"path": str(tmp_path / f"e{n}.csv")}
    for _ in range(2):
        for n in range(12):
            assert run(plugins, "dau", sources, source=f"e{n}", date="2026-01-01") == n + 1


def test_bad_query_sources(plugins: Plugins, tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (a TEXT, a2 TEXT)")
    url = f"sqlite:///{db}"
    cases = [
        ({"url": url}, "source 'w' needs both `url` and `query`"),
        ({"url": "nope://x", "query": "SELECT 1"}, "source 'w': bad url"),
        ({"url": url, "query": "SELECT * FROM missing"}, "source 'w': query failed: no such table"),
        ({"url": url, "query": "SELECT a, a2 AS a FROM t"}, "duplicate column names"),
        ({"url": url, "query": "SELECT a FROM t"}, "source 'w' has no column 'user_id'"),
    ]
    for spec, message in cases:
        with pytest.raises(Invalid, match=message):
            run(plugins, "mau", {"w": spec}, source="w", date="2026-01-01")


WORKFLOW = """\
workflow: kpi_review
version: 1
title: KPI review
roles: [analyst]
fields:
  period_start: {type: date}
  period_end: {type: date}
  visitors_a: {type: integer}
  visitors_b: {type: integer}
states:
  open: {initial: true, on_enter: [{compute: [monthly_users]}]}
  done: {final: true}
transitions:
  - {event: finish, from: open, to: done, roles: [analyst]}
metrics:
  monthly_users: {calculator: mau, params: {source: app, date: "{{ period_end }}"}}
  daily_users: {calculator: dau, params: {source: warehouse, date: "{{ period_end }}"}}
  sticky: {calculator: stickiness, params: {source: app, date: "{{ period_end }}"}}
  growth:
    calculator: growth_rate
    params: {source: app, period: month, date: "{{ period_end }}", measure: users}
  d7:
    calculator: retention
    params:
      {source: app, day: 7, cohort_start: "{{ period_start }}", cohort_end: "{{ period_end }}"}
  buyers_a:
    calculator: conversion_rate
    params:
      source: app
      from_event: view_item
      to_event: purchase
      window: 7d
      start: "{{ period_start }}"
      end: "{{ period_end }}"
  orders_a:
    calculator: count
    params: {source: app, event: purchase, start: "{{ period_start }}", end: "{{ period_end }}"}
  orders_b:
    calculator: count
    params:
      {source: warehouse, event: purchase, start: "{{ period_start }}", end: "{{ period_end }}"}
  test:
    calculator: ab_test
    params:
      conversions_a: orders_a
      visitors_a: visitors_a
      conversions_b: orders_b
      visitors_b: visitors_b
"""


def test_compute_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opsflow.cli import cli

    events = ref.app_events(seed=41, users=200)
    (tmp_path / "data").mkdir()
    ref.write_events_jsonl(tmp_path / "data" / "events.jsonl", events)
    sqlite_events(tmp_path / "warehouse.db", events)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "kpi_review.yaml").write_text(WORKFLOW, encoding="utf-8")
    config = {
        "database": "sqlite:///opsflow.db",
        "workflows": "workflows/",
        "team": {"ann": ["analyst"]},
        "sources": {
            "app": {"path": "data/events.jsonl"},
            "warehouse": {
                "url": f"sqlite:///{tmp_path / 'warehouse.db'}",
                "query": "SELECT * FROM clicks",
                "columns": {"user_id": "member", "event": "action", "timestamp": "happened"},
            },
        },
    }
    (tmp_path / "opsflow.yaml").write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(cli, ["--as", "ann", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    started = invoke(
        "start",
        "kpi_review",
        "--set",
        "period_start=2026-02-01",
        "--set",
        "period_end=2026-02-28",
        "--set",
        "visitors_a=5000",
        "--set",
        "visitors_b=5000",
        "--json",
    )
    case = started["id"]
    first, last = date(2026, 2, 1), date(2026, 2, 28)
    assert started["metrics"]["monthly_users"] == ref.mau(events, last)
    doc = invoke("compute", case, "--json")
    metrics = doc["metrics"]
    orders = sum(
        1 for e in events if e.event == "purchase" and e.at and first <= ref.utc_day(e.at) <= last
    )
    assert metrics["monthly_users"] == ref.mau(events, last)
    assert metrics["daily_users"] == ref.dau(events, last)
    check(ref.stickiness(events, last), metrics["sticky"])
    check(ref.growth_rate(events, "month", last, "users"), metrics["growth"])
    check(ref.retention(events, 7, first, last), metrics["d7"])
    check(
        ref.conversion_rate(events, "view_item", "purchase", timedelta(days=7), first, last),
        metrics["buyers_a"],
    )
    assert metrics["orders_a"] == metrics["orders_b"] == orders
    assert metrics["test"]["rate_a"] == metrics["test"]["rate_b"] == orders / 5000
    assert metrics["test"]["z"] == 0.0
    assert metrics["test"]["significant"] is False
    history = runner.invoke(cli, ["history", case, "--json"], catch_exceptions=False)
    kinds = [entry["kind"] for entry in json.loads(history.stdout)]
    assert kinds.count("metric") >= 1


def test_timestamps_in_parquet_keep_their_instant(plugins: Plugins, tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")  # the writer's zone must not matter
    con.execute(
        "COPY (SELECT 'a' AS user_id, TIMESTAMPTZ '2026-01-05 07:30:00+08' AS timestamp"
        " UNION ALL SELECT 'b', TIMESTAMPTZ '2026-01-05 08:00:00+08')"
        f" TO '{tmp_path / 'e.parquet'}' (FORMAT parquet)"
    )
    con.close()
    sources = {"e": {"path": str(tmp_path / "e.parquet")}}
    assert run(plugins, "dau", sources, source="e", date="2026-01-04") == 1
    assert run(plugins, "dau", sources, source="e", date="2026-01-05") == 1
    assert datetime(2026, 1, 5, 7, 30, tzinfo=timezone(timedelta(hours=8))).astimezone(UTC).day == 4
