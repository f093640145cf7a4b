"""dau, mau, stickiness and growth_rate against the plain-Python reference."""

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
    events = ref.app_events(seed=11)
    return events, ref.app_sources(tmp_path_factory.mktemp("app"), events)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ref.Event], dict[str, Any]]:
    """Purchase data with the shop's own column names, renamed through `columns`."""
    rows = ref.purchases(seed=5)
    return rows, ref.shop_sources(tmp_path_factory.mktemp("shop"), rows)


APP_DATES = [
    ref.APP_DAY0,  # the first day: the 30-day window reaches before the data
    date(2026, 1, 17),
    date(2026, 2, 28),
    date(2026, 3, 31),
    ref.APP_DAY0 + timedelta(days=ref.APP_DAYS - 1),
    date(2026, 7, 1),  # after the data: nobody is active
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_dau_mau_stickiness_on_app_events(plugins: Plugins, app: Any, fmt: str) -> None:
    events, sources = app
    source = {"events": sources[fmt]}
    for day in APP_DATES:
        for event in (None, "purchase"):
            params = {"source": "events", "date": day.isoformat()}
            if event is not None:
                params["event"] = event
            daily = run(plugins, "dau", source, **params)
            monthly = run(plugins, "mau", source, **params)
            assert type(daily) is int
            assert daily == ref.dau(events, day, event), (day, event)
            assert monthly == ref.mau(events, day, event), (day, event)
            check(ref.stickiness(events, day, event), run(plugins, "stickiness", source, **params))


@pytest.mark.parametrize("fmt", FORMATS)
def test_growth_rate_on_app_events(plugins: Plugins, app: Any, fmt: str) -> None:
    events, sources = app
    source = {"events": sources[fmt]}
    for day in (date(2026, 1, 2), date(2026, 2, 14), date(2026, 3, 31), date(2026, 4, 30)):
        for period in ("day", "week", "month"):
            for measure, event in (("users", None), ("events", "purchase"), ("value", None)):
                params = {"source": "events", "period": period, "date": str(day)}
                params["measure"] = measure
                if event:
                    params["event"] = event
                expected = ref.growth_rate(events, period, day, measure, event)
                check(expected, run(plugins, "growth_rate", source, **params))


def test_growth_rate_is_null_without_a_previous_period(plugins: Plugins, app: Any) -> None:
    events, sources = app
    params = {"source": "events", "period": "month", "date": "2026-01-20", "measure": "users"}
    assert ref.growth_rate(events, "month", date(2026, 1, 20), "users") is None
    assert run(plugins, "growth_rate", {"events": sources["csv"]}, **params) is None


def test_activity_on_purchase_data(plugins: Plugins, shop: Any) -> None:
    rows, sources = shop
    for day in (date(2025, 9, 1), date(2025, 10, 31), date(2025, 12, 24), date(2026, 2, 27)):
        params = {"source": "shop", "date": str(day)}
        assert run(plugins, "dau", sources, **params) == ref.dau(rows, day)
        assert run(plugins, "mau", sources, **params, event="paid") == ref.mau(rows, day, "paid")
        check(ref.stickiness(rows, day), run(plugins, "stickiness", sources, **params))
        for period in ("day", "week", "month"):
            for measure in ("users", "events", "value"):
                expected = ref.growth_rate(rows, period, day, measure, "paid")
                actual = run(
                    plugins,
                    "growth_rate",
                    sources,
                    **params,
                    period=period,
                    measure=measure,
                    event="paid",
                )
                check(expected, actual)


def test_day_edges(plugins: Plugins, tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text(
        "user_id,event,timestamp\n"
        "a,x,2026-03-09T23:59:59Z\n"
        "b,x,2026-03-10T07:59:59+08:00\n"  # 2026-03-09T23:59:59Z
        "c,x,2026-03-10T00:00:00Z\n"
        "d,x,2026-03-10 23:59:59.999999\n"
        "e,x,2026-03-10T19:00:00-05:00\n"  # 2026-03-11T00:00:00Z
        "f,x,2026-02-09T00:00:00Z\n"  # date - 29
        "g,x,2026-02-08T23:59:59Z\n"  # date - 30
        ",x,2026-03-10T12:00:00Z\n",  # no user
        encoding="utf-8",
    )
    sources = {"e": {"path": str(tmp_path / "e.csv")}}
    assert run(plugins, "dau", sources, source="e", date="2026-03-10") == 2
    assert run(plugins, "dau", sources, source="e", date="2026-03-09") == 2
    assert run(plugins, "mau", sources, source="e", date="2026-03-10") == 5
    # user-days: f 02-09, a 03-09, b 03-09, c 03-10, d 03-10 -> 5 / (30 * 5)
    assert run(plugins, "stickiness", sources, source="e", date="2026-03-10") == 1 / 30
    assert run(plugins, "stickiness", sources, source="e", date="2027-01-01") is None
    growth = run(
        plugins,
        "growth_rate",
        sources,
        source="e",
        date="2026-03-10",
        period="day",
        measure="users",
    )
    assert growth == 0.0  # 2 users on 03-10, 2 on 03-09


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("dau", {"date": "2026-01-01"}, "param 'source': Field required"),
        ("dau", {"source": "e", "date": "01/02/2026"}, "param 'date': must be a date"),
        ("mau", {"source": "e"}, "param 'date': Field required"),
        (
            "growth_rate",
            {"source": "e", "date": "2026-01-01", "period": "year", "measure": "users"},
            "param 'period': Input should be 'day', 'week' or 'month'",
        ),
        (
            "growth_rate",
            {"source": "e", "date": "2026-01-01", "period": "day", "measure": "revenue"},
            "param 'measure': Input should be 'users', 'events' or 'value'",
        ),
        ("stickiness", {"source": "e", "date": "2026-01-01", "days": 7}, "param 'days': Extra"),
        ("dau", {"source": "nope", "date": "2026-01-01"}, "unknown source 'nope'"),
        (
            "growth_rate",
            {"source": "e", "date": "2026-01-01", "period": "day", "measure": "value"},
            "source 'e' has no column 'value'",
        ),
        ("dau", {"source": "e", "date": "2026-01-01", "event": "x"}, "has no column 'event'"),
    ],
)
def test_errors(
    plugins: Plugins, tmp_path: Path, name: str, params: dict[str, Any], message: str
) -> None:
    (tmp_path / "e.csv").write_text("user_id,timestamp\na,2026-01-01\n", encoding="utf-8")
    sources = {"e": {"path": str(tmp_path / "e.csv")}}
    with pytest.raises(Invalid, match=message):
        run(plugins, name, sources, **params)
