"""Delegation: while alice is away, bob acts with her roles as well as his own.

A team entry's ``delegate: {to, from, until}`` is **active** on the days from ``from`` to
``until``, both included (either may be left open), counted in the project's time zone on
the engine's clock. While it is active:

- the delegate's roles are their own plus the delegator's (:func:`actor_for`; every role
  lookup of a person goes through :func:`roles_at`);
- a step taken with the delegator's roles only records ``on_behalf_of`` (:func:`behalf`);
- for four-eyes (``not_by``) and approvals the delegate counts as the delegator too
  (:attr:`Actor.identities <opsflow.core.decide.Actor.identities>`);
- notifications to the delegator (by name, as the assignee or through a role they hold)
  also reach the delegate (:func:`recipients`).

Delegation does not chain: a delegate covering alice gets alice's own roles, not those of
whoever alice covers for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from opsflow.core.compiled import CompiledTransition, CompiledWorkflow
from opsflow.core.decide import SYSTEM, Actor
from opsflow.people import Person

# delegate -> the delegators (sorted) whose delegation to them is active
Covering = Mapping[str, tuple[str, ...]]
ASSIGNEE = "assignee"
_SEPARATORS = re.compile(r"[,;]")


def project_day(now: datetime, zone: tzinfo) -> date:
    """The calendar day ``now`` falls on in the project's time zone."""
    return now.astimezone(zone).date()


def covering_on(people: Mapping[str, Person], day: date) -> dict[str, tuple[str, ...]]:
    """Who stands in for whom on ``day``: delegate -> delegators, each list sorted."""
    found: dict[str, list[str]] = {}
    for person, entry in people.items():
        delegation = entry.delegate
        if delegation is None:
            continue
        if delegation.start is not None and day < delegation.start:
            continue
        if delegation.until is not None and day > delegation.until:
            continue
        found.setdefault(delegation.to, []).append(person)
    return {delegate: tuple(sorted(names)) for delegate, names in found.items()}


def covering_at(settings: Any, now: datetime) -> dict[str, tuple[str, ...]]:
    """:func:`covering_on` for the project's settings (``opsflow.config.Settings``) at ``now``."""
    people = getattr(settings, "people", None) or {}
    if not people:
        return {}
    return covering_on(people, project_day(now, settings.zone))


def actor_for(name: str, team: Mapping[str, Sequence[str]], covering: Covering) -> Actor:
    """The actor ``name`` with their own roles and those of everyone they stand in for."""
    if name == SYSTEM:
        return Actor(name)
    own = frozenset(team.get(name, ()))
    delegators = covering.get(name, ())
    if not delegators:
        return Actor(name, own)
    stands_in_for = tuple((d, frozenset(team.get(d, ()))) for d in delegators)
    roles = own.union(*(held for _, held in stands_in_for))
    return Actor(name, roles, stands_in_for, own)


def actor_at(settings: Any, name: str, now: datetime) -> Actor:
    """:func:`actor_for` with the project's team and delegations at ``now``."""
    return actor_for(name, settings.team, covering_at(settings, now))


def roles_at(settings: Any, name: str, now: datetime) -> frozenset[str]:
    """A person's roles at ``now``: the team's, plus those of anyone they stand in for."""
    return actor_at(settings, name, now).roles


def behalf(
    wf: CompiledWorkflow, state: str, transition: CompiledTransition, actor: Actor
) -> str | None:
    """Whose delegated roles let ``actor`` take ``transition`` (None: their own sufficed)."""
    if not actor.stands_in_for:
        return None
    needed = transition.approver_roles if transition.approvals is not None else transition.roles
    if needed is None or actor.own_roles & needed:
        return None  # open to anyone, or the actor's own roles suffice: no one's were needed
    found = actor.on_behalf_of(needed)
    if found is not None:
        return found
    for vote in wf.veto_events.get(state, ()):  # allowed some other way: a veto approver's
        roles = vote.approver_roles
        if vote.event != transition.event and roles and not actor.own_roles & roles:
            return actor.on_behalf_of(roles)
    return None


def on_behalf(
    wf: CompiledWorkflow, state: str, transition: CompiledTransition, actor: Actor
) -> dict[str, str]:
    """``{"on_behalf_of": NAME}`` for a history entry's detail, or nothing."""
    found = behalf(wf, state, transition, actor)
    return {} if found is None else {"on_behalf_of": found}


def recipients(
    to: str, assignee: str | None, team: Mapping[str, Sequence[str]], covering: Covering
) -> str | None:
    """The rendered ``to`` of a notification with ``assignee`` resolved and the delegates of
    the people (or role holders) it names added; None when it names no one at all."""
    names = [part.strip() for part in _SEPARATORS.split(to) if part.strip()]
    if ASSIGNEE not in names and not covering:
        return to
    resolved: list[str] = []
    for name in names:
        if name != ASSIGNEE:
            resolved.append(name)
        elif assignee is not None:
            resolved.append(assignee)
    if not resolved:
        return None
    delegates = [
        delegate
        for delegate, delegators in sorted(covering.items())
        for delegator in delegators
        if any(_reaches(name, delegator, team) for name in resolved)
        and not any(_reaches(name, delegate, team) for name in resolved)
    ]
    if not delegates and ASSIGNEE not in names:
        return to
    return ", ".join(dict.fromkeys([*resolved, *delegates]))


def _reaches(name: str, person: str, team: Mapping[str, Sequence[str]]) -> bool:
    """Whether a notification to ``name`` (a person or a role) reaches ``person``."""
    return name == person or name in team.get(person, ())
