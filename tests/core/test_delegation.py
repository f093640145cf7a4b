"""The pure side of delegation: who covers on a day, the actor's roles, notification
recipients."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from opsflow.core.decide import Actor
from opsflow.core.delegation import actor_for, covering_on, project_day, recipients
from opsflow.people import Delegation, Person

TEAM = {"lin": ["legal"], "dan": ["editor"], "mei": ["author"], "zoe": ["legal"]}
PEOPLE = {
    "lin": Person(delegate=Delegation("dan", date(2026, 12, 20), date(2027, 1, 3))),
    "zoe": Person(delegate=Delegation("dan")),
    "mei": Person(display_name="Mei"),
}


def test_who_covers_on_a_day() -> None:
    assert covering_on(PEOPLE, date(2026, 12, 19)) == {"dan": ("zoe",)}
    assert covering_on(PEOPLE, date(2026, 12, 20)) == {"dan": ("lin", "zoe")}
    assert covering_on(PEOPLE, date(2027, 1, 3)) == {"dan": ("lin", "zoe")}
    assert covering_on(PEOPLE, date(2027, 1, 4)) == {"dan": ("zoe",)}


def test_the_day_is_the_project_zones() -> None:
    late = datetime(2026, 12, 19, 16, 30, tzinfo=UTC)
    assert project_day(late, ZoneInfo("UTC")) == date(2026, 12, 19)
    assert project_day(late, ZoneInfo("Asia/Shanghai")) == date(2026, 12, 20)


def test_the_actor_holds_their_roles_and_those_they_cover_for() -> None:
    dan = actor_for("dan", TEAM, {"dan": ("lin",)})
    assert dan.roles == {"editor", "legal"}
    assert dan.own_roles == {"editor"}
    assert dan.identities == {"dan", "lin"}
    assert dan.on_behalf_of(frozenset({"legal"})) == "lin"
    assert dan.on_behalf_of(frozenset({"author"})) is None
    assert actor_for("dan", TEAM, {}) == Actor("dan", frozenset({"editor"}))
    assert actor_for("system", TEAM, {"system": ("lin",)}) == Actor("system")


def test_recipients_resolve_the_assignee_and_add_the_delegates() -> None:
    nobody: dict[str, tuple[str, ...]] = {}
    assert recipients("legal", None, TEAM, nobody) == "legal"  # as written
    assert recipients("assignee", "mei", TEAM, nobody) == "mei"
    assert recipients("assignee", None, TEAM, nobody) is None  # no one: skipped
    assert recipients("assignee; ops@example.com", None, TEAM, nobody) == "ops@example.com"
    covering = {"dan": ("lin",)}
    assert recipients("legal", None, TEAM, covering) == "legal, dan"
    assert recipients("lin", None, TEAM, covering) == "lin, dan"
    assert recipients("assignee", "lin", TEAM, covering) == "lin, dan"
    assert recipients("mei,editor", None, TEAM, covering) == "mei,editor"  # lin not named
    assert recipients("legal, dan", None, TEAM, covering) == "legal, dan"  # dan named already


VETO = """\
workflow: memo
version: 1
roles: [clerk, legal]
states:
  review: {initial: true}
  done: {final: true}
transitions:
  - {event: note, from: review}
  - {event: sign, from: review, roles: [clerk]}
  - {event: approve, from: review, to: done, approvals: {required: 2, roles: [legal], veto: true}}
"""


def test_on_behalf_of_only_when_the_delegators_roles_were_needed() -> None:
    from opsflow.core.compiled import compile_workflow
    from opsflow.core.delegation import behalf
    from opsflow.language.loader import LoadContext, load_workflow_text

    loaded, problems = load_workflow_text(VETO, "memo.yaml", LoadContext())
    assert loaded is not None, problems
    wf = compile_workflow(loaded)
    bob = actor_for("bob", {"bob": ["clerk"], "alice": ["legal"]}, {"bob": ("alice",)})
    by_event = {t.event: t for t in wf.table[("review", "note")] + wf.table[("review", "sign")]}
    by_event["approve"] = wf.table[("review", "approve")][0]
    assert behalf(wf, "review", by_event["note"], bob) is None  # open to anyone
    assert behalf(wf, "review", by_event["sign"], bob) is None  # his own role suffices
    assert behalf(wf, "review", by_event["approve"], bob) == "alice"  # alice's legal role
