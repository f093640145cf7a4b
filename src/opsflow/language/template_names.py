"""The names a Jinja2 template reads, found when a workflow is checked (not when it runs).

Notification messages, subjects and recipients and calculator string params are rendered
with the case's fields, ``state``, ``event``, ``actor``, ``case_id``, ``metrics`` and
``data``; a template that reads any other name is refused when the workflow loads.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from opsflow.errors import TemplateProblem
from opsflow.template_filters import FILTERS

CASE_VARIABLES: frozenset[str] = frozenset(
    {"state", "event", "actor", "case_id", "metrics", "data"}
)
_MARKERS = ("{{", "{%", "{#")
_ENVIRONMENT = SandboxedEnvironment()
_ENVIRONMENT.filters.update(FILTERS)  # ``| local``: known here, so validate accepts it
del _ENVIRONMENT.globals["lipsum"]  # opsflow refuses it when rendering (unbounded text)
_GLOBALS = frozenset(_ENVIRONMENT.globals)


def is_template(text: str) -> bool:
    """Whether ``text`` holds any Jinja2 markup."""
    return any(marker in text for marker in _MARKERS)


def unknown_names(template: str, known: Collection[str]) -> list[str]:
    """The names ``template`` reads that are not in ``known``, in order of first use.

    Raises :class:`TemplateProblem` when the template does not parse.
    """
    try:
        tree = _ENVIRONMENT.parse(template)
        # compiles the tree: an unknown filter or test (TemplateAssertionError) shows here
        undeclared = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "invalid template", exc.lineno or 1) from None
    names = undeclared - _GLOBALS - set(known)
    return sorted(names, key=lambda name: (name_offset(template, name), name))


def name_offset(template: str, name: str) -> int:
    """The index of the first use of ``name`` inside the template's markup (0 if none)."""
    word = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
    for block in re.finditer(r"\{\{.*?\}\}|\{%.*?%\}", template, re.DOTALL):
        found = word.search(template, block.start(), block.end())
        if found:
            return found.start()
    return 0
