"""Checks of ``assign:`` on states: the role it rotates among, the field naming the person.

``assign: {role: editor, policy: round_robin}`` names a role the workflow declares (an
error otherwise); with a team known, a role no one holds is a warning (the case then
enters the state with nobody assigned). ``assign: {field: reviewer}`` names a field of
the workflow that holds a person's name: a ``string``, ``text`` or ``enum`` field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsflow.language.yamlio import YamlPath
from opsflow.suggest import did_you_mean

if TYPE_CHECKING:
    from opsflow.language.check_site import CheckSite

PERSON_FIELD_TYPES = ("string", "text", "enum")


def check_assignments(checker: CheckSite) -> None:
    """Each state's ``assign``: a declared (and held) role, or a field naming a person."""
    for state, spec in checker.parts.states.items():
        assign = spec.assign
        if assign is None:
            continue
        base: YamlPath = ("states", state, "assign")
        if assign.role is not None:
            _check_role(checker, (*base, "role"), state, assign.role)
        if assign.field is not None:
            _check_field(checker, (*base, "field"), state, assign.field)


def _check_role(checker: CheckSite, where: YamlPath, state: str, role: str) -> None:
    declared = checker.parts.roles
    if declared is not None and role not in declared:
        checker.report(
            where,
            f"state '{state}' assigns among unknown role '{role}'" + did_you_mean(role, declared),
        )
        return
    team = checker.ctx.team
    if team is not None and not any(role in roles for _, roles in team):
        checker.report(
            where,
            f"state '{state}' assigns among role '{role}', which no one in the team "
            "holds; cases will enter it with nobody assigned",
            "warning",
        )


def _check_field(checker: CheckSite, where: YamlPath, state: str, name: str) -> None:
    known = checker.parts.field_names
    if known is not None and name not in known:
        checker.report(
            where,
            f"state '{state}' assigns the person in unknown field '{name}'"
            + did_you_mean(name, known),
        )
        return
    spec = checker.parts.fields.get(name)
    if spec is not None and spec.type not in PERSON_FIELD_TYPES:
        checker.report(
            where,
            f"state '{state}' assigns the person in field '{name}', which is "
            f"{spec.type}; it must be a string, text or enum field holding a team member's name",
        )
