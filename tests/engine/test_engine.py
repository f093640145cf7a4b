"""The engine's semantics (SPEC §2.3–2.7, §6) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from opsflow.errors import Invalid, NotFound, NotPermitted, Refused, Usage
from opsflow.store import tables as t


def kinds(engine: Any, case_id: str) -> list[tuple[str, str | None, str | None]]:
    return [(e.kind, e.event, e.to_state) for e in engine.history(case_id)]


def outbox_messages(engine: Any, case_id: str) -> list[tuple[str, str]]:
    return [(o.to, o.message) for o in reversed(engine.outbox(case_id=case_id))]


def counts(engine: Any) -> dict[str, int]:
    with engine.db.read() as conn:
        return {
            name: len(conn.execute(select(table)).all())
            for name, table in [
                ("cases", t.cases),
                ("history", t.history),
                ("outbox", t.outbox),
                ("deadlines", t.deadlines),
                ("approvals", t.approvals),
            ]
        }


def test_start_applies_defaults_and_writes_a_start_entry(engine: Any) -> None:
    case = engine.start("review", {"title": "Hello"}, actor="ann")
    assert case.state == "draft"
    assert case.data == {"title": "Hello", "kind": "article", "claims": False, "legal_ok": False}
    assert case.created_by == "ann"
    assert not case.closed
    [entry] = engine.history(case.id)
    assert entry.kind == "start"
    assert entry.to_state == "draft"
    assert entry.seq == 1
    assert entry.data_changes["title"] == {"from": None, "to": "Hello"}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({}, "title"),
        ({"title": "x" * 51}, "title"),
        ({"title": "ok", "kind": "poster"}, "kind"),
        ({"title": "ok", "score": 101}, "score"),
        ({"title": "ok", "score": True}, "score"),
        ({"title": "ok", "budget": -1}, "budget"),
        ({"title": "ok", "titel": "x"}, "did you mean 'title'"),
    ],
)
def test_start_refuses_bad_data_and_writes_nothing(
    engine: Any, data: dict[str, Any], fragment: str
) -> None:
    engine.start("review", {"title": "seed"}, actor="ann")
    before = counts(engine)
    with pytest.raises(Invalid) as info:
        engine.start("review", data, actor="ann")
    assert fragment in (info.value.message + " ".join(info.value.reasons))
    assert counts(engine) == before


def test_unknown_workflow_is_not_found(engine: Any) -> None:
    with pytest.raises(NotFound, match="no workflow 'nope'"):
        engine.start("nope", {}, actor="ann")


def test_article_path_with_four_eyes_and_set_action(engine: Any) -> None:
    case = engine.start("review", {"title": "Hello"}, actor="both")
    assert engine.fire(case.id, "submit", actor="both").case.state == "review"
    with pytest.raises(NotPermitted) as info:
        engine.fire(case.id, "approve", actor="ann")
    assert any("needs one of editor" in r for r in info.value.reasons)
    with pytest.raises(NotPermitted) as info:
        engine.fire(case.id, "approve", actor="both")
    assert any("four-eyes: both fired 'submit'" in r for r in info.value.reasons)
    result = engine.fire(case.id, "approve", actor="ed", comment="LGTM")
    assert result.outcome == "transitioned"
    assert result.case.state == "scheduled"
    assert result.case.data["approved_by"] == "ed"
    last = engine.history(case.id)[-1]
    assert (last.kind, last.event, last.from_state, last.to_state) == (
        "transition",
        "approve",
        "review",
        "scheduled",
    )
    assert last.comment == "LGTM"
    assert last.data_changes == {"approved_by": {"from": None, "to": "ed"}}


def test_refusal_lists_first_failing_check_per_candidate(engine: Any) -> None:
    case = engine.start("review", {"title": "Hello"}, actor="ann")
    with pytest.raises(Refused) as info:
        engine.fire(case.id, "approve", actor="ed")
    assert "not available in state 'draft'" in info.value.message
    engine.fire(case.id, "submit", actor="ann")
    engine.set(case.id, {"title": ""}, actor="ann")
    with pytest.raises(NotFound, match="no event 'bogus'"):
        engine.fire(case.id, "bogus", actor="ed")


def test_requires_is_checked_after_event_data(engine: Any) -> None:
    case = engine.start("review", {"title": "Hello"}, actor="ann")
    engine.set(case.id, {"title": None}, actor="ann")
    with pytest.raises(Refused) as info:
        engine.fire(case.id, "submit", actor="ann")
    assert info.value.reasons == ["submit → review: requires: 'title' empty"]
    result = engine.fire(case.id, "submit", actor="ann", data={"title": "Back"})
    assert result.case.state == "review"
    assert result.case.data["title"] == "Back"


def test_guard_false_is_refused_with_reason(engine: Any) -> None:
    case = engine.start("review", {"title": "Hello"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    result = engine.fire(case.id, "approve", actor="ed", dry_run=True)
    assert result.outcome == "dry_run"
    assert result.would["to"] == "scheduled"


def test_approvals_need_distinct_eligible_actors(engine: Any) -> None:
    case = engine.start("review", {"title": "Ad", "kind": "ad"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    assert engine.fire(case.id, "approve", actor="ed").case.state == "legal"
    first = engine.fire(case.id, "approve", actor="lou")
    assert first.outcome == "approval_recorded"
    assert first.approvals == (1, 2)
    assert first.to_json()["approvals"] == {"have": 1, "need": 2}
    assert first.case.state == "legal"
    with pytest.raises(NotPermitted, match="not permitted"):
        engine.fire(case.id, "approve", actor="lou")
    with pytest.raises(NotPermitted):
        engine.fire(case.id, "approve", actor="ed")
    second = engine.fire(case.id, "approve", actor="bea")
    assert second.outcome == "transitioned"
    assert second.case.state == "scheduled"
    # leaving legal ran its on_exit action; the approvals are gone
    assert second.case.data["legal_ok"] is True
    assert counts(engine)["approvals"] == 0
    entries = engine.history(case.id)
    # lou's second vote and ed's were refused: each is audited, the case unchanged
    assert [e.kind for e in entries][-4:] == ["approval", "denied", "denied", "transition"]
    assert entries[-1].detail["approvals"] == ["bea", "lou"]


def test_veto_lets_an_approver_fire_other_events(engine: Any) -> None:
    case = engine.start("review", {"title": "Ad", "kind": "ad"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    engine.fire(case.id, "approve", actor="lou")
    # bea is brand: 'reject' is director-only, but bea is an eligible approver with veto
    result = engine.fire(case.id, "reject", actor="bea")
    assert result.case.state == "rejected"
    assert result.case.closed
    assert counts(engine)["approvals"] == 0


def test_leaving_and_reentering_clears_approvals(engine: Any) -> None:
    case = engine.start("review", {"title": "Ad", "kind": "ad"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    engine.fire(case.id, "approve", actor="lou")
    status = engine.status(case.id, actor="lou")
    approve = next(e for e in status.events if e.event == "approve")
    assert not approve.allowed
    assert "already approved" in approve.reasons[0]


def test_auto_transition_runs_after_a_data_change(engine: Any) -> None:
    case = engine.start("review", {"title": "Hello"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    moved = engine.set(case.id, {"claims": True}, actor="ed")
    assert moved.state == "held"
    entries = engine.history(case.id)
    assert [(e.kind, e.actor, e.event, e.to_state) for e in entries[-2:]] == [
        ("data", "ed", None, None),
        ("transition", "system", "pull", "held"),
    ]


def test_timer_at_a_field_fires_once_as_system(engine: Any, clock: Any) -> None:
    case = engine.start("review", {"title": "Hello", "hits": 5, "views": 50}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    assert engine.status(case.id).deadlines == []  # publish_at unset: nothing armed
    engine.set(case.id, {"publish_at": "2026-01-06T08:00:00Z"}, actor="ed")
    [deadline] = engine.status(case.id).deadlines
    assert (deadline.event, deadline.kind) == ("publish", "timer")
    assert engine.fire_due_deadlines().deadlines_fired == 0
    clock.advance(days=1)
    report = engine.fire_due_deadlines()
    assert report.deadlines_fired == 1
    case = engine.get(case.id)
    assert case.state == "published"
    assert case.metrics == {"hit_rate": 0.1}
    entries = engine.history(case.id)
    timer = next(e for e in entries if e.kind == "timer")
    assert (timer.actor, timer.event, timer.to_state) == ("system", "publish", "published")
    metric = entries[-1]
    assert metric.kind == "metric"
    assert metric.detail["metric"] == "hit_rate"
    assert metric.detail["value"] == 0.1
    assert len(metric.detail["fingerprint"]) == 64
    assert engine.fire_due_deadlines().deadlines_fired == 0


def test_sla_escalates_only_in_the_same_visit(engine: Any, clock: Any) -> None:
    case = engine.start("review", {"title": "Hello"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    clock.advance(days=1)
    engine.fire(case.id, "cancel", actor="ed")
    clock.advance(days=2)
    assert engine.fire_due_deadlines().deadlines_fired == 0
    other = engine.start("review", {"title": "Late"}, actor="ann")
    engine.fire(other.id, "submit", actor="ann")
    clock.advance(days=2, minutes=1)
    assert engine.fire_due_deadlines().deadlines_fired == 1
    messages = outbox_messages(engine, other.id)
    assert ("director", "Late is overdue") in messages
    # re-entering review armed a new SLA for the new visit
    [deadline] = engine.status(other.id).deadlines
    assert deadline.event == "escalate"


def test_notify_renders_templates_into_the_outbox(engine: Any) -> None:
    case = engine.start("review", {"title": "双十一 sale"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    [row] = engine.outbox(case_id=case.id)
    assert row.channel == "chat"
    assert row.to == "editor"
    assert row.status == "pending"
    assert row.message == "「双十一 sale」 needs review by ann"
    assert len(row.dedupe_key) == 32


def test_rules_are_edge_triggered_and_once(engine: Any) -> None:
    case = engine.start("review", {"title": "Budget"}, actor="ann")
    for budget in ["2000", "3000", "500", "2500"]:
        engine.set(case.id, {"budget": budget}, actor="ann")
    budget_alerts = [m for _to, m in outbox_messages(engine, case.id) if "budget" in m]
    assert budget_alerts == ["Budget: budget 2000.00", "Budget: budget 2500.00"]
    for score in [95, 10, 99]:
        engine.set(case.id, {"score": score}, actor="ann")
    assert [m for _to, m in outbox_messages(engine, case.id)].count("high score") == 1


def test_fire_action_runs_a_follow_up_event(engine: Any) -> None:
    case = engine.start("review", {"title": "Rush", "hits": 1, "views": 4}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    result = engine.fire(case.id, "rush", actor="pat")
    assert result.case.state == "done"
    assert result.case.closed
    last_kinds = [k for k, _e, _s in kinds(engine, case.id)][-3:]
    assert last_kinds == ["transition", "metric", "transition"]


def test_refused_follow_up_is_an_incident_not_fatal(engine: Any) -> None:
    case = engine.start("review", {"title": "Held"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    engine.set(case.id, {"claims": True}, actor="ed")
    result = engine.fire(case.id, "retry", actor="ed")  # do: [fire: submit], as ed
    assert result.case.state == "review"
    assert engine.history(case.id)[-1].event == "retry"
    (incident,) = engine.incidents(case_id=case.id)
    assert (incident.kind, incident.target, incident.actor) == ("fire", "submit", "ed")
    assert incident.status == "retrying"
    assert "event 'submit' is not available in state 'review'" in incident.error
    assert engine.status(case.id).incidents == [incident]


def test_closed_case_refuses_events(engine: Any) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "cancel", actor="ed")
    with pytest.raises(Refused, match="closed"):
        engine.fire(case.id, "submit", actor="ann")
    with pytest.raises(Refused, match="closed"):
        engine.set(case.id, {"title": "y"}, actor="ann")


def test_dry_run_writes_nothing(engine: Any) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    before = counts(engine)
    result = engine.fire(case.id, "submit", actor="ann", dry_run=True)
    assert result.to_json()["outcome"] == "dry_run"
    assert result.would["to"] == "review"
    assert any("notify" in a for a in result.would["actions"])
    assert counts(engine) == before
    with pytest.raises(NotPermitted):
        engine.fire(case.id, "submit", actor="ed", dry_run=True)


def test_idempotency_keys(engine: Any) -> None:
    first = engine.start("review", {"title": "k"}, actor="ann", key="start-1")
    again = engine.start("review", {"title": "k"}, actor="ann", key="start-1")
    assert again.id == first.id
    with pytest.raises(Refused, match="different input"):
        engine.start("review", {"title": "other"}, actor="ann", key="start-1")
    fired = engine.fire(first.id, "submit", actor="ann", key="fire-1")
    replay = engine.fire(first.id, "submit", actor="ann", key="fire-1")
    assert (fired.outcome, replay.outcome) == ("transitioned", "replayed")
    assert [k for k, _e, _s in kinds(engine, first.id)] == ["start", "transition"]
    with pytest.raises(Refused, match="different input"):
        engine.fire(first.id, "approve", actor="ed", key="fire-1")


def test_case_id_prefixes(engine: Any) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    assert engine.get(case.id[:6]).id == case.id
    with pytest.raises(Usage, match="too short"):
        engine.get(case.id[:5])
    for bad in ["zzzzzzzz", "../../etc", "1' OR '1'='1", "0" * 33]:
        with pytest.raises(NotFound):
            engine.get(bad)


def test_status_lists_every_event_with_reasons(engine: Any) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    status = engine.status(case.id, actor="ann")
    events = {e.event: e for e in status.events}
    assert events["submit"].allowed
    assert not events["approve"].allowed
    assert events["approve"].reasons == ["not available in state 'draft'"]
    assert not events["cancel"].allowed
    assert "needs one of director, editor" in events["cancel"].reasons[0]
    as_json = status.to_json()
    assert set(as_json) >= {
        "id",
        "workflow",
        "version",
        "state",
        "data",
        "metrics",
        "created_by",
        "created_at",
        "updated_at",
        "closed",
        "deadlines",
        "events",
    }


def test_inbox_shows_cases_the_actor_can_move(engine: Any) -> None:
    mine = engine.start("review", {"title": "a"}, actor="ann")
    other = engine.start("review", {"title": "b"}, actor="ann")
    engine.fire(other.id, "submit", actor="ann")
    assert [c.id for c in engine.inbox(actor="ann")] == [mine.id]
    assert {c.id for c in engine.inbox(actor="eve")} == {mine.id, other.id}
    assert engine.inbox(actor="nobody") == []


def _bypass_history_guard(conn: Any) -> None:
    """Tamper like a superuser would: PostgreSQL's append-only triggers off for this transaction."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


def test_history_chain_verifies_and_detects_tampering(engine: Any) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    checked, problems = engine.audit_verify()
    assert (checked, problems) == (1, [])
    with engine.db.write() as conn:
        _bypass_history_guard(conn)
        conn.execute(
            update(t.history)
            .where(t.history.c.case_id == case.id, t.history.c.seq == 2)
            .values(actor="mallory")
        )
    _, problems = engine.audit_verify()
    assert [(p.case, p.seq) for p in problems] == [(case.id, 2)]


def test_deleted_history_entry_is_detected(engine: Any) -> None:
    from sqlalchemy import delete

    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    with engine.db.write() as conn:
        _bypass_history_guard(conn)
        conn.execute(delete(t.history).where(t.history.c.case_id == case.id, t.history.c.seq == 3))
    _, problems = engine.audit_verify()
    assert [(p.case, p.seq) for p in problems] == [(case.id, 3)]


def test_changed_definition_without_version_bump_is_refused(
    engine: Any, workflows_dir: Path
) -> None:
    old = engine.start("review", {"title": "v1"}, actor="ann")
    path = workflows_dir / "review.yaml"
    path.write_text(path.read_text().replace("title: 审核 Review", "title: 审核 Review v2"))
    fresh = type(engine)(settings=engine.settings, clock=engine.clock)
    with pytest.raises(Invalid, match="bump 'version'"):
        fresh.start("review", {"title": "x"}, actor="ann")
    path.write_text(path.read_text().replace("version: 1", "version: 2"))
    bumped = type(engine)(settings=engine.settings, clock=engine.clock)
    new = bumped.start("review", {"title": "v2"}, actor="ann")
    assert (new.version, bumped.get(old.id).version) == (2, 1)
    assert bumped.fire(old.id, "submit", actor="ann").case.version == 1
    fresh.close()
    bumped.close()


def test_plugin_refusal_is_audited_as_denied(make_engine: Any) -> None:
    from opsflow.hookspecs import hookimpl
    from opsflow.plugins import load_plugins

    class Freeze:
        @hookimpl
        def before_transition(self, case: Any, transition: Any, actor: Any) -> str | None:
            return "change freeze" if transition.event == "approve" else None

    plugins = load_plugins()
    plugins.add(Freeze(), "freeze")
    engine = make_engine(plugins=plugins)
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    with pytest.raises(Refused) as info:
        engine.fire(case.id, "approve", actor="ed")
    assert "change freeze" in info.value.reasons
    last = engine.history(case.id)[-1]
    assert last.kind == "denied"
    assert last.event == "approve"
    assert engine.get(case.id).state == "review"
    assert engine.audit_verify()[1] == []


def test_outbox_delivery_through_the_file_notifier(engine: Any, tmp_path: Path) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    report = engine.deliver_outbox()
    assert report.delivered == 1
    lines = [json.loads(x) for x in (tmp_path / "chat.jsonl").read_text().splitlines()]
    assert lines[0]["to"] == "editor"
    assert lines[0]["case"] == case.id
    assert engine.outbox(case_id=case.id)[0].status == "delivered"
    assert engine.deliver_outbox().delivered == 0


def test_unconfigured_channel_is_retried_then_failed(make_engine: Any, clock: Any) -> None:
    engine = make_engine()
    engine.settings.channels = {}
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    report = engine.deliver_outbox()
    assert report.retried == 1
    [row] = engine.outbox(case_id=case.id)
    assert row.attempts == 1
    assert "not configured" in (row.last_error or "")
    for _ in range(12):
        clock.advance(hours=7)
        engine.deliver_outbox()
    [row] = engine.outbox(case_id=case.id, failed=True)
    assert row.status == "failed"


def test_cases_filters(engine: Any) -> None:
    a = engine.start("review", {"title": "a"}, actor="ann")
    b = engine.start("review", {"title": "b"}, actor="ann")
    engine.fire(b.id, "cancel", actor="ed")
    assert {c.id for c in engine.cases(state="draft")} == {a.id}
    assert {c.id for c in engine.cases(open=False)} == {b.id}
    assert {c.id for c in engine.cases(workflow="review")} == {a.id, b.id}
    assert len(engine.cases(limit=1)) == 1


def test_guard_failure_of_a_permitted_candidate_is_refused_not_forbidden(
    make_engine: Any, workflows_dir: Path
) -> None:
    (workflows_dir / "route.yaml").write_text(
        "workflow: route\nversion: 1\nroles: [editor, legal]\n"
        "fields: {x: {type: boolean, default: false}, note: {type: string}}\n"
        "states: {s: {initial: true}, a: {final: true}, b: {final: true}}\n"
        "transitions:\n"
        "  - {event: approve, from: s, to: a, roles: [editor], when: x}\n"
        "  - {event: approve, from: s, to: b, roles: [legal]}\n"
        "  - {event: sign, from: s, to: a, requires: [note], not_by: [approve]}\n",
        encoding="utf-8",
    )
    engine = make_engine()
    case = engine.start("route", {}, actor="ed")
    with pytest.raises(Refused) as info:
        engine.fire(case.id, "approve", actor="ed")
    assert info.value.reasons == [
        "approve → a: when: 'x' is false",
        "approve → b: roles: needs one of legal (ed has editor)",
    ]
    with pytest.raises(NotPermitted):
        engine.fire(case.id, "approve", actor="ann")
    with pytest.raises(Refused, match="refused"):
        engine.fire(case.id, "sign", actor="ed")


def test_automatic_events_are_named_as_such(engine: Any) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    with pytest.raises(Refused, match="automatic"):
        engine.fire(case.id, "pull", actor="ed")


def test_fire_result_case_has_deadlines_and_events(engine: Any) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    result = engine.fire(case.id, "submit", actor="ann")
    doc = result.to_json()["case"]
    assert [d["event"] for d in doc["deadlines"]] == ["escalate"]
    events = {e["event"]: e for e in doc["events"]}
    assert events["approve"]["allowed"] is False
    assert events["approve"]["reasons"] == [
        "approve → legal: roles: needs one of editor (ann has author)",
        "approve → scheduled: roles: needs one of editor (ann has author)",
    ]


def test_dry_run_lists_exit_transition_and_entry_actions_rendered(engine: Any) -> None:
    case = engine.start("review", {"title": "Ad", "kind": "ad"}, actor="ann")
    result = engine.fire(case.id, "submit", actor="ann", dry_run=True)
    [notify] = result.would["actions"]
    assert notify["notify"]["message"] == "「Ad」 needs review by ann"
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    engine.fire(case.id, "approve", actor="lou")
    final = engine.fire(case.id, "approve", actor="bea", dry_run=True)
    assert final.would["to"] == "scheduled"
    assert final.would["actions"] == [{"set": {"legal_ok": "true"}}]
    assert final.would["approvals"] == {"have": 2, "need": 2}


def test_inbox_keeps_timer_events_that_name_roles(engine: Any) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    assert [c.id for c in engine.inbox(actor="pat")] == [case.id]
    assert [e.event for e in engine.inbox(actor="pat")[0].events] == ["publish", "rush"]


def test_cases_of_an_unknown_workflow_is_not_found(engine: Any) -> None:
    with pytest.raises(NotFound, match="no workflow 'nosuch'"):
        engine.cases(workflow="nosuch")


def test_actor_names_and_keys_are_bounded_in_the_library_too(engine: Any) -> None:
    with pytest.raises(Usage, match="actor name"):
        engine.start("review", {"title": "x"}, actor="a" * 201)
    with pytest.raises(Usage, match="idempotency key"):
        engine.start("review", {"title": "x"}, actor="ann", key="k" * 201)
    assert engine.cases() == []


def test_who_fired_an_event_is_recorded_once_each_and_only_when_committed(
    make_engine: Any, workflows_dir: Path
) -> None:
    """`not_by` reads the case's actors: one name per actor in order, a dry run adds none."""
    (workflows_dir / "poke.yaml").write_text(
        "workflow: poke\nversion: 1\n"
        "states: {s: {initial: true}, done: {final: true}}\n"
        "transitions:\n"
        "  - {event: poke, from: s, to: s}\n"
        "  - {event: sign, from: s, to: done, not_by: [poke]}\n",
        encoding="utf-8",
    )
    engine = make_engine()
    case = engine.start("poke", {}, actor="ann")

    def stored_actors() -> Any:
        with engine.db.read() as conn:
            row = conn.execute(select(t.cases.c.actors).where(t.cases.c.id == case.id)).one()
        return row[0]

    engine.fire(case.id, "poke", actor="ed")
    engine.fire(case.id, "poke", actor="ed")
    engine.fire(case.id, "poke", actor="ann")
    assert stored_actors() == {"poke": ["ed", "ann"]}
    engine.fire(case.id, "poke", actor="dir", dry_run=True)
    assert stored_actors() == {"poke": ["ed", "ann"]}
    for who in ("ed", "ann"):
        with pytest.raises(NotPermitted):
            engine.fire(case.id, "sign", actor=who)
    assert engine.fire(case.id, "sign", actor="dir").case.state == "done"
    assert stored_actors() == {"poke": ["ed", "ann"], "sign": ["dir"]}


def test_a_guard_registered_after_fires_began_is_asked(make_engine: Any) -> None:
    """Whether any plugin guards transitions is remembered per registration, never stale."""
    from opsflow.hookspecs import hookimpl
    from opsflow.plugins import load_plugins

    class Freeze:
        @hookimpl
        def before_transition(self, case: Any, transition: Any, actor: Any) -> str | None:
            return "change freeze"

    plugins = load_plugins()
    engine = make_engine(plugins=plugins)
    case = engine.start("review", {"title": "x"}, actor="ann")
    assert not plugins.has_before_transition
    plugins.pm.register(Freeze(), name="freeze")  # straight on the manager, no refresh
    with pytest.raises(Refused, match="refused by a plugin"):
        engine.fire(case.id, "submit", actor="ann")
    plugins.pm.unregister(name="freeze")
    assert engine.fire(case.id, "submit", actor="ann").case.state == "review"
