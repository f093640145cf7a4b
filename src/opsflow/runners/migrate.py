"""Moving open cases to another definition version (``opsflow migrate``, SPEC §2 and §3).

A case runs on the version it started with; an admin moves it on purpose. The move is all
or nothing: every open case of the workflow is checked against the target version first
(its state, or the ``--map`` of it, must exist there; its data must be valid there; the
target's required fields must be set), and when any case fails nothing moves. The checks
and the moves share one write transaction, so no fire can slip a case into an unmapped
state between them.

A moved case gets one ``migration`` history entry (hash-chained like any other), a new
visit of its state (approvals of the old visit are dropped, the old visit's pending
deadlines are cancelled and the target version's are armed), and keeps its data, metrics
and the record of who fired what. No actions, rules or automatic transitions run: the
case settles on its next event, data change or deadline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from opsflow.config import project_zone
from opsflow.core.compiled import CompiledWorkflow
from opsflow.core.working import WorkingCase
from opsflow.engine import CaseEngine, arming, incidents, unit
from opsflow.engine.unit import CaseTransaction
from opsflow.errors import FieldError, MigrationRefused, NotFound, Usage
from opsflow.language.fields import coerce_value, is_empty
from opsflow.store import tables


@dataclass(frozen=True)
class MovedCase:
    """A case the migration moved (or, in a dry run, would move)."""

    case: str
    from_version: int
    from_state: str
    to_state: str

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "from_version": self.from_version,
            "from_state": self.from_state,
            "to_state": self.to_state,
        }


@dataclass(frozen=True)
class RefusedCase:
    """A case the target version cannot take, and why."""

    case: str
    state: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "state": self.state, "reason": self.reason}


@dataclass
class MigrationReport:
    """What ``migrate`` did, or would do in a dry run."""

    workflow: str
    to_version: int
    dry_run: bool
    moved: list[MovedCase] = field(default_factory=list)
    refused: list[RefusedCase] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "to_version": self.to_version,
            "moved": [m.to_json() for m in self.moved],
            "refused": [r.to_json() for r in self.refused],
            "dry_run": self.dry_run,
            "warnings": list(self.warnings),
        }


@dataclass
class _Plan:
    """One case's move, worked out before anything is written."""

    case: WorkingCase
    to_state: str
    data: dict[str, Any]
    changes: dict[str, Any]
    undeclared: list[str]
    problems: list[str]


def migrate_cases(
    engine: CaseEngine,
    workflow: str,
    to_version: int,
    mapping: Mapping[str, str],
    *,
    actor: str,
    dry_run: bool = False,
) -> MigrationReport:
    """Move every open case of ``workflow`` on another version to ``to_version``, or none."""
    mapping = dict(mapping)

    def move_all(tx: CaseTransaction) -> MigrationReport:
        conn, now = tx.conn, tx.now
        target, unregistered = _target(engine, conn, workflow, to_version)
        _check_mapping(target, mapping)
        query = (
            select(tables.cases)
            .where(
                tables.cases.c.workflow == workflow,
                tables.cases.c.closed.is_(False),
                tables.cases.c.version != to_version,
            )
            .order_by(tables.cases.c.id)
        )
        if engine.db.row_locks and not dry_run:
            query = query.with_for_update()
        plans = [_plan(target, WorkingCase.from_row(r), mapping) for r in conn.execute(query)]
        report = MigrationReport(workflow, to_version, dry_run, warnings=_warnings(plans, mapping))
        report.refused = [
            RefusedCase(p.case.id, p.case.state, "; ".join(p.problems)) for p in plans if p.problems
        ]
        if report.refused:
            raise MigrationRefused(report)
        report.moved = [
            MovedCase(p.case.id, p.case.version, p.case.state, p.to_state) for p in plans
        ]
        if dry_run:
            return report
        if unregistered:
            engine.definitions.register(conn, target, now)
        for plan in plans:
            _move(tx, target, plan, mapping, actor)
        return report

    if dry_run:
        return unit.read(engine, move_all)
    return unit.transact(engine, move_all)


def _registered_versions(conn: Connection, workflow: str) -> list[int]:
    rows = conn.execute(
        select(tables.definitions.c.version)
        .where(tables.definitions.c.workflow == workflow)
        .order_by(tables.definitions.c.version)
    ).scalars()
    return [int(v) for v in rows]


def _target(
    engine: CaseEngine, conn: Connection, workflow: str, version: int
) -> tuple[CompiledWorkflow, bool]:
    """The target definition and whether it still has to be registered (NotFound if none)."""
    registered = _registered_versions(conn, workflow)
    if version in registered:
        return engine.definitions.pinned(conn, workflow, version), False
    try:
        current = engine.definitions.current(workflow)
    except NotFound:
        if not registered:
            raise
        current = None
    if current is not None and current.version == version:
        return current, True
    known = ", ".join(str(v) for v in registered) or "none"
    where = f"; {current.path} is version {current.version}" if current is not None else ""
    raise NotFound(
        f"workflow '{workflow}' has no version {version} (registered: {known}{where})",
        ["a version is registered when a case starts on it, or by migrating to the current file"],
    )


def _check_mapping(target: CompiledWorkflow, mapping: Mapping[str, str]) -> None:
    """Every ``--map`` target must be a state of the target version (Usage otherwise)."""
    states = list(target.spec.states)
    wrong = [f"{old}={new}" for old, new in mapping.items() if new not in states]
    if wrong:
        raise Usage(
            f"--map names state(s) that version {target.version} of '{target.id}' lacks: "
            + ", ".join(wrong),
            [f"states of version {target.version}: {', '.join(states)}"],
        )


def _plan(target: CompiledWorkflow, case: WorkingCase, mapping: Mapping[str, str]) -> _Plan:
    """Work out where ``case`` goes and what its data becomes; problems refuse the move."""
    problems: list[str] = []
    to_state = mapping.get(case.state, case.state)
    if to_state not in target.spec.states:
        problems.append(
            f"version {target.version} has no state '{case.state}'; add --map {case.state}=STATE"
        )
    data = dict(case.data)
    changes: dict[str, Any] = {}
    undeclared = sorted(name for name in data if name not in target.fields)
    for name, spec in target.fields.items():
        old = data.get(name)
        value = old
        if is_empty(value) and spec.default is not None:
            value = spec.default
        if value is not None:
            try:
                value = coerce_value(name, spec, value)
            except FieldError as exc:
                problems.append(f"{exc} in version {target.version}")
                continue
        if spec.required and is_empty(value):
            problems.append(f"field '{name}' is required by version {target.version} but not set")
            continue
        if value != old:
            changes[name] = {"from": old, "to": value}
            data[name] = value
    return _Plan(case, to_state, data, changes, undeclared, problems)


def _warnings(plans: list[_Plan], mapping: Mapping[str, str]) -> list[str]:
    """Data kept although the target does not declare it, and maps no case needed."""
    counts = Counter(name for p in plans for name in p.undeclared)
    warnings = [
        f"field '{name}' is not declared by the target version; kept in the data of {n} case(s)"
        for name, n in sorted(counts.items())
    ]
    used = {p.case.state for p in plans}
    warnings += [
        f"--map {old}={new}: no open case is in state '{old}'"
        for old, new in mapping.items()
        if old not in used
    ]
    return warnings


def _move(
    tx: CaseTransaction,
    target: CompiledWorkflow,
    plan: _Plan,
    mapping: Mapping[str, str],
    actor: str,
) -> None:
    """Write one case's move: row (version-checked), history entry, approvals, deadlines."""
    case, now = plan.case, tx.now
    from_version, from_state = case.version, case.state
    step = tx.step_on(target, case)
    step.record_migration(
        actor,
        plan.to_state,
        plan.changes,
        {"from_version": from_version, "to_version": target.version, "map": dict(mapping)},
    )
    case.version = target.version
    case.state = plan.to_state
    case.data = plan.data
    case.visit += 1  # a new visit: a deadline or approval of the old one can no longer act
    case.closed = plan.to_state in target.finals
    if plan.to_state != from_state:
        case.entered_at = now
        step.assign_on_entry(from_state)  # the new state's assign:, or nobody
    arming.cancel_deadlines(tx.conn, case.id, now, f"migrated to version {target.version}")
    tx.conn.execute(delete(tables.approvals).where(tables.approvals.c.case_id == case.id))
    incidents.cancel_left_visits(tx.conn, case.id, case.visit, now, deadlines_only=False)
    tx.flush(step)
    settings = tx.shop.settings
    calendars = getattr(settings, "calendars", None)
    arming.arm_deadlines(tx.conn, case, target, calendars, now, project_zone(settings))
