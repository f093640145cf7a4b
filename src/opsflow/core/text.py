"""Field values typed by a person (``--set K=V``, a form field), parsed in the step.

Every door hands the engine the text as typed; the engine parses it by the declared types
of the workflow version the case is pinned to (``language.fields.parse_text``), so a case
on an older version reads ``12`` by that version's types, and no door repeats the parsing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsflow.errors import FieldError, Invalid
from opsflow.language.fields import parse_text
from opsflow.language.models import FieldSpec
from opsflow.suggest import did_you_mean


def parse(
    workflow: str, fields: Mapping[str, FieldSpec], text: Mapping[str, str]
) -> dict[str, Any]:
    """Each text value parsed by its field's type; Invalid (65) lists every problem at once."""
    data: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in text.items():
        spec = fields.get(name)
        if spec is None:
            hint = did_you_mean(name, list(fields))
            problems.append(f"unknown field '{name}' in workflow {workflow}{hint}")
            continue
        try:
            data[name] = parse_text(name, spec, value)
        except FieldError as exc:
            problems.append(str(exc))
        except ValueError as exc:
            problems.append(f"field '{name}': {exc}")
    if problems:
        raise Invalid(problems[0] if len(problems) == 1 else "invalid data", problems)
    return data


def merged(
    data: Mapping[str, Any] | None,
    workflow: str,
    fields: Mapping[str, FieldSpec],
    text: Mapping[str, str] | None,
) -> Mapping[str, Any] | None:
    """``data`` with the parsed ``text`` laid over it (text wins, as ``--set`` over ``--data``)."""
    if not text:
        return data
    return {**(data or {}), **parse(workflow, fields, text)}
