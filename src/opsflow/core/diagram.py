"""Mermaid and Graphviz text of a workflow's states and transitions (no click, no db).

The CLI (`opsflow graph`) and the HTTP API (`/v1/workflows/{id}/graph`) print the same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opsflow.language.text import localized

if TYPE_CHECKING:
    from opsflow.language.models import TransitionSpec, WorkflowSpec

FORMATS = ("mermaid", "dot")


def _edges(spec: WorkflowSpec) -> list[tuple[str, str, str]]:
    """(from, to, label) once each, ``from: "*"`` expanded to every non-final state.

    An internal transition is drawn as a loop on its state, labelled ``(internal)``.
    """
    finals = spec.final_states
    seen: set[tuple[str, str, str]] = set()
    edges: list[tuple[str, str, str]] = []
    for t in spec.transitions:
        sources = [s for s in spec.states if s not in finals] if t.from_any else t.from_
        for source in sources:
            edge = (source, source if t.to is None else t.to, _label(t))
            if edge not in seen:
                seen.add(edge)
                edges.append(edge)
    return edges


def _label(t: TransitionSpec) -> str:
    label = t.event
    if t.internal:
        label += " (internal)"
    if t.auto:
        label += " (auto)"
    if t.approvals:
        label += f" ({t.approvals.required} approvals)"
    return label


def _clean(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ").replace(":", " ").replace(";", ",")


def mermaid(spec: WorkflowSpec, current: str | None = None, locale: str | None = None) -> str:
    """A Mermaid ``stateDiagram-v2``; ``current`` is highlighted, titles are in ``locale``."""
    lines = ["stateDiagram-v2"]
    title = localized(spec.title, locale)
    if title:
        lines.insert(0, f"---\ntitle: {_clean(title)}\n---")
    for name, state in spec.states.items():
        if state.title:
            lines.append(f'    state "{_clean(localized(state.title, locale) or name)}" as {name}')
    lines.append(f"    [*] --> {spec.initial_state}")
    for source, target, label in _edges(spec):
        lines.append(f"    {source} --> {target} : {_clean(label)}")
    for name in spec.states:
        if spec.states[name].final:
            lines.append(f"    {name} --> [*]")
    if current:
        lines.append("    classDef current fill:#ffd54f,stroke:#f57f17,stroke-width:3px")
        lines.append(f"    class {current} current")
    return "\n".join(lines)


def dot(spec: WorkflowSpec, current: str | None = None, locale: str | None = None) -> str:
    """A Graphviz ``digraph``; ``current`` is filled, titles are in ``locale``."""
    lines = [
        f"digraph {spec.workflow} {{",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        '    __start [shape=point, label=""];',
        f"    __start -> {spec.initial_state};",
    ]
    for name, state in spec.states.items():
        attrs = [f'label="{_clean(localized(state.title, locale) or name)}"']
        if state.final:
            attrs.append("peripheries=2")
        if name == current:
            attrs.append('style="rounded,filled,bold"')
            attrs.append('fillcolor="#ffd54f"')
        lines.append(f"    {name} [{', '.join(attrs)}];")
    for source, target, label in _edges(spec):
        lines.append(f'    {source} -> {target} [label="{_clean(label)}"];')
    lines.append("}")
    return "\n".join(lines)


def render(
    spec: WorkflowSpec, fmt: str = "mermaid", current: str | None = None, locale: str | None = None
) -> str:
    """The diagram of ``spec`` in ``fmt`` (``mermaid`` or ``dot``), titles in ``locale``
    (else the first of each title's locales)."""
    draw = dot if fmt == "dot" else mermaid
    return draw(spec, current, locale)


@dataclass(frozen=True)
class Diagram:
    """A workflow's diagram text, and the case and state it highlights (if any)."""

    workflow: str
    format: str
    text: str
    case: str | None = None
    state: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "format": self.format,
            "case": self.case,
            "state": self.state,
            "text": self.text,
        }
