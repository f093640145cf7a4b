"""What a family of checks needs of the :class:`~opsflow.language.checks.Checker`.

The graph, params and role checks take a :class:`CheckSite` rather than the ``Checker``
itself, so that ``checks`` may call them without ``checks_graph``, ``checks_params`` and
``checks_roles`` importing ``checks`` back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from opsflow.language.context import LoadContext
    from opsflow.language.diagnostics import Severity
    from opsflow.language.structure import WorkflowParts
    from opsflow.language.yamlio import YamlDocument, YamlPath


class CheckSite(Protocol):
    """The document being checked, its context, and where problems are reported."""

    parts: WorkflowParts
    doc: YamlDocument
    path: str
    ctx: LoadContext

    def report(
        self, where: YamlPath, message: str, severity: Severity = "error", *, key: bool = False
    ) -> None:
        """Add a diagnostic at the mark of ``where`` (its key with ``key=True``)."""

    def check_template(
        self, where: YamlPath, template: str, what: str, *, names: bool = True
    ) -> None:
        """A Jinja2 template must parse and (with ``names``) read only the case's variables."""
