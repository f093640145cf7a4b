"""The calendar figure runs (tiny sizes, one round): no timing is asserted here."""

from __future__ import annotations

from benchmarks.calendar import calendar
from benchmarks.common import Options


def test_the_calendar_figure_runs_in_dry_mode() -> None:
    (figure,) = calendar(Options(dry=True))
    assert figure.name == "calendar"
    assert len(figure.ratios) == 1
    assert figure.target is None
    assert "computation alone" in figure.what


def test_the_arming_figure_runs_in_dry_mode() -> None:
    from benchmarks.calendar import calendar_arming

    (figure,) = calendar_arming(Options(dry=True))
    assert figure.name == "calendar_arming"
    assert figure.target == 1.5
    assert figure.notes["deadlines"] == 200  # each round armed them all (checked inside)
