"""Graph checks of a workflow (SPEC §2.9): initial state, reachability, dead ends, ambiguity.

Rules, exactly:

- exactly one state has ``initial: true``; it may not also be ``final``;
- ``from: "*"`` means every non-final state; a transition's *sources* are its ``from``
  states that exist (or every non-final state for ``"*"``);
- a state is *reachable* when a chain of transitions leads to it from the initial state;
- a non-final state needs a transition to a *different* state (a self-loop or an internal
  transition, one without ``to``, is no way out);
- a final state is left by no transition: naming one in ``from`` is an error (``"*"`` never
  includes finals);
- an ``sla``/``timer`` fires an event that some transition handles from that very state;
- two transitions on the same event that share a source state are *ambiguous* (an error)
  when both are unguarded — no ``when``, no ``requires``, no ``not_by`` — their roles overlap
  (no ``roles`` means everyone) and their ``approvals`` are the same (both none, or equal):
  the first would always win and the second is dead. When only the first is unguarded and
  its roles cover the second's (and it takes no approvals), the second is never taken: a
  warning;
- an ``auto`` transition without ``when`` is taken as soon as its state is entered: a warning
  (an error when it is internal: it would be taken again and again).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from opsflow.language.models import TransitionSpec

if TYPE_CHECKING:
    from opsflow.language.check_site import CheckSite


def _sources(spec: TransitionSpec, order: list[str], finals: set[str]) -> list[str]:
    if spec.from_any:
        return [s for s in order if s not in finals]
    known = set(order)
    return [s for s in spec.from_ if s in known]


def check_graph(checker: CheckSite) -> None:
    """Run the graph checks, when the states (and transitions) all validated."""
    parts = checker.parts
    if not parts.states_complete:
        return
    initials = _initial_and_final_states(checker)
    if not parts.transitions_complete or not initials:
        return
    states = parts.states
    order = list(states)
    finals = {name for name, spec in states.items() if spec.final}
    sources = {index: _sources(spec, order, finals) for index, spec in parts.transitions}
    # A misspelt state name would make the graph look broken everywhere it leads: report
    # the name (the reference checks do) and judge the graph once the names resolve.
    dangling_to = any(
        spec.to is not None and spec.to not in states for _, spec in parts.transitions
    )
    dangling_from = any(
        not spec.from_any and any(state not in states for state in spec.from_)
        for _, spec in parts.transitions
    )
    if not (dangling_to or dangling_from):
        _reachability(checker, initials[0], order, sources)
    if not dangling_from:
        _exits(checker, order, finals, sources)
    else:
        _final_exits(checker, finals)
    _deadlines(checker, sources)
    _timer_re_entries(checker, sources)
    _idle_repeats(checker, sources)
    _ambiguity(checker, sources)
    _automatic_without_when(checker)


def _initial_and_final_states(checker: CheckSite) -> list[str]:
    """Exactly one initial state, not also final, and some final state; the initial ones."""
    states = checker.parts.states
    initials = [name for name, spec in states.items() if spec.initial]
    if states and not initials:
        checker.report(("states",), "no initial state: mark one state with 'initial: true'")
    for extra in initials[1:]:
        checker.report(
            ("states", extra, "initial"),
            f"state '{extra}' is a second initial "
            f"state ('{initials[0]}' is initial too); a workflow has exactly one",
        )
    for name, spec in states.items():
        if spec.initial and spec.final:
            checker.report(("states", name, "final"), f"state '{name}' is both initial and final")
    if states and not any(spec.final for spec in states.values()):
        checker.report(("states",), "no final state: cases of this workflow never close", "warning")
    return initials


def _automatic_without_when(checker: CheckSite) -> None:
    """An automatic transition without 'when' is taken at once (forever, when internal)."""
    for index, transition in checker.parts.transitions:
        if transition.auto and transition.when is None and transition.internal:
            checker.report(
                ("transitions", index, "auto"),
                f"automatic internal transition '{transition.event}' has no 'when': it would "
                "be taken again and again, since it never leaves its state",
            )
        elif transition.auto and transition.when is None and not transition.approvals:
            checker.report(
                ("transitions", index, "auto"),
                f"automatic transition "
                f"'{transition.event}' has no 'when': it is taken as soon as its state "
                "is entered",
                "warning",
            )


def _reachability(
    checker: CheckSite, initial: str, order: list[str], sources: dict[int, list[str]]
) -> None:
    edges: dict[str, set[str]] = {name: set() for name in order}
    for index, spec in checker.parts.transitions:
        if spec.to in edges:
            for source in sources[index]:
                edges[source].add(spec.to)
    seen = {initial}
    queue = deque([initial])
    while queue:
        for target in edges[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    for name in order:
        if name not in seen:
            checker.report(
                ("states", name),
                f"state '{name}' cannot be reached from the initial state '{initial}'",
                key=True,
            )


def _exits(
    checker: CheckSite, order: list[str], finals: set[str], sources: dict[int, list[str]]
) -> None:
    way_out: set[str] = set()
    for index, spec in checker.parts.transitions:
        if spec.to is not None:
            way_out.update(s for s in sources[index] if s != spec.to)
    _final_exits(checker, finals)
    for name in order:
        if name not in finals and name not in way_out:
            checker.report(
                ("states", name),
                f"state '{name}' is not final and has no transition out of it",
                key=True,
            )


def _final_exits(checker: CheckSite, finals: set[str]) -> None:
    for index, spec in checker.parts.transitions:
        if spec.from_any:
            continue
        many = isinstance(_raw(checker, ("transitions", index, "from")), list)
        for position, state in enumerate(spec.from_):
            if state in finals:
                where = (
                    ("transitions", index, "from", position)
                    if many
                    else ("transitions", index, "from")
                )
                checker.report(where, f"transition '{spec.event}' leaves final state '{state}'")


def _deadlines(checker: CheckSite, sources: dict[int, list[str]]) -> None:
    handled: dict[str, set[str]] = {}
    for index, spec in checker.parts.transitions:
        handled.setdefault(spec.event, set()).update(sources[index])
    for name, state in checker.parts.states.items():
        for kind, deadline in (("sla", state.sla), ("timer", state.timer)):
            if deadline is None or deadline.fire not in handled:
                continue  # an unknown event is reported by the reference checks
            if name not in handled[deadline.fire]:
                checker.report(
                    ("states", name, kind, "fire"),
                    f"{kind} of state '{name}' "
                    f"fires '{deadline.fire}', but no transition on "
                    f"'{deadline.fire}' leaves '{name}'",
                )


def _timer_re_entries(checker: CheckSite, sources: dict[int, list[str]]) -> None:
    """Warn when a timer's event, or a repeating SLA's, re-enters the deadline's own state."""
    for index, spec in checker.parts.transitions:
        for name in sources[index]:
            state = checker.parts.states.get(name)
            if state is None or spec.to != name:
                continue
            timer, sla = state.timer, state.sla
            if timer is not None and timer.fire == spec.event:
                kind = "timer"
                again = (
                    f"it fires once per moment of '{timer.at}'"
                    if timer.at
                    else f"it is armed again and fires every {timer.after}"
                )
            elif sla is not None and sla.repeat is not None and sla.fire == spec.event:
                kind, again = "repeating sla", "the sla is counted again from the start"
            else:
                continue
            checker.report(
                ("transitions", index, "to"),
                f"transition '{spec.event}' re-enters state '{name}', whose {kind} fires it: "
                f"each firing leaves '{name}' and enters it again (on_exit and on_enter run, "
                f"approvals and the assignee are cleared) and {again}; if that is not "
                "meant, make it internal: remove 'to'",
                "warning",
            )


def _idle_repeats(checker: CheckSite, sources: dict[int, list[str]]) -> None:
    """Warn of a ``repeat`` whose event always leaves the state: it can never repeat."""
    for name, state in checker.parts.states.items():
        for kind, deadline in (("sla", state.sla), ("timer", state.timer)):
            if deadline is None or deadline.repeat is None:
                continue
            targets = [
                spec.to
                for index, spec in checker.parts.transitions
                if spec.event == deadline.fire and name in sources[index]
            ]
            if targets and all(to is not None and to != name for to in targets):
                checker.report(
                    ("states", name, kind, "repeat"),
                    f"{kind} of state '{name}' repeats, but every transition on "
                    f"'{deadline.fire}' from '{name}' leaves it, so it fires once; for a "
                    "reminder, add an internal transition (no 'to') on "
                    f"'{deadline.fire}' from '{name}'",
                    "warning",
                )


def _unguarded(spec: TransitionSpec) -> bool:
    return spec.when is None and not spec.requires and not spec.not_by


def _ambiguity(checker: CheckSite, sources: dict[int, list[str]]) -> None:
    transitions = checker.parts.transitions
    for position, (first_index, first) in enumerate(transitions):
        if not _unguarded(first):
            continue
        first_line = checker.doc.locate(("transitions", first_index))[0]
        for second_index, second in transitions[position + 1 :]:
            if second.event != first.event:
                continue
            shared = [s for s in sources[first_index] if s in sources[second_index]]
            if not shared:
                continue
            where = ("transitions", second_index, "event")
            first_roles = set(first.roles) if first.roles is not None else None
            second_roles = set(second.roles) if second.roles is not None else None
            if _unguarded(second):
                overlap = (
                    first_roles is None or second_roles is None or bool(first_roles & second_roles)
                )
                if overlap and first.approvals == second.approvals:
                    checker.report(
                        where,
                        f"transition '{second.event}' from state "
                        f"'{shared[0]}' is ambiguous: the transition at line "
                        f"{first_line} takes the same event from the same state "
                        "with no guard; add a 'when' or give them distinct roles",
                    )
                continue
            covers = first_roles is None or (
                second_roles is not None and second_roles <= first_roles
            )
            if covers and first.approvals is None:
                checker.report(
                    where,
                    f"transition '{second.event}' from state '{shared[0]}' "
                    f"is never taken: the unguarded transition at line "
                    f"{first_line} always wins",
                    "warning",
                )


def _raw(checker: CheckSite, path: tuple[str | int, ...]) -> object:
    data: object = checker.doc.data
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data
