"""Arming a state's deadlines: when each is due, following its field, and repeating it.

A deadline row belongs to one visit of one state. Entering a state arms its SLA and timer;
leaving it cancels them. Within a visit a deadline follows the data it depends on:

- a timer ``at: FIELD`` moves when the field changes (it fires once per instant, however
  often its state is entered);
- an SLA ``within: {by: FIELD, …}`` that has not fired yet is counted again from the
  state's entry with the duration of the field's new value (if that moment has passed, the
  next worker pass fires it);
- ``repeat: DURATION`` arms the next occurrence when one fires and the case is still in the
  same visit: every DURATION after the previous due time (counted on the deadline's
  calendar, skipping occurrences a stopped worker missed), at most
  :data:`MAX_FIRINGS_PER_VISIT` firings per visit in all.

Due times are computed here, once, and stored; workers only compare them with the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from opsflow.clock import END_OF_TIME, later, parse_instant
from opsflow.core.calendar import add
from opsflow.core.compiled import CompiledWorkflow, DeadlineSpec, Span
from opsflow.core.working import WorkingCase, Writes
from opsflow.engine import incidents
from opsflow.errors import OpsflowError
from opsflow.store import tables

if TYPE_CHECKING:
    from opsflow.calendars import Calendar

MAX_FIRINGS_PER_VISIT = 100  # a repeating deadline fires at most this often in one visit
MAX_SKIPPED = 1_000  # occurrences a stopped worker missed, counted one by one at most

_D = tables.deadlines


def flush_deadlines(
    conn: Connection,
    wf: CompiledWorkflow,
    case: WorkingCase,
    writes: Writes,
    now: datetime,
    calendars: Mapping[str, Calendar] | None,
    zone: tzinfo = UTC,
) -> None:
    """A step's effect on deadlines: arm the entered state's (cancelling the left state's),
    or move those that follow a field the step changed."""
    if writes.entered:
        if writes.left & wf.deadlines.keys():
            cancel_deadlines(conn, case.id, now, "state left")
            incidents.cancel_left_visits(conn, case.id, case.visit, now)
        arm_deadlines(conn, case, wf, calendars, now, zone)
    elif writes.changed_fields:
        _follow_fields(conn, wf, case, writes.changed_fields, now, calendars or {}, zone)


def arm_deadlines(
    conn: Connection,
    case: WorkingCase,
    wf: CompiledWorkflow,
    calendars: Mapping[str, Calendar] | None = None,
    now: datetime | None = None,
    zone: tzinfo = UTC,
) -> None:
    """Arm the deadlines of the case's current visit (an ``at:`` timer once per instant);
    a duration on a business calendar counts its working time from the state's entry; a
    date timer is due at midnight in ``zone``, the project's time zone."""
    rows = []
    for spec in wf.deadlines.get(case.state, ()):
        row = _first_row(conn, case, wf, spec, calendars or {}, now, zone)
        if row is not None:
            rows.append(row)
    if rows:
        conn.execute(insert(_D), rows)


def cancel_deadlines(conn: Connection, case_id: str, now: datetime, note: str, *where: Any) -> None:
    """Cancel a case's pending deadlines (those matching ``where`` too), saying why."""
    conn.execute(
        update(_D)
        .where(_D.c.case_id == case_id, _D.c.status == "pending", *where)
        .values(status="cancelled", done_at=now, note=note)
    )


def arm_repeat(
    conn: Connection,
    wf: CompiledWorkflow,
    case: WorkingCase,
    fired: Any,
    now: datetime,
    calendars: Mapping[str, Calendar] | None,
) -> datetime | None:
    """After ``fired`` (a deadline row, already marked fired) fired: arm its next occurrence
    if it repeats and the case is still in that visit. The new due time, or None."""
    if case.closed or case.state != fired.state or case.visit != fired.visit:
        return None
    spec = _spec_of(wf, case.state, fired.kind)
    if spec is None or spec.repeat is None or spec.event != fired.event:
        return None
    ours = (_D.c.case_id == case.id, _D.c.visit == case.visit, _D.c.kind == spec.kind)
    pending = select(_D.c.id).where(*ours, _D.c.status == "pending").limit(1)
    if conn.execute(pending).first() is not None:
        return None  # the step moved it already (its field changed)
    if _fired_count(conn, ours) >= MAX_FIRINGS_PER_VISIT:
        return None
    due = next_due(spec, fired.due_at, now, calendars or {}, case.state)
    conn.execute(insert(_D), [_row(case, spec, due)])
    return due


def next_due(
    spec: DeadlineSpec,
    previous: datetime,
    now: datetime,
    calendars: Mapping[str, Calendar],
    state: str,
) -> datetime:
    """The first occurrence after ``now`` of ``spec``'s repeat, counted from ``previous``."""
    assert spec.repeat is not None
    due = previous
    for _ in range(MAX_SKIPPED):
        due = _after(spec, due, spec.repeat, calendars, state)
        if due > now or due >= END_OF_TIME:
            return due
    return _after(spec, now, spec.repeat, calendars, state)  # a very long stop: from now


def first_due(
    spec: DeadlineSpec,
    case: WorkingCase,
    wf: CompiledWorkflow,
    calendars: Mapping[str, Calendar],
    zone: tzinfo = UTC,
) -> datetime | None:
    """When the deadline first falls due in the case's current visit; None when the field
    it reads is unset (or a ``by`` value no duration covers). A date field's day begins at
    midnight in ``zone``."""
    if spec.at_field is None:
        span = spec.counted(case.data)
        return None if span is None else _after(spec, case.entered_at, span, calendars, case.state)
    value = case.data.get(spec.at_field)
    if value in (None, ""):
        return None
    field = wf.fields.get(spec.at_field)
    if field is not None and field.type == "date":  # midnight in the project's time zone
        day = date.fromisoformat(str(value))
        try:
            return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west: past years 1..9999
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return parse_instant(str(value))


def _after(
    spec: DeadlineSpec,
    start: datetime,
    span: Span,
    calendars: Mapping[str, Calendar],
    state: str,
) -> datetime:
    """``start`` plus ``span``: working time on the deadline's calendar, else wall clock."""
    if spec.calendar is None:
        return later(start, span.delta)
    calendar = calendars.get(spec.calendar)
    if calendar is None:  # checked by validate; a config changed since: say so
        raise OpsflowError(
            f"the {spec.kind} of state '{state}' counts on calendar "
            f"'{spec.calendar}', which opsflow.yaml no longer declares"
        )
    return add(calendar, start, span.working or span.text)


def _first_row(
    conn: Connection,
    case: WorkingCase,
    wf: CompiledWorkflow,
    spec: DeadlineSpec,
    calendars: Mapping[str, Calendar],
    now: datetime | None,
    zone: tzinfo = UTC,
) -> dict[str, Any] | None:
    """The row arming ``spec`` for the visit; an ``at:`` timer already fired at its instant
    is not armed again (a timer whose event re-enters its state would fire for ever), though
    a repeating one goes on with its next occurrence."""
    if case.closed:
        return None
    due = first_due(spec, case, wf, calendars, zone)
    if due is None:
        return None
    if spec.at_field is not None and _fired_at(conn, case, spec, due):
        if spec.repeat is None or now is None:
            return None
        due = next_due(spec, due, now, calendars, case.state)
    return _row(case, spec, due)


def _row(case: WorkingCase, spec: DeadlineSpec, due: datetime) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "state": case.state,
        "visit": case.visit,
        "event": spec.event,
        "kind": spec.kind,
        "field": spec.at_field,
        "due_at": due,
        "status": "pending",
        "calendar": spec.calendar,
    }


def _fired_at(conn: Connection, case: WorkingCase, spec: DeadlineSpec, due: datetime) -> bool:
    fired = select(_D.c.id).where(
        _D.c.case_id == case.id,
        _D.c.status == "fired",
        _D.c.state == case.state,
        _D.c.event == spec.event,
        _D.c.field == spec.at_field,
        _D.c.due_at == due,
    )
    return conn.execute(fired.limit(1)).first() is not None


def _fired_count(conn: Connection, ours: Any) -> int:
    """How often the deadline ``ours`` (its case, visit and kind) has fired in the visit."""
    count = conn.execute(select(func.count()).where(*ours, _D.c.status == "fired")).scalar()
    return int(count or 0)


def _spec_of(wf: CompiledWorkflow, state: str, kind: str) -> DeadlineSpec | None:
    return next((s for s in wf.deadlines.get(state, ()) if s.kind == kind), None)


def _follow_fields(
    conn: Connection,
    wf: CompiledWorkflow,
    case: WorkingCase,
    changed: set[str],
    now: datetime,
    calendars: Mapping[str, Calendar],
    zone: tzinfo = UTC,
) -> None:
    """Move the deadlines of the visit that follow a changed field (``at:`` or ``by``)."""
    if case.closed:
        return
    for spec in wf.deadlines.get(case.state, ()):
        if spec.follows is None or spec.follows not in changed:
            continue
        ours = [_D.c.case_id == case.id, _D.c.visit == case.visit, _D.c.kind == spec.kind]
        if spec.by is not None:
            fired = select(_D.c.id).where(*ours, _D.c.status == "fired").limit(1)
            if conn.execute(fired).first() is not None:
                continue  # it has fired: a repeat goes on at its own pace
        elif spec.repeat is not None and _fired_count(conn, ours) >= MAX_FIRINGS_PER_VISIT:
            continue  # the visit has had all its reminders, whatever the field says now
        replaced = select(_D.c.id).where(*ours, _D.c.status.in_(("pending", "failed")))
        incidents.cancel_for_deadlines(conn, list(conn.execute(replaced).scalars()), now)
        cancel_deadlines(conn, case.id, now, f"field '{spec.follows}' changed", *ours[1:])
        row = _first_row(conn, case, wf, spec, calendars, now, zone)
        if row is not None:
            conn.execute(insert(_D), [row])
