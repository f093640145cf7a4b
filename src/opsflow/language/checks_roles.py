"""Checks of who may act and who is told: reserved roles, role holders, recipients.

``system`` is opsflow itself (timers, automatic steps): a transition may name it in its
``roles`` without declaring it, and a workflow may never declare it. A notification goes
to a role, a team member, ``assignee`` or an address (an e-mail address, a URL).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from opsflow.language.structure import value_at
from opsflow.language.yamlio import YamlPath
from opsflow.suggest import did_you_mean

if TYPE_CHECKING:
    from opsflow.language.check_site import CheckSite

SYSTEM_ROLE = "system"
ASSIGNEE = "assignee"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$")
_PHONE = re.compile(r"^\+\d[\d -]{5,}$")
_SEPARATORS = re.compile(r"[,;]")


def is_address(text: str) -> bool:
    """Whether ``text`` is an e-mail address, a URL or an international phone number."""
    return bool(_EMAIL.match(text) or _URL.match(text) or _PHONE.match(text))


def declared_roles(checker: CheckSite) -> list[tuple[YamlPath, str]]:
    """Each role the workflow's ``roles`` declares, with its place in the file."""
    raw = value_at(checker.doc.data, ("roles",))
    roles = [raw] if isinstance(raw, str) else raw
    if not isinstance(roles, list):
        return []
    return [
        (("roles",) if isinstance(raw, str) else ("roles", i), role)
        for i, role in enumerate(roles)
        if isinstance(role, str)
    ]


def check_roles(checker: CheckSite) -> None:
    """``system`` is never declared; with a team, every declared role has a holder."""
    team = checker.ctx.team
    held = set() if team is None else {role for _, roles in team for role in roles}
    for where, role in declared_roles(checker):
        if role == SYSTEM_ROLE:
            checker.report(
                where,
                "role 'system' is reserved for opsflow itself (timers and "
                "automatic steps): do not declare it; a transition may name it in "
                "its roles as it is",
            )
        elif team is not None and role not in held:
            checker.report(
                where,
                f"no one in the team holds role '{role}'; give it to someone "
                "in the team section of opsflow.yaml",
                "warning",
            )


def check_deadline_roles(checker: CheckSite) -> None:
    """Warn when an event a deadline fires may be fired by anyone (no ``roles``)."""
    fired: dict[str, list[tuple[str, str]]] = {}
    for state, state_spec in checker.parts.states.items():
        for kind, deadline in (("sla", state_spec.sla), ("timer", state_spec.timer)):
            if deadline is not None:
                fired.setdefault(deadline.fire, []).append((state, kind))
    for index, spec in checker.parts.transitions:
        deadlines = fired.get(spec.event)
        if not deadlines or spec.roles is not None or spec.auto:
            continue
        state, kind = next(
            ((s, k) for s, k in deadlines if spec.from_any or s in spec.from_), deadlines[0]
        )
        checker.report(
            ("transitions", index, "event"),
            f"transition '{spec.event}' has no roles, so anyone can fire it, and "
            f"the {kind} of state '{state}' fires it; add roles: [system]",
            "warning",
        )


def check_recipients(checker: CheckSite, where: YamlPath, to: str, what: str) -> None:
    """Each recipient of ``to`` is a role, a team member, ``assignee`` or an address."""
    roles = checker.parts.roles
    if roles is None:
        return
    members = {person for person, _ in checker.ctx.team or ()}
    known = roles | members | {ASSIGNEE}
    for name in (part.strip() for part in _SEPARATORS.split(to)):
        if not name or name in known or is_address(name):
            continue
        team = (
            "a team member"
            if checker.ctx.team is not None
            else ("a team member (no team is configured)")
        )
        checker.report(
            where,
            f"{what} notifies '{name}', which is neither a role, {team}, "
            "'assignee' nor an address (an e-mail address or a URL)" + did_you_mean(name, known),
        )


def check_readers(checker: CheckSite) -> None:
    """``readers`` names declared roles; with a team, each one has a holder (a warning)."""
    raw = value_at(checker.doc.data, ("readers",))
    if not isinstance(raw, list):
        return
    declared = checker.parts.roles
    team = checker.ctx.team
    held = set() if team is None else {role for _, roles in team for role in roles}
    for index, role in enumerate(raw):
        if not isinstance(role, str):
            continue
        where: YamlPath = ("readers", index)
        if declared is not None and role not in declared:
            checker.report(
                where, f"readers name unknown role '{role}'" + did_you_mean(role, declared)
            )
        elif team is not None and role not in held:
            checker.report(
                where,
                f"readers name role '{role}', which no one in the team holds: only admins "
                "and the people who acted on a case will read this workflow's cases",
                "warning",
            )
