"""Plain-Python reference implementations of the KPI calculators, and the data they check.

Written from the definitions in SPEC.md §2.5, row by row, without SQL: a calculator must
give the same answer as these on the same rows (counts exactly, floats to 1e-12).
"""

from __future__ import annotations

import csv
import json
import math
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

# -- the rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One row of an event source; ``at`` is an aware datetime (None: no timestamp)."""

    user_id: str | None
    event: str
    at: datetime | None
    value: Any = None


def utc_day(at: datetime) -> date:
    """The UTC calendar day of an instant."""
    return at.astimezone(UTC).date()


def _rows(events: Iterable[Event], event: str | None = None) -> list[Event]:
    """Rows with a user and a timestamp (of ``event`` when given)."""
    return [
        e
        for e in events
        if e.user_id is not None and e.at is not None and (event is None or e.event == event)
    ]


def _days(last: date, n: int) -> tuple[date, date]:
    return last - timedelta(days=n - 1), last


# -- activity --------------------------------------------------------------------------------


def active_users(events: Iterable[Event], first: date, last: date, event: str | None) -> set[Any]:
    """Users with a row on a UTC day in first..last."""
    return {e.user_id for e in _rows(events, event) if first <= utc_day(e.at) <= last}  # type: ignore[arg-type]


def dau(events: Sequence[Event], day: date, event: str | None = None) -> int:
    """Distinct users active on ``day``."""
    return len(active_users(events, day, day, event))


def mau(events: Sequence[Event], day: date, event: str | None = None) -> int:
    """Distinct users active in the 30 days ending on ``day``."""
    return len(active_users(events, *_days(day, 30), event))


def stickiness(events: Sequence[Event], day: date, event: str | None = None) -> float | None:
    """Mean of the 30 daily DAUs ÷ MAU."""
    monthly = mau(events, day, event)
    if monthly == 0:
        return None
    daily = [dau(events, day - timedelta(days=i), event) for i in range(30)]
    return statistics.fmean(daily) / monthly


def growth_rate(
    events: Sequence[Event], period: str, day: date, measure: str, event: str | None = None
) -> float | None:
    """(this period − previous) ÷ previous over trailing windows of 1, 7 or 30 days."""
    n = {"day": 1, "week": 7, "month": 30}[period]

    def measured(first: date, last: date) -> Any:
        rows = [
            e
            for e in events
            if e.at is not None
            and first <= utc_day(e.at) <= last
            and (event is None or e.event == event)
        ]
        if measure == "users":
            return len({e.user_id for e in rows if e.user_id is not None})
        if measure == "events":
            return len(rows)
        values = [e.value for e in rows if e.value is not None]
        return math.fsum(values) if any(isinstance(v, float) for v in values) else sum(values)

    this = measured(*_days(day, n))
    previous = measured(*_days(day - timedelta(days=n), n))
    return None if previous == 0 else (this - previous) / previous


# -- cohorts ---------------------------------------------------------------------------------


def first_times(events: Iterable[Event], event: str | None) -> dict[Any, datetime]:
    """Each user's first instant of ``event`` (any event if None)."""
    first: dict[Any, datetime] = {}
    for e in _rows(events, event):
        assert e.at is not None
        if e.user_id not in first or e.at < first[e.user_id]:
            first[e.user_id] = e.at
    return first


def retention(
    events: Sequence[Event],
    day: int,
    cohort_start: date,
    cohort_end: date,
    start_event: str | None = None,
    return_event: str | None = None,
) -> float | None:
    """Share of the cohort with a return event exactly ``day`` days after their first day."""
    firsts = first_times(events, start_event)
    cohort = {u: utc_day(t) for u, t in firsts.items() if cohort_start <= utc_day(t) <= cohort_end}
    if not cohort:
        return None
    back = {
        e.user_id
        for e in _rows(events, return_event)
        if e.user_id in cohort and utc_day(e.at) == cohort[e.user_id] + timedelta(days=day)  # type: ignore[arg-type]
    }
    return len(back) / len(cohort)


def _period(day: date, period: str) -> date:
    if period == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def _later(start: date, k: int, period: str) -> date:
    if period == "week":
        return start + timedelta(weeks=k)
    months = start.year * 12 + start.month - 1 + k
    return date(months // 12, months % 12 + 1, 1)


def cohort_retention(events: Sequence[Event], period: str, periods: int) -> dict[str, list[float]]:
    """{cohort: [share of the cohort active in period 0..K after it]}."""
    active: dict[Any, set[date]] = {}
    for e in _rows(events):
        active.setdefault(e.user_id, set()).add(_period(utc_day(e.at), period))  # type: ignore[arg-type]
    cohorts: dict[date, list[Any]] = {}
    for user, seen in active.items():
        cohorts.setdefault(min(seen), []).append(user)
    result = {}
    for start in sorted(cohorts):
        users = cohorts[start]
        key = start.strftime("%Y-%m") if period == "month" else start.isoformat()
        result[key] = [
            sum(1 for u in users if _later(start, k, period) in active[u]) / len(users)
            for k in range(periods + 1)
        ]
    return result


def funnel(
    events: Sequence[Event],
    steps: Sequence[str],
    window: timedelta = timedelta(days=30),
    start: date | None = None,
    end: date | None = None,
) -> dict[str, list[Any]]:
    """Users through each step in order, each the earliest at or after the previous."""
    by_user: dict[Any, list[Event]] = {}
    for e in _rows(events):
        by_user.setdefault(e.user_id, []).append(e)
    counts = [0] * len(steps)
    for rows in by_user.values():
        firsts = sorted(e.at for e in rows if e.event == steps[0])  # type: ignore[type-var]
        if not firsts:
            continue
        t1 = firsts[0]
        assert t1 is not None
        if (start is not None and utc_day(t1) < start) or (end is not None and utc_day(t1) > end):
            continue
        counts[0] += 1
        previous = t1
        for k in range(1, len(steps)):
            later = [
                e.at
                for e in rows
                if e.event == steps[k] and e.at is not None and previous <= e.at <= t1 + window
            ]
            if not later:
                break
            previous = min(later)
            counts[k] += 1
    rates: list[float | None] = [1.0]
    rates += [counts[k] / counts[k - 1] if counts[k - 1] else None for k in range(1, len(steps))]
    return {"counts": counts, "rates": rates}


def conversion_rate(
    events: Sequence[Event],
    from_event: str,
    to_event: str,
    window: timedelta = timedelta(days=30),
    start: date | None = None,
    end: date | None = None,
) -> float | None:
    """Share of users with ``from_event`` doing ``to_event`` within the window of the first."""
    firsts = {
        u: t
        for u, t in first_times(events, from_event).items()
        if (start is None or utc_day(t) >= start) and (end is None or utc_day(t) <= end)
    }
    if not firsts:
        return None
    converted = {
        e.user_id
        for e in _rows(events, to_event)
        if e.user_id in firsts and firsts[e.user_id] <= e.at <= firsts[e.user_id] + window  # type: ignore[operator]
    }
    return len(converted) / len(firsts)


# -- money and surveys -----------------------------------------------------------------------


def roi(revenue: float, cost: float) -> float | None:
    """(revenue − cost) ÷ cost."""
    return None if cost == 0 else (revenue - cost) / cost


def budget_burn(
    spent: float, budget: float, start: date, end: date, now: datetime
) -> dict[str, float | None]:
    """burn, the share of start 00:00 .. end 24:00 UTC elapsed at now, and pace."""
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    finish = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    elapsed = (now - begin).total_seconds() / (finish - begin).total_seconds()
    elapsed = min(1.0, max(0.0, elapsed))
    burn = None if budget == 0 else spent / budget
    pace = None if burn is None or elapsed == 0 else burn / elapsed
    return {"burn": burn, "elapsed": elapsed, "pace": pace}


def nps(scores: Iterable[Any]) -> float | None:
    """% promoters (9–10) − % detractors (0–6)."""
    given = [s for s in scores if s is not None]
    if not given:
        return None
    promoters = sum(1 for s in given if s >= 9)
    detractors = sum(1 for s in given if s <= 6)
    return 100 * promoters / len(given) - 100 * detractors / len(given)


# -- comparing -------------------------------------------------------------------------------


def same(expected: Any, actual: Any, rel: float = 1e-12) -> bool:
    """Exact for ints, None and text; floats within ``rel``; containers element-wise."""
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(same(v, actual[k], rel) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(same(e, a, rel) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, float) and isinstance(actual, float):
        return expected == actual or math.isclose(expected, actual, rel_tol=rel, abs_tol=0)
    return type(expected) is type(actual) and expected == actual


# -- generated app events --------------------------------------------------------------------

APP_EVENTS = ["view_item", "add_to_cart", "purchase", "login", "share"]
APP_DAY0 = date(2026, 1, 1)
APP_DAYS = 120
_ZONES = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]


def app_events(seed: int, users: int = 400) -> list[Event]:
    """Signups then sessions of view → cart → purchase, with logins and shares.

    Users join over the period, come back with a decaying probability, and a fifth of
    the events sit within a second of midnight UTC.
    """
    rng = random.Random(seed)
    events: list[Event] = []
    for n in range(users):
        user = f"u{n:04d}"
        joined = rng.randrange(APP_DAYS - 10)
        loyalty = rng.random()
        day = joined
        first = True
        while day < APP_DAYS:
            at = _moment(rng, day)
            if first:
                events.append(Event(user, "signup", at, None))
                first = False
            for kind, chance in (("view_item", 0.9), ("add_to_cart", 0.45), ("purchase", 0.5)):
                if rng.random() > chance:
                    break
                at += timedelta(seconds=rng.choice([0, 1, 59, 3600, rng.randrange(86400 * 3)]))
                value = round(rng.uniform(5, 400), 2) if kind == "purchase" else None
                events.append(Event(user, kind, at, value))
            if rng.random() < 0.3:
                events.append(Event(user, rng.choice(["login", "share"]), _moment(rng, day), None))
            if rng.random() > loyalty:
                break
            day += rng.choice([1, 1, 2, 3, 7, 14, 29, 30])
    events.append(Event(None, "view_item", _moment(rng, 3), None))  # an anonymous visit
    events.append(Event("u0001", "login", None, None))  # a row without a timestamp
    rng.shuffle(events)
    return events


def _moment(rng: random.Random, day: int) -> datetime:
    base = datetime(APP_DAY0.year, APP_DAY0.month, APP_DAY0.day, tzinfo=UTC)
    near_midnight = rng.random() < 0.2
    seconds = rng.choice([0, 1, 86399, 86398]) if near_midnight else rng.randrange(86400)
    return base + timedelta(days=day, seconds=seconds)


def stamp(at: datetime | None, style: int) -> str:
    """The instant as text in one of several equivalent forms (UTC, +08:00, −05:00, naive)."""
    if at is None:
        return ""
    if style == 3:
        return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")  # naive text is UTC
    return at.astimezone(_ZONES[style]).isoformat()


def write_events_csv(path: Path, events: Sequence[Event]) -> None:
    """user_id,event,timestamp,value with mixed timestamp forms."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "event", "timestamp", "value"])
        for i, e in enumerate(events):
            value = "" if e.value is None else e.value
            writer.writerow([e.user_id or "", e.event, stamp(e.at, i % 4), value])


def write_events_jsonl(path: Path, events: Sequence[Event]) -> None:
    """One JSON object per line, same columns."""
    with path.open("w", encoding="utf-8") as handle:
        for i, e in enumerate(events):
            record = {"user_id": e.user_id, "event": e.event, "timestamp": stamp(e.at, i % 4)}
            handle.write(json.dumps({**record, "value": e.value}) + "\n")


def write_events_parquet(path: Path, events: Sequence[Event]) -> None:
    """A Parquet file with a UTC timestamp column (written through pyarrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "user_id": pa.array([e.user_id for e in events], pa.string()),
            "event": pa.array([e.event for e in events], pa.string()),
            "timestamp": pa.array([e.at for e in events], pa.timestamp("us", tz="UTC")),
            "value": pa.array([e.value for e in events], pa.float64()),
        }
    )
    pq.write_table(table, path)


# -- purchase data ---------------------------------------------------------------------------

PURCHASE_STATUSES = ["placed", "paid", "shipped", "refunded"]


def purchases(seed: int, customers: int = 350) -> list[Event]:
    """Orders of a web shop: numeric customer ids, order lifecycle rows, amounts in CNY.

    Each order is ``placed``, usually ``paid`` minutes later, then ``shipped`` a day or two
    after, sometimes ``refunded``; the amount is on every row. Shoppers in China and New
    York write local times with their offset.
    """
    rng = random.Random(seed)
    rows: list[Event] = []
    start = datetime(2025, 9, 1, tzinfo=UTC)
    for n in range(customers):
        customer = str(100_000 + rng.randrange(900_000) * 10 + n % 10)
        at = start + timedelta(seconds=rng.randrange(86400 * 150))
        while at < start + timedelta(days=180):
            amount = round(rng.lognormvariate(4.5, 0.8), 2)
            rows.append(Event(customer, "placed", at, amount))
            if rng.random() < 0.85:
                paid = at + timedelta(minutes=rng.randrange(1, 90))
                rows.append(Event(customer, "paid", paid, amount))
                if rng.random() < 0.9:
                    shipped = paid + timedelta(hours=rng.randrange(2, 60))
                    rows.append(Event(customer, "shipped", shipped, amount))
                if rng.random() < 0.06:
                    rows.append(Event(customer, "refunded", paid + timedelta(days=3), amount))
            if rng.random() < 0.45:
                break
            at += timedelta(
                days=rng.choice([1, 3, 7, 14, 21, 30, 45]), seconds=rng.randrange(86400)
            )
    rng.shuffle(rows)
    return rows


def write_purchases_csv(path: Path, rows: Sequence[Event]) -> None:
    """order_id,customer_id,status,ordered_at,amount — the shop's own column names."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "customer_id", "status", "ordered_at", "amount"])
        for i, row in enumerate(rows):
            writer.writerow([f"SO{i:06d}", row.user_id, row.event, stamp(row.at, i % 3), row.value])


PURCHASE_COLUMNS = {
    "user_id": "customer_id",
    "event": "status",
    "timestamp": "ordered_at",
    "value": "amount",
}


# -- running calculators ---------------------------------------------------------------------

SOURCE_WRITERS = {
    "csv": write_events_csv,
    "jsonl": write_events_jsonl,
    "parquet": write_events_parquet,
}


def app_sources(folder: Path, events: Sequence[Event]) -> dict[str, dict[str, Any]]:
    """The events written in every format: {format: source settings}."""
    sources = {}
    for fmt, write in SOURCE_WRITERS.items():
        write(folder / f"events.{fmt}", events)
        sources[fmt] = {"path": str(folder / f"events.{fmt}")}
    return sources


def shop_sources(folder: Path, rows: Sequence[Event]) -> dict[str, dict[str, Any]]:
    """The purchases as the shop's CSV, its columns renamed to ours: {"shop": settings}."""
    write_purchases_csv(folder / "orders.csv", rows)
    return {"shop": {"path": str(folder / "orders.csv"), "columns": PURCHASE_COLUMNS}}


def run(plugins: Any, name: str, sources: dict[str, Any], **params: Any) -> Any:
    """Run the calculator ``name`` with ``params``.

    Three keywords are not params: ``data`` and ``metrics`` (the case's) and ``now``.
    """
    from opsflow.plugins import CalculatorContext

    now = params.pop("now", datetime(2026, 6, 1, tzinfo=UTC))
    case = {"id": "c1", "data": params.pop("data", {}), "metrics": params.pop("metrics", {})}
    ctx = CalculatorContext(case=case, sources=sources, now=now, base_dir=Path("."))
    return plugins.calculators[name].run(params, ctx, metric=name)


def check(expected: Any, actual: Any) -> None:
    """Assert ``same(expected, actual)`` with both in the message."""
    assert same(expected, actual), (expected, actual)
