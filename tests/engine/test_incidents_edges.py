"""Edge cases of failed automation found in review, each reproduced first (both backends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsflow.errors import NotPermitted, Refused


def _engine(make_engine: Any, workflows_dir: Path, text: str, tmp_path: Path) -> Any:
    (workflows_dir / "w.yaml").write_text(text, encoding="utf-8")
    engine = make_engine(team={"ann": ["author"], "bob": ["author"]})
    engine.settings.sources = {"data": {"path": str(tmp_path / "events.csv")}}
    return engine


def _events(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(
        "user_id,event,timestamp\nu1,open,2026-01-01T00:00:00Z\n", encoding="utf-8"
    )


NESTED = """\
workflow: w
version: 1
roles: [author]
fields:
  n: {type: integer, default: 0}
  small: {type: integer, max: 5}
states:
  a: {initial: true}
  b:
    on_enter: [{compute: [m]}]
  c: {final: true}
transitions:
  - {event: go, from: a, to: b, auto: true, when: "n > 0"}
  - {event: end, from: b, to: c, roles: [author]}
rules:
  - name: r
    when: "n > 0"
    do: [{compute: [m]}, {set: {small: "n * 10"}}]
metrics:
  m:
    calculator: count
    params: {source: data}
"""


def test_a_failure_inside_a_failed_piece_is_still_kept_when_it_fails_again(
    make_engine: Any, workflows_dir: Path, tmp_path: Path
) -> None:
    engine = _engine(make_engine, workflows_dir, NESTED, tmp_path)
    case = engine.start("w", {}, actor="ann")
    moved = engine.set(case.id, {"n": 1}, actor="ann")
    assert moved.state == "b"
    found = sorted((i.kind, i.target) for i in engine.incidents(case_id=case.id))
    assert found == [("compute", "m"), ("rule", "r")]  # b's own compute is not lost


def test_a_person_computing_the_metric_recovers_its_incident(
    make_engine: Any, workflows_dir: Path, tmp_path: Path
) -> None:
    engine = _engine(make_engine, workflows_dir, NESTED.replace("max: 5", "max: 500"), tmp_path)
    case = engine.start("w", {}, actor="ann")
    engine.set(case.id, {"n": 1}, actor="ann")
    assert {i.kind for i in engine.incidents()} == {"compute"}
    _events(tmp_path)
    engine.compute(case.id, ["m"], actor="bob")
    assert engine.incidents() == []
    assert {i.status for i in engine.incidents(everything=True)} == {"recovered"}


FINAL = """\
workflow: w
version: 1
roles: [author]
fields:
  t: {type: string}
states:
  a: {initial: true}
  done:
    final: true
    on_enter: [{compute: [m]}]
transitions:
  - {event: finish, from: a, to: done, roles: [author]}
metrics:
  m:
    calculator: count
    params: {source: data}
"""


def test_a_compute_on_entering_a_final_state_is_retried(
    make_engine: Any, workflows_dir: Path, tmp_path: Path, clock: Any
) -> None:
    engine = _engine(make_engine, workflows_dir, FINAL, tmp_path)
    case = engine.start("w", {}, actor="ann")
    assert engine.fire(case.id, "finish", actor="ann").case.closed
    _events(tmp_path)
    clock.advance(minutes=1)
    assert engine.run_due().automation_recovered == 1
    assert engine.get(case.id).metrics == {"m": 1}


MANY = FINAL.replace(
    "on_enter: [{compute: [m]}]",
    "on_enter: [{compute: [" + ", ".join(f"metric_number_{i:02d}" for i in range(20)) + "]}]",
).replace(
    "metrics:\n  m:\n    calculator: count\n    params: {source: data}\n",
    "metrics:\n"
    + "".join(
        f"  metric_number_{i:02d}:\n    calculator: count\n    params: {{source: data}}\n"
        for i in range(20)
    ),
)


def test_a_long_list_of_failed_metrics_fits(
    make_engine: Any, workflows_dir: Path, tmp_path: Path
) -> None:
    engine = _engine(make_engine, workflows_dir, MANY, tmp_path)
    case = engine.start("w", {}, actor="ann")
    assert engine.fire(case.id, "finish", actor="ann").case.state == "done"
    (incident,) = engine.incidents()
    assert len(incident.target) > 300


TWO_DEADLINES = """\
workflow: w
version: 1
roles: [author]
fields:
  due: {type: datetime}
  ok: {type: boolean, default: false}
states:
  a:
    initial: true
    sla: {within: 1h, fire: escalate}
    timer: {at: due, fire: expire}
  b: {}
  z: {final: true}
transitions:
  - {event: escalate, from: a, to: b, roles: [system], when: "ok"}
  - {event: expire, from: a, to: z, roles: [system], when: "ok"}
  - {event: close, from: [a, b], to: z, roles: [author]}
"""


def test_moving_a_timer_keeps_the_other_deadlines_incident(
    make_engine: Any, workflows_dir: Path, tmp_path: Path, clock: Any
) -> None:
    engine = _engine(make_engine, workflows_dir, TWO_DEADLINES, tmp_path)
    later = clock.now.replace(year=clock.now.year + 1)
    case = engine.start("w", {"due": later.isoformat()}, actor="ann")
    for _ in range(6):
        clock.advance(hours=1)
        engine.run_due()
    (sla,) = engine.incidents()
    assert (sla.kind, sla.status) == ("sla", "open")
    engine.set(case.id, {"due": later.replace(month=2).isoformat()}, actor="ann")
    assert engine.incidents() == [sla]  # still open: the SLA did not move


def test_migrating_a_case_closes_its_old_visits_incidents(
    make_engine: Any, workflows_dir: Path, tmp_path: Path, clock: Any
) -> None:
    engine = _engine(make_engine, workflows_dir, TWO_DEADLINES, tmp_path)
    case = engine.start("w", {}, actor="ann")
    clock.advance(hours=2)
    engine.run_due()
    assert [i.status for i in engine.incidents()] == ["retrying"]
    (workflows_dir / "w.yaml").write_text(
        TWO_DEADLINES.replace("version: 1", "version: 2"), encoding="utf-8"
    )
    moved = make_engine(team={"ann": ["author"]})
    moved.migrate("w", 2, actor="ann")
    assert moved.get(case.id).version == 2
    assert [i.status for i in moved.incidents(everything=True)] == ["cancelled"]


def test_a_failed_try_never_reopens_a_closed_incident(
    make_engine: Any, workflows_dir: Path, tmp_path: Path, clock: Any
) -> None:
    from opsflow.engine import incidents

    engine = _engine(make_engine, workflows_dir, TWO_DEADLINES, tmp_path)
    engine.start("w", {}, actor="ann")
    clock.advance(hours=2)
    engine.run_due()
    (incident,) = engine.incidents()
    engine.resolve_incident(incident.id, "handled", actor="ann")
    with engine.db.write() as conn:
        assert incidents.failed_again(conn, incident.id, "late", clock.now) == "closed"
    assert engine.incidents(everything=True)[0].status == "resolved"
    with pytest.raises(Refused, match="is resolved"):
        engine.retry_incident(incident.id, actor="ann")


def test_a_stranger_or_system_fire_writes_no_history(
    make_engine: Any, workflows_dir: Path, tmp_path: Path
) -> None:
    engine = _engine(make_engine, workflows_dir, TWO_DEADLINES, tmp_path)
    case = engine.start("w", {}, actor="ann")
    for who in ("zed", "system"):
        with pytest.raises(NotPermitted):
            engine.fire(case.id, "close", actor=who)
    assert [h.kind for h in engine.history(case.id)] == ["start"]


def test_a_reused_key_is_not_a_denied_entry(
    make_engine: Any, workflows_dir: Path, tmp_path: Path
) -> None:
    engine = _engine(make_engine, workflows_dir, TWO_DEADLINES, tmp_path)
    first = engine.start("w", {}, actor="ann")
    second = engine.start("w", {}, actor="ann")
    engine.fire(first.id, "close", actor="ann", key="k1")
    with pytest.raises(Refused):
        engine.fire(second.id, "close", actor="ann", key="k1")
    assert [h.kind for h in engine.history(second.id)] == ["start"]
