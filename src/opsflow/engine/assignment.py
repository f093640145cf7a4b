"""Work assignment: who a case is assigned to, changed only by audited steps.

``assign``, ``unassign`` and ``claim`` are each one step through the unit of work: the case
row is locked, the rules below are checked, and an ``assignment`` history entry
(``detail: {from, to}``) is written with the new assignee, bumping the row version.

The rules:

- the **assignee** must be a team member (when a team is configured) holding a role that
  acts somewhere in the case's workflow: a role named by one of its transitions, approvers
  included (a workflow that names no roles accepts any team member);
- **who may assign or unassign**: the current assignee, admins, and anyone holding a role
  named by an event of the case's current state (events that name no roles, such as those
  only a deadline fires, do not count); without a team, anyone. Roles are a person's own
  and, while a delegation to them is active, those of whom they stand in for;
- **claim** assigns the actor, who must be allowed to assign; when someone else holds the
  case it is a conflict, unless ``force`` is given by an admin (a non-admin ``force`` is
  not permitted);
- a closed case cannot be assigned; assigning the current assignee again writes nothing;
- a case the actor may not read answers NotFound, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from opsflow.core.compiled import CompiledWorkflow
from opsflow.core.decide import SYSTEM
from opsflow.core.delegation import roles_at
from opsflow.core.results import Case
from opsflow.engine.unit import CaseTransaction, check_version
from opsflow.errors import Conflict, Invalid, NotPermitted, Refused
from opsflow.limits import MAX_NAME


@dataclass(frozen=True)
class AssignRequest:
    """One person's change of a case's assignee, as asked."""

    case_id: str
    actor: str
    admin: bool  # whether the actor is an admin (engine.is_admin)
    name: str | None = None  # the new assignee (None: nobody); ignored by a claim
    claim: bool = False
    force: bool = False
    expected_version: int | None = None  # If-Match: the row version the caller read
    comment: str | None = None


def state_roles(wf: CompiledWorkflow, state: str) -> frozenset[str]:
    """The roles named by the events a person can fire out of ``state`` (approvers too)."""
    roles: set[str] = set()
    for (source, _event), candidates in wf.table.items():
        if source == state:
            for transition in candidates:
                roles.update(transition.roles or ())
                roles.update(transition.approver_roles or ())
    return frozenset(roles)


def workflow_roles(wf: CompiledWorkflow) -> frozenset[str]:
    """The roles named by any of the workflow's transitions (approvers too)."""
    roles: set[str] = set()
    for candidates in wf.table.values():
        for transition in candidates:
            roles.update(transition.roles or ())
            roles.update(transition.approver_roles or ())
    return frozenset(roles)


def check_assignee(
    wf: CompiledWorkflow,
    team: Mapping[str, Sequence[str]],
    name: str,
    roles_of: Callable[[str], frozenset[str]],
) -> None:
    """Refuse an assignee who is not a team member able to act in ``wf`` (Invalid).

    ``roles_of``: a person's roles now (their own and those of whom they stand in for)."""
    if not name or len(name) > MAX_NAME or not name.isprintable() or name == SYSTEM:
        raise Invalid(f"{name[:40]!r} cannot be assigned", ["name a team member"])
    if not team:
        return  # no team configured: any name (the CLI trusts the local account)
    if name not in team:
        raise Invalid(
            f"'{name}' is not in this project's team", ["only team members can be assigned"]
        )
    needed = workflow_roles(wf)
    if needed and not needed & roles_of(name):
        raise Invalid(
            f"'{name}' holds no role that acts in workflow '{wf.id}'",
            [f"roles that act in it: {', '.join(sorted(needed))}"],
        )


def check_may_assign(
    wf: CompiledWorkflow,
    team: Mapping[str, Collection[str]],
    state: str,
    request: AssignRequest,
    holder: str | None,
    roles_of: Callable[[str], frozenset[str]],
) -> None:
    """Refuse an actor who may not change the assignee of a case in ``state`` (NotPermitted)."""
    actor = request.actor
    if not team or request.admin or actor == holder:
        return
    roles = state_roles(wf, state)
    if roles & roles_of(actor):
        return
    who = ", ".join(sorted(roles)) or "no role"
    raise NotPermitted(
        f"'{actor}' may not change who this case is assigned to",
        [f"the assignee, admins, or a holder of a role of state '{state}' ({who}) may"],
    )


def change_assignee(tx: CaseTransaction, request: AssignRequest) -> Case:
    """Assign, unassign or claim a case as one audited step (see the module's rules)."""
    step = tx.open(request.case_id, reader=request.actor)  # unreadable: as if missing
    case, wf, team = step.case, step.wf, tx.shop.settings.team
    check_version(case, request.expected_version)
    if case.closed:
        raise Refused(f"case is closed (state '{case.state}' is final); it cannot be assigned")
    holder = case.assignee
    forced = False
    if request.claim:
        target: str | None = request.actor
        if holder is not None and holder != request.actor:
            if not request.force:
                raise Conflict(
                    f"case {case.id} is assigned to '{holder}'",
                    ["ask them, or an admin may take it over with --force"],
                )
            if not request.admin:
                raise NotPermitted(
                    "only an admin may force a claim", [f"the case is assigned to '{holder}'"]
                )
            forced = True
    else:
        target = request.name
    roles_of = partial(roles_at, tx.shop.settings, now=tx.now)
    check_may_assign(wf, team, case.state, request, holder, roles_of)
    if target is not None:
        check_assignee(wf, team, target, roles_of)
    if target == holder:
        return tx.view(step, request.actor)  # already so: nothing to write
    extra = {"forced": True} if forced else {}
    step.change_assignee(target, request.actor, request.comment, **extra)
    tx.flush(step)
    return tx.view(step, request.actor)
