"""Business-calendar checks of a workflow: the calendars its deadlines count on.

A workflow's ``calendar:`` is the default of every sla and timer; one deadline may name
another or say ``calendar: none`` (the wall clock). A calendar must be one of the project
configuration's, a duration counted on one may not use weeks, and ``validate`` warns when a
calendar has no official holiday data for a year a deadline can reach.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from opsflow.language.models import SlaSpec, TimerSpec
from opsflow.suggest import did_you_mean

if TYPE_CHECKING:
    from opsflow.language.check_site import CheckSite
    from opsflow.language.yamlio import YamlPath

NO_CALENDAR = "none"


def deadline_calendar(workflow_calendar: str | None, own: str | None) -> str | None:
    """The calendar a deadline counts on: its own, else the workflow's; None: the wall clock."""
    chosen = own if own is not None else workflow_calendar
    return None if chosen in (None, NO_CALENDAR) else chosen


def check_calendars(checker: CheckSite) -> None:
    """Every calendar named is configured; no weeks counted on one; data gaps warned."""
    data = checker.doc.data if isinstance(checker.doc.data, dict) else {}
    default = data.get("calendar")
    default = default if isinstance(default, str) else None
    if default is not None and default != NO_CALENDAR:
        _known(checker, ("calendar",), default, "the workflow's calendar")
    warned: set[str] = set()
    gaps = dict(checker.ctx.calendar_gaps)
    for state, spec in checker.parts.states.items():
        for kind, deadline in (("sla", spec.sla), ("timer", spec.timer)):
            if deadline is None:
                continue
            base: YamlPath = ("states", state, kind)
            what = f"{kind} of state '{state}'"
            own = deadline.calendar
            where: YamlPath = (*base, "calendar")
            if own not in (None, NO_CALENDAR) and not _known(checker, where, own, what):
                continue
            name = deadline_calendar(default, own)
            counted = _counted(deadline)
            if name is None or not counted:
                continue  # the wall clock, or an at: timer (a field's instant, not shifted)
            for key, text in counted:
                if _has_weeks(text):
                    checker.report(
                        (*base, *key),
                        f"{what} counts '{text}' on calendar '{name}': weeks are not allowed "
                        "on a calendar (count working days: 5d)",
                    )
            years = gaps.get(name)
            if years and name not in warned:
                warned.add(name)
                listed = ", ".join(str(y) for y in years)
                checker.report(
                    (*base, "calendar") if deadline.calendar else ("calendar",),
                    f"calendar '{name}' has no official holiday data for {listed}, which "
                    f"the {what} can reach; add its days off and make-up workdays with "
                    "add_holidays/add_workdays in opsflow.yaml",
                    "warning",
                )


def _counted(deadline: SlaSpec | TimerSpec) -> list[tuple[tuple[str, ...], str]]:
    """The durations a deadline counts on its calendar, each with its path under it."""
    found: list[tuple[tuple[str, ...], str]] = []
    if isinstance(deadline, SlaSpec):
        found += [
            (("within",) if isinstance(deadline.within, str) else ("within", key), text)
            for key, text in deadline.durations().items()
        ]
    elif deadline.after is not None:
        found.append((("after",), deadline.after))
    else:
        return []  # an at: timer: the field's instant, and its repeats, are not shifted
    if deadline.repeat is not None:
        found.append((("repeat",), deadline.repeat))
    return found


def _known(checker: CheckSite, where: YamlPath, name: str, what: str) -> bool:
    known = checker.ctx.calendars
    if known is None or name in known:
        return True
    if not known:
        checker.report(
            where,
            f"{what} counts on calendar '{name}', but the project declares no calendars "
            "(add them under calendars: in opsflow.yaml)",
        )
        return False
    checker.report(
        where,
        f"{what} counts on unknown calendar '{name}'{did_you_mean(name, known)} "
        f"(known: {', '.join(sorted(known))})",
    )
    return False


def _has_weeks(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered.startswith("p"):
        return "w" in lowered
    return re.search(r"\d\s*w", lowered) is not None
