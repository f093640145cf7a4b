"""Checks of the durations of a state's deadlines: ``within``, ``after`` and ``repeat``.

``within`` may depend on the case's data: ``{by: severity, sev1: 30m, sev2: 4h, else: 2d}``
names an enum field, gives a duration for some of its values and ``else`` for the rest. Every
value the field can take must be covered (by its own key or by ``else``), every key must be
one of the field's values, and every duration must parse. ``repeat`` must parse too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsflow.language.durations import parse_duration
from opsflow.language.models import BY, ELSE, SlaSpec, TimerSpec
from opsflow.suggest import did_you_mean

if TYPE_CHECKING:
    from opsflow.language.check_site import CheckSite
    from opsflow.language.yamlio import YamlPath


def check_deadline_durations(checker: CheckSite) -> None:
    """Every duration of every sla and timer parses; ``within: {by: …}`` covers its field."""
    for name, state in checker.parts.states.items():
        base: YamlPath = ("states", name)
        if state.sla is not None:
            _check_sla(checker, (*base, "sla"), name, state.sla)
        if state.timer is not None:
            _check_timer(checker, (*base, "timer"), name, state.timer)


def _check_sla(checker: CheckSite, base: YamlPath, state: str, sla: SlaSpec) -> None:
    what = f"sla of state '{state}'"
    if isinstance(sla.within, str):
        _duration(checker, (*base, "within"), sla.within, what)
    else:
        _check_by(checker, (*base, "within"), state, sla.within)
    if sla.repeat is not None:
        _duration(checker, (*base, "repeat"), sla.repeat, f"repeat of the {what}")


def _check_timer(checker: CheckSite, base: YamlPath, state: str, timer: TimerSpec) -> None:
    what = f"timer of state '{state}'"
    if timer.after is not None:
        _duration(checker, (*base, "after"), timer.after, what)
    if timer.repeat is not None:
        _duration(checker, (*base, "repeat"), timer.repeat, f"repeat of the {what}")


def _duration(checker: CheckSite, where: YamlPath, text: str, what: str) -> bool:
    try:
        parse_duration(text)
    except ValueError as exc:
        checker.report(where, f"{what}: {exc}")
        return False
    return True


def _check_by(checker: CheckSite, where: YamlPath, state: str, within: dict[str, str]) -> None:
    """``within: {by: FIELD, VALUE: DURATION, ..., else: DURATION}``."""
    what = f"sla of state '{state}'"
    field_name = within[BY]
    for key, text in within.items():
        if key != BY:
            _duration(checker, (*where, key), text, f"{what}, '{key}'")
    known = checker.parts.field_names
    if known is not None and field_name not in known:
        checker.report(
            (*where, BY),
            f"{what} depends on unknown field '{field_name}'" + did_you_mean(field_name, known),
        )
        return
    spec = checker.parts.fields.get(field_name)
    if spec is None:
        return  # a field that did not validate: reported where it is declared
    if spec.type != "enum":
        checker.report(
            (*where, BY),
            f"{what} depends on field '{field_name}', which is {spec.type}; 'by' needs an "
            "enum field, whose values each get a duration",
        )
        return
    values = list(spec.values or [])
    for key in within:
        if key not in (BY, ELSE) and key not in values:
            checker.report(
                (*where, key),
                f"{what} gives a duration for '{key}', which is not a value of field "
                f"'{field_name}' ({', '.join(values)})" + did_you_mean(key, values),
                key=True,
            )
    missing = [v for v in values if v not in within]
    if missing and ELSE not in within:
        checker.report(
            (*where, BY),
            f"{what} gives no duration for {', '.join(repr(v) for v in missing)} of field "
            f"'{field_name}'; add them, or 'else: DURATION' for every value not listed",
        )
