"""roi, budget_burn, nps and ab_test against the reference and statsmodels."""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import kpi_reference as ref
import pytest

from opsflow.errors import Invalid
from opsflow.plugins import Plugins

run, check = ref.run, ref.check


@pytest.mark.parametrize(
    ("revenue", "cost", "data", "expected"),
    [
        (150, 100, {}, 0.5),
        ("revenue", "spend", {"revenue": "1234.50", "spend": "987.65"}, (1234.5 - 987.65) / 987.65),
        ("revenue", "cost_metric", {"revenue": 80}, -0.2),
        (0, 40, {}, -1.0),
        (10, 0, {}, None),
        ("revenue", "spend", {"revenue": None, "spend": 3}, None),
    ],
)
def test_roi(
    plugins: Plugins, revenue: Any, cost: Any, data: dict[str, Any], expected: Any
) -> None:
    metrics = {"cost_metric": {"value": 100, "computed_at": "2026-01-01T00:00:00+00:00"}}
    result = run(plugins, "roi", {}, data=data, metrics=metrics, revenue=revenue, cost=cost)
    check(expected, result)


def test_roi_matches_the_reference_on_random_amounts(plugins: Plugins) -> None:
    rng = random.Random(4)
    for _ in range(200):
        revenue, cost = round(rng.uniform(0, 1e6), 2), round(rng.uniform(0.01, 1e6), 2)
        check(ref.roi(revenue, cost), run(plugins, "roi", {}, revenue=revenue, cost=cost))


BURNS = [
    # spent, budget, start, end, now
    (5000, 20000, "2026-01-01", "2026-01-31", datetime(2026, 1, 11, tzinfo=UTC)),
    (5000, 20000, "2026-01-01", "2026-01-31", datetime(2025, 12, 31, 23, 59, tzinfo=UTC)),
    (25000, 20000, "2026-01-01", "2026-01-31", datetime(2026, 3, 1, tzinfo=UTC)),
    (120.5, 300, "2026-02-10", "2026-02-10", datetime(2026, 2, 10, 6, tzinfo=UTC)),
    (0, 0, "2026-02-01", "2026-02-28", datetime(2026, 2, 14, 13, 30, 15, tzinfo=UTC)),
]


@pytest.mark.parametrize(("spent", "budget", "start", "end", "now"), BURNS)
def test_budget_burn(
    plugins: Plugins, spent: Any, budget: Any, start: str, end: str, now: datetime
) -> None:
    result = run(
        plugins, "budget_burn", {}, now=now, spent=spent, budget=budget, start=start, end=end
    )
    expected = ref.budget_burn(
        spent, budget, date.fromisoformat(start), date.fromisoformat(end), now
    )
    check(expected, result)


def test_budget_burn_by_hand(plugins: Plugins) -> None:
    now = datetime(2026, 1, 11, tzinfo=UTC)  # 10 of January's 31 days have passed
    data = {"spent": "5000.00", "budget": 20000}
    result = run(
        plugins,
        "budget_burn",
        {},
        data=data,
        now=now,
        spent="spent",
        budget="budget",
        start="2026-01-01",
        end="2026-01-31",
    )
    assert result == {"burn": 0.25, "elapsed": 10 / 31, "pace": 0.25 / (10 / 31)}
    before = run(
        plugins,
        "budget_burn",
        {},
        now=datetime(2025, 1, 1, tzinfo=UTC),
        spent=1,
        budget=2,
        start="2026-01-01",
        end="2026-01-31",
    )
    assert before == {"burn": 0.5, "elapsed": 0.0, "pace": None}
    with pytest.raises(Invalid, match="param 'end' .* is before param 'start'"):
        run(plugins, "budget_burn", {}, spent=1, budget=2, start="2026-02-01", end="2026-01-31")


def write_survey(path: Path, seed: int) -> list[ref.Event]:
    """Survey answers: user, submitted_at, score 0–10 (some blank)."""
    rng = random.Random(seed)
    rows = []
    for n in range(900):
        at = datetime(2026, 1 + n % 3, 1 + rng.randrange(28), rng.randrange(24), tzinfo=UTC)
        score = rng.choice([None, *range(11), 9, 10, 10, 8])
        rows.append(ref.Event(f"u{n}", "survey", at, score))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "event", "submitted_at", "score"])
        for i, r in enumerate(rows):
            writer.writerow(
                [r.user_id, r.event, ref.stamp(r.at, i % 4), "" if r.value is None else r.value]
            )
    return rows


def test_nps_matches_the_reference(plugins: Plugins, tmp_path: Path) -> None:
    rows = write_survey(tmp_path / "survey.csv", seed=3)
    sources = {
        "survey": {"path": str(tmp_path / "survey.csv"), "columns": {"timestamp": "submitted_at"}}
    }
    check(
        ref.nps(r.value for r in rows),
        run(plugins, "nps", sources, source="survey", column="score"),
    )
    for start, end in [("2026-01-01", "2026-01-31"), ("2026-02-15", "2026-03-10")]:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        scores = [r.value for r in rows if first <= ref.utc_day(r.at) <= last]  # type: ignore[arg-type]
        result = run(plugins, "nps", sources, source="survey", column="score", start=start, end=end)
        check(ref.nps(scores), result)
        assert -100 <= result <= 100


def test_nps_by_hand_and_bad_scores(plugins: Plugins, tmp_path: Path) -> None:
    (tmp_path / "s.jsonl").write_text(
        "\n".join(f'{{"score": {s}}}' for s in [10, 9, 9, 8, 7, 6, 0, "null"]) + "\n",
        encoding="utf-8",
    )
    sources = {"s": {"path": str(tmp_path / "s.jsonl")}}
    assert run(plugins, "nps", sources, source="s", column="score") == 100 * (3 - 2) / 7
    (tmp_path / "bad.csv").write_text("score\n9\n11\n", encoding="utf-8")
    (tmp_path / "text.csv").write_text("score\n9\ngreat\n", encoding="utf-8")
    (tmp_path / "none.csv").write_text("score\n\n", encoding="utf-8")
    sources = {name: {"path": str(tmp_path / f"{name}.csv")} for name in ("bad", "text", "none")}
    with pytest.raises(Invalid, match="source 'bad': column 'score' has '11', not a score"):
        run(plugins, "nps", sources, source="bad", column="score")
    with pytest.raises(Invalid, match="source 'text': column 'score' has 'great'"):
        run(plugins, "nps", sources, source="text", column="score")
    with pytest.raises(Invalid, match="source 'bad' has no column 'rating'"):
        run(plugins, "nps", sources, source="bad", column="rating")
    assert run(plugins, "nps", sources, source="none", column="score") is None


# -- ab_test ---------------------------------------------------------------------------------

AB_INPUTS = [
    (120, 2400, 150, 2400, 0.05),
    (45, 1000, 38, 1000, 0.05),
    (1, 50, 9, 60, 0.01),
    (0, 300, 7, 310, 0.05),
    (5432, 98765, 5601, 97531, 0.1),
    (300, 300, 299, 300, 0.05),
    (10, 10, 0, 10, 0.2),
    (500, 1000, 500, 1000, 0.05),
]


@pytest.mark.parametrize(("ca", "na", "cb", "nb", "alpha"), AB_INPUTS)
def test_ab_test_agrees_with_statsmodels(
    plugins: Plugins, ca: int, na: int, cb: int, nb: int, alpha: float
) -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    result = run(
        plugins,
        "ab_test",
        {},
        conversions_a=ca,
        visitors_a=na,
        conversions_b=cb,
        visitors_b=nb,
        alpha=alpha,
    )
    z, p_value = proportions_ztest([cb, ca], [nb, na])
    assert math.isclose(result["z"], z, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(result["p_value"], p_value, rel_tol=1e-9, abs_tol=1e-9)
    low, high = confint_proportions_2indep(
        cb, nb, ca, na, method="wald", compare="diff", alpha=alpha
    )
    assert math.isclose(result["ci_low"], low, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(result["ci_high"], high, rel_tol=1e-9, abs_tol=1e-9)
    assert result["rate_a"] == ca / na
    assert result["rate_b"] == cb / nb
    assert result["lift"] == ((cb / nb - ca / na) / (ca / na) if ca else None)
    assert result["significant"] is bool(p_value < alpha)


def test_ab_test_by_hand(plugins: Plugins) -> None:
    data = {"visitors_a": 2400, "visitors_b": 2400}
    metrics = {"orders_a": {"value": 120}, "orders_b": 150}
    result = run(
        plugins,
        "ab_test",
        {},
        data=data,
        metrics=metrics,
        conversions_a="orders_a",
        visitors_a="visitors_a",
        conversions_b="orders_b",
        visitors_b="visitors_b",
    )
    rate_a, rate_b = 0.05, 0.0625
    pooled = 270 / 4800
    z = (rate_b - rate_a) / math.sqrt(pooled * (1 - pooled) * (2 / 2400))
    se = math.sqrt(rate_a * 0.95 / 2400 + rate_b * 0.9375 / 2400)
    assert result["rate_a"] == rate_a
    assert result["rate_b"] == rate_b
    assert math.isclose(result["lift"], 0.25, rel_tol=1e-12)
    assert math.isclose(result["z"], z, rel_tol=1e-12)
    assert math.isclose(result["p_value"], math.erfc(z / math.sqrt(2)), rel_tol=1e-12)
    assert math.isclose(result["ci_low"], 0.0125 - 1.959963984540054 * se, rel_tol=1e-12)
    assert math.isclose(result["ci_high"], 0.0125 + 1.959963984540054 * se, rel_tol=1e-12)
    assert result["significant"] is False  # z ≈ 1.89, p ≈ 0.059


def test_ab_test_without_variance(plugins: Plugins) -> None:
    result = run(
        plugins, "ab_test", {}, conversions_a=0, visitors_a=10, conversions_b=0, visitors_b=20
    )
    assert result == {
        "rate_a": 0.0,
        "rate_b": 0.0,
        "lift": None,
        "z": None,
        "p_value": None,
        "ci_low": 0.0,
        "ci_high": 0.0,
        "significant": False,
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"conversions_a": 5, "visitors_a": 0, "conversions_b": 1, "visitors_b": 3},
            "visitors_a must be more than 0",
        ),
        (
            {"conversions_a": 5, "visitors_a": 4, "conversions_b": 1, "visitors_b": 3},
            r"conversions_a \(5\) is more than visitors_a \(4\)",
        ),
        (
            {"conversions_a": 1.5, "visitors_a": 4, "conversions_b": 1, "visitors_b": 3},
            "conversions_a must be a whole number",
        ),
        (
            {"conversions_a": "nope", "visitors_a": 4, "conversions_b": 1, "visitors_b": 3},
            "conversions_a 'nope' is neither a number, a field nor a metric",
        ),
        (
            {
                "conversions_a": 1,
                "visitors_a": 4,
                "conversions_b": 1,
                "visitors_b": 3,
                "alpha": 1.5,
            },
            "param 'alpha': Input should be less than 1",
        ),
        ({"conversions_a": 1, "visitors_a": 4, "conversions_b": 1}, "param 'visitors_b'"),
        (
            {"conversions_a": "unset", "visitors_a": 4, "conversions_b": 1, "visitors_b": 3},
            "conversions_a is not set",
        ),
    ],
)
def test_ab_test_errors(plugins: Plugins, params: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        run(plugins, "ab_test", {}, data={"unset": None}, **params)
