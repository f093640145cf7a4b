"""retention, cohort_retention, conversion_rate and funnel against the reference."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import kpi_reference as ref
import pytest

from opsflow.errors import Invalid
from opsflow.plugins import Plugins

FORMATS = sorted(ref.SOURCE_WRITERS)
run, check = ref.run, ref.check


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ref.Event], dict[str, Any]]:
    """Generated app events written in every format, and the sources reading them."""
    events = ref.app_events(seed=23)
    return events, ref.app_sources(tmp_path_factory.mktemp("app"), events)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ref.Event], dict[str, Any]]:
    """Purchase data with the shop's own column names, renamed through `columns`."""
    rows = ref.purchases(seed=9)
    return rows, ref.shop_sources(tmp_path_factory.mktemp("shop"), rows)


RETENTION_CASES = [
    (1, date(2026, 1, 1), date(2026, 1, 31), None, None),
    (7, date(2026, 1, 1), date(2026, 1, 31), "signup", None),
    (0, date(2026, 2, 1), date(2026, 2, 7), "signup", "purchase"),
    (14, date(2026, 2, 1), date(2026, 2, 28), "view_item", "purchase"),
    (30, date(2026, 1, 15), date(2026, 1, 15), None, "login"),
    (3, date(2027, 1, 1), date(2027, 1, 31), None, None),  # empty cohort
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_retention_on_app_events(plugins: Plugins, app: Any, fmt: str) -> None:
    events, sources = app
    source = {"events": sources[fmt]}
    for day, first, last, start_event, return_event in RETENTION_CASES:
        params: dict[str, Any] = {
            "source": "events",
            "day": day,
            "cohort_start": str(first),
            "cohort_end": str(last),
        }
        if start_event:
            params["start_event"] = start_event
        if return_event:
            params["return_event"] = return_event
        expected = ref.retention(events, day, first, last, start_event, return_event)
        check(expected, run(plugins, "retention", source, **params))
    assert ref.retention(events, 3, date(2027, 1, 1), date(2027, 1, 31)) is None


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("period", "periods"), [("month", 3), ("week", 6), ("week", 0)])
def test_cohort_retention_on_app_events(
    plugins: Plugins, app: Any, fmt: str, period: str, periods: int
) -> None:
    events, sources = app
    result = run(
        plugins,
        "cohort_retention",
        {"events": sources[fmt]},
        source="events",
        period=period,
        periods=periods,
    )
    expected = ref.cohort_retention(events, period, periods)
    check(expected, result)
    assert list(result) == list(expected)  # chronological
    assert all(shares[0] == 1.0 and len(shares) == periods + 1 for shares in result.values())


FUNNELS = [
    (["view_item", "add_to_cart", "purchase"], "30d", None, None),
    (["signup", "view_item", "add_to_cart", "purchase"], "7d", None, None),
    (["view_item", "purchase"], "1h", date(2026, 2, 1), date(2026, 2, 28)),
    (["login", "share", "login"], "P10D", None, date(2026, 3, 1)),
    (["view_item", "nobody_does_this", "purchase"], "30d", None, None),
    (["login"], "30d", date(2026, 2, 1), None),  # one step: its users, nothing to match
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_funnel_and_conversion_on_app_events(plugins: Plugins, app: Any, fmt: str) -> None:
    from opsflow.language.durations import parse_duration

    events, sources = app
    source = {"events": sources[fmt]}
    for steps, window, first, last in FUNNELS:
        days: dict[str, Any] = {}
        if first:
            days["start"] = str(first)
        if last:
            days["end"] = str(last)
        span = parse_duration(window)
        expected = ref.funnel(events, steps, span, first, last)
        result = run(plugins, "funnel", source, source="events", steps=steps, window=window, **days)
        check(expected, result)
        conversion = run(
            plugins,
            "conversion_rate",
            source,
            source="events",
            from_event=steps[0],
            to_event=steps[-1],
            window=window,
            **days,
        )
        check(ref.conversion_rate(events, steps[0], steps[-1], span, first, last), conversion)
    default = run(
        plugins,
        "conversion_rate",
        source,
        source="events",
        from_event="signup",
        to_event="purchase",
    )
    check(ref.conversion_rate(events, "signup", "purchase"), default)


def test_cohorts_on_purchase_data(plugins: Plugins, shop: Any) -> None:
    rows, sources = shop
    for day, first, last in [(1, "2025-09-01", "2025-09-30"), (7, "2025-10-01", "2025-11-15")]:
        for start_event, return_event in [(None, None), ("paid", "placed")]:
            params: dict[str, Any] = {"cohort_start": first, "cohort_end": last}
            if start_event:
                params |= {"start_event": start_event, "return_event": return_event}
            expected = ref.retention(
                rows,
                day,
                date.fromisoformat(first),
                date.fromisoformat(last),
                start_event,
                return_event,
            )
            check(expected, run(plugins, "retention", sources, source="shop", day=day, **params))
    for period, periods in (("month", 5), ("week", 8)):
        check(
            ref.cohort_retention(rows, period, periods),
            run(
                plugins, "cohort_retention", sources, source="shop", period=period, periods=periods
            ),
        )
    steps = ["placed", "paid", "shipped", "refunded"]
    for window in ("1h", "2d", "30d"):
        span = {"1h": timedelta(hours=1), "2d": timedelta(days=2), "30d": timedelta(days=30)}
        check(
            ref.funnel(rows, steps, span[window]),
            run(plugins, "funnel", sources, source="shop", steps=steps, window=window),
        )
        check(
            ref.conversion_rate(rows, "placed", "shipped", span[window]),
            run(
                plugins,
                "conversion_rate",
                sources,
                source="shop",
                from_event="placed",
                to_event="shipped",
                window=window,
            ),
        )


EDGES = (
    "user_id,event,timestamp\n"
    "a,view,2026-03-01T23:59:59Z\n"
    "a,buy,2026-03-02T23:59:59Z\n"  # exactly 1 day after: inside a 1d window
    "b,view,2026-03-02T07:00:00+08:00\n"  # 2026-03-01T23:00:00Z
    "b,buy,2026-03-03T00:00:00Z\n"  # 1 day and 1 hour after
    "c,buy,2026-03-01T10:00:00Z\n"  # before c's view: does not count
    "c,view,2026-03-01T11:00:00Z\n"
    "d,view,2026-03-01T12:00:00Z\n"
    "d,view,2026-03-01T12:00:00Z\n"  # the same instant twice
    "d,buy,2026-03-01T12:00:00Z\n"  # at the same instant: counts
    "e,view,2026-04-30T23:59:59Z\n"
    "e,view,2026-05-01T00:00:00Z\n"
)


def test_edges(plugins: Plugins, tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text(EDGES, encoding="utf-8")
    sources = {"e": {"path": str(tmp_path / "e.csv")}}
    one_day = {"source": "e", "from_event": "view", "to_event": "buy", "window": "1d"}
    assert run(plugins, "conversion_rate", sources, **one_day) == 2 / 5
    assert run(plugins, "funnel", sources, source="e", steps=["view", "buy"], window="1d") == {
        "counts": [5, 2],
        "rates": [1.0, 2 / 5],
    }
    funnel = run(plugins, "funnel", sources, source="e", steps=["view", "buy", "view"])
    assert funnel == {"counts": [5, 3, 1], "rates": [1.0, 3 / 5, 1 / 3]}  # d: same instant
    nobody = run(plugins, "funnel", sources, source="e", steps=["nope", "buy"])
    assert nobody == {"counts": [0, 0], "rates": [1.0, None]}
    assert (
        run(plugins, "conversion_rate", sources, source="e", from_event="nope", to_event="buy")
        is None
    )
    # retention: first-days a 03-01 (first event is the view), b 03-01, c 03-01, d 03-01
    march = {"source": "e", "cohort_start": "2026-03-01", "cohort_end": "2026-03-01"}
    assert run(plugins, "retention", sources, day=1, **march) == 1 / 4
    assert run(plugins, "retention", sources, day=2, **march) == 1 / 4
    assert run(plugins, "retention", sources, day=0, **march) == 1.0
    cohorts = run(plugins, "cohort_retention", sources, source="e", period="month", periods=2)
    assert cohorts == {"2026-03": [1.0, 0.0, 0.0], "2026-04": [1.0, 1.0, 0.0]}
    weeks = run(plugins, "cohort_retention", sources, source="e", period="week", periods=1)
    # 2026-03-01 is a Sunday: the buys of a (03-02) and b (03-03) fall in the next ISO week
    assert weeks == {"2026-02-23": [1.0, 2 / 4], "2026-04-27": [1.0, 0.0]}


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "retention",
            {"source": "e", "day": 1, "cohort_start": "2026-03-01"},
            "param 'cohort_end': Field required",
        ),
        (
            "retention",
            {"source": "e", "day": -1, "cohort_start": "2026-03-01", "cohort_end": "2026-03-01"},
            "param 'day': Input should be greater",
        ),
        (
            "cohort_retention",
            {"source": "e", "period": "day", "periods": 2},
            "param 'period': Input should be 'week' or 'month'",
        ),
        ("cohort_retention", {"source": "e", "period": "week"}, "param 'periods': Field required"),
        (
            "conversion_rate",
            {"source": "e", "from_event": "view", "to_event": "buy", "window": "1 month"},
            "param 'window'",
        ),
        ("conversion_rate", {"source": "e", "from_event": "view"}, "param 'to_event'"),
        ("funnel", {"source": "e", "steps": []}, "param 'steps': List should have at least 1"),
        ("funnel", {"source": "e", "steps": ["view", ""]}, "every step must name an event"),
        ("funnel", {"source": "e", "steps": ["view"], "window": "-3d"}, "negative"),
        (
            "retention",
            {"source": "s", "day": 1, "cohort_start": "2026-03-01", "cohort_end": "2026-03-01"},
            "source 's' has no column 'user_id'",
        ),
    ],
)
def test_errors(
    plugins: Plugins, tmp_path: Path, name: str, params: dict[str, Any], message: str
) -> None:
    (tmp_path / "e.csv").write_text(EDGES, encoding="utf-8")
    (tmp_path / "s.csv").write_text("customer,timestamp\na,2026-03-01\n", encoding="utf-8")
    sources = {"e": {"path": str(tmp_path / "e.csv")}, "s": {"path": str(tmp_path / "s.csv")}}
    with pytest.raises(Invalid, match=message):
        run(plugins, name, sources, **params)
