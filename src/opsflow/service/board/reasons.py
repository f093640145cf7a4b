"""Why an event is blocked, as a kind the case page words in the viewer's language.

The engine explains a refusal in English lines (``approve → legal: four-eyes: ed fired
'submit' on this case``, see ``core.decide``); this module only reads those lines back into
a kind and its parts (who, which roles, which fields), so the template can say them in
Chinese or English with the workflow's own titles. A line it does not recognise stays as
the engine wrote it (kind ``other``): nothing is ever hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

_CANDIDATE = re.compile(r"^(?P<event>\S+) (?:→ (?P<to>\S+)|\(internal\)): (?P<rest>.*)$", re.S)
_PATTERNS: Sequence[tuple[str, re.Pattern[str]]] = [
    ("system", re.compile(r"^roles: only opsflow itself")),
    ("roles", re.compile(r"^roles: needs one of (?P<roles>.+) \((?P<who>\S+) has (?P<has>.+)\)$")),
    (
        "approver",
        re.compile(r"^approval: needs one of (?P<roles>.+) \((?P<who>\S+) has (?P<has>.+)\)$"),
    ),
    ("approved", re.compile(r"^approval: (?P<who>.+) has already approved$")),
    ("requires", re.compile(r"^requires: (?P<fields>.+) empty$")),
    ("four_eyes", re.compile(r"^four-eyes: (?P<who>.+) fired '(?P<event>[^']+)' on this case$")),
    ("guard", re.compile(r"^when: '(?P<expr>.*)' is false$", re.S)),
    ("guard_error", re.compile(r"^when: '(?P<expr>.*)' could not be evaluated: (?P<error>.*)$")),
    ("unavailable", re.compile(r"^not available in state '(?P<state>[^']*)'$")),
    ("unavailable", re.compile(r"^no transition on '[^']*' leaves '(?P<state>[^']*)'$")),
    ("closed", re.compile(r"^case is closed \('(?P<state>[^']*)' is final\)$")),
    ("automatic", re.compile(r"^opsflow takes '[^']*' by itself")),
]


@dataclass(frozen=True)
class Reason:
    """One reason an event is blocked: its kind, the parts the template needs, the line."""

    kind: str
    text: str = field(compare=False)  # the engine's line as written (``other``: its reason)
    to: str | None = None  # the target state of the transition it is about
    roles: tuple[str, ...] = ()
    has: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    event: str | None = None
    expr: str | None = None
    error: str | None = None
    said: str | None = None  # an unrecognised reason's words (what tells two apart)


def reason_of(line: str) -> Reason:
    """One engine line as a :class:`Reason`."""
    to = None
    rest = line
    found = _CANDIDATE.match(line)
    if found:
        to, rest = found["to"], found["rest"]
    for kind, pattern in _PATTERNS:
        match = pattern.match(rest)
        if match is None:
            continue
        parts = match.groupdict()
        return Reason(
            kind=kind,
            text=line,
            to=to,
            roles=_names(parts.get("roles")),
            has=() if parts.get("has") in (None, "no roles") else _names(parts.get("has")),
            fields=tuple(re.findall(r"'([^']+)'", parts.get("fields") or "")),
            event=parts.get("event"),
            expr=parts.get("expr"),
            error=parts.get("error"),
        )
    return Reason(kind="other", text=rest, to=to, said=rest)


def reasons_of(lines: Iterable[str]) -> list[Reason]:
    """The lines as reasons, each said once (two transitions often fail alike); a reason
    names its target state only when the transitions of the event fail differently."""
    found = [reason_of(line) for line in lines]
    alike = _once([_without_target(r) for r in found])
    return alike if len(alike) == 1 else _once(found)


def _once(reasons: list[Reason]) -> list[Reason]:
    out: list[Reason] = []
    for reason in reasons:
        if reason not in out:
            out.append(reason)
    return out


def _without_target(reason: Reason) -> Reason:
    return replace(reason, to=None)


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


__all__ = ["Reason", "reason_of", "reasons_of"]
