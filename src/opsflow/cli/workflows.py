"""Commands for workflow authors: workflows, show, graph, schema, validate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option

if TYPE_CHECKING:
    from opsflow.language.diagnostics import Diagnostic
    from opsflow.language.models import FieldSpec, StateSpec, TransitionSpec, WorkflowSpec

EXIT_INVALID = 65


@click.command(name="workflows")
@json_option
def list_workflows(as_json: bool) -> None:
    """List the workflows: id, version, title, states and open cases.

    Examples:

    \b
      opsflow workflows
      opsflow --workflows ./staging/workflows workflows --json
    """
    from opsflow.language.text import localized

    summaries = app().engine().workflows()
    if as_json:
        out.emit_json([w.to_json() for w in summaries])
        return
    if not summaries:
        out.note(f"no workflows in {app().settings().workflows_dir}")
        return
    locale = app().settings().server.locale
    out.table(
        ["workflow", "version", "title", "states", "open cases"],
        [
            (w.id, w.version, localized(w.title, locale), len(w.states), w.open_cases)
            for w in summaries
        ],
    )


def _flags(**flags: Any) -> str:
    return ", ".join(k for k, v in flags.items() if v)


def print_spec(spec: WorkflowSpec, locale: str | None = None) -> None:
    """The human view of one workflow definition, its titles in ``locale``."""
    _print_header(spec, locale)
    if spec.fields:
        out.heading("Fields")
        _print_fields(spec)
    out.heading("States")
    _print_states(spec, locale)
    if spec.transitions:
        out.heading("Transitions")
        _print_transitions(spec)
    if spec.metrics:
        out.heading("Metrics")
        out.table(
            ["metric", "calculator", "params"],
            [(name, metric.calculator, metric.params) for name, metric in spec.metrics.items()],
        )
    if spec.rules:
        out.heading("Rules")
        out.table(
            ["rule", "when", "do", "once"],
            [
                (
                    rule.name,
                    rule.when,
                    [action.kind for action in rule.do],
                    "yes" if rule.once else "",
                )
                for rule in spec.rules
            ],
        )


def _print_header(spec: WorkflowSpec, locale: str | None) -> None:
    """The workflow's id and version, title, description, roles and schedule."""
    from opsflow.language.text import localized

    schedule = spec.schedule
    header = [
        ("workflow", f"{spec.workflow} v{spec.version}"),
        ("title", localized(spec.title, locale)),
        ("description", localized(spec.description, locale)),
        ("roles", spec.roles),
        ("schedule", f"{schedule.cron} {schedule.timezone}" if schedule else None),
    ]
    out.key_values([(key, value) for key, value in header if value])


def _print_fields(spec: WorkflowSpec) -> None:
    """One row per field: type, required, default and limits."""
    rows: list[tuple[Any, ...]] = []
    for name, field in spec.fields.items():
        rows.append(
            (name, field.type, "yes" if field.required else "", field.default, _field_limits(field))
        )
    out.table(["field", "type", "required", "default", "limits"], rows)


def _field_limits(field: FieldSpec) -> str:
    """The limits a field sets, as ``key=value`` words (min, max, length, pattern, values)."""
    limits = []
    for key in ("min", "max", "max_length", "pattern", "values"):
        value = getattr(field, key)
        if value is not None:
            limits.append(f"{key}={out.show(value)}")
    return " ".join(limits)


def _print_states(spec: WorkflowSpec, locale: str | None) -> None:
    """One row per state: kind, title, deadlines, who it assigns and on-enter actions."""
    from opsflow.language.text import localized

    rows = []
    for name, state in spec.states.items():
        actions = [action.kind for action in state.on_enter]
        kind = _flags(initial=state.initial, final=state.final)
        title = localized(state.title, locale)
        rows.append((name, kind, title, _state_deadlines(state), _assigns(state), actions))
    out.table(["state", "kind", "title", "deadline", "assigns", "on enter"], rows)


def _assigns(state: StateSpec) -> str:
    """Whom a state gives a case to on entry: a role's holder by policy, or a field's person."""
    assign = state.assign
    if assign is None:
        return ""
    if assign.field is not None:
        return f"field {assign.field}"
    return f"{assign.role} ({assign.rotation})"


def _state_deadlines(state: StateSpec) -> str:
    """A state's SLA and timer, each with the event it fires."""
    deadline = ""
    if state.sla:
        sla = state.sla
        within = sla.within
        if sla.by is not None:
            spans = ", ".join(f"{value} {text}" for value, text in sla.durations().items())
            within = f"by {sla.by} ({spans})"
        every = f" every {sla.repeat}" if sla.repeat else ""
        deadline = f"sla {within}{every} -> {sla.fire}"
    if state.timer:
        timer = state.timer
        when = timer.after or f"at {timer.at}"
        every = f" every {timer.repeat}" if timer.repeat else ""
        deadline = (deadline + "; " if deadline else "") + f"timer {when}{every} -> {timer.fire}"
    return deadline


def _print_transitions(spec: WorkflowSpec) -> None:
    """One row per transition: event, from, to, roles, guard and conditions."""
    rows = []
    for transition in spec.transitions:
        who = transition.roles or ["anyone"]
        target = "(internal)" if transition.to is None else transition.to
        also = "; ".join(_transition_conditions(transition))
        rows.append((transition.event, transition.from_, target, who, transition.when, also))
    out.table(["event", "from", "to", "roles", "when", "also"], rows)


def _transition_conditions(transition: TransitionSpec) -> list[str]:
    """What else a transition needs or is: approvals, required fields, not_by, automatic."""
    conditions = []
    if transition.approvals:
        veto = ", veto" if transition.approvals.veto else ""
        roles = out.show(transition.approvals.roles)
        conditions.append(f"{transition.approvals.required} approvals of {roles}{veto}")
    if transition.requires:
        conditions.append(f"requires {out.show(transition.requires)}")
    if transition.not_by:
        conditions.append(f"not by {out.show(transition.not_by)}")
    if transition.auto:
        conditions.append("automatic")
    return conditions


@click.command()
@click.argument("workflow")
@click.option("--version", "version", type=click.IntRange(min=1), help="A registered version.")
@json_option
def show(workflow: str, version: int | None, as_json: bool) -> None:
    """Show WORKFLOW: roles, fields, states, transitions, metrics and rules.

    Examples:

    \b
      opsflow show content_approval
      opsflow show content_approval --version 2 --json
    """
    spec = app().engine().workflow_spec(workflow, version)
    if as_json:
        out.emit_json(spec.model_dump(mode="json", by_alias=True))
    else:
        print_spec(spec, app().settings().server.locale)


@click.command()
@click.argument("workflow")
@click.option(
    "--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True
)
@click.option("--case", "case_id", metavar="ID", help="Highlight this case's current state.")
@json_option
def graph(workflow: str, fmt: str, case_id: str | None, as_json: bool) -> None:
    """Print the state diagram of WORKFLOW as Mermaid or Graphviz text.

    Examples:

    \b
      opsflow graph content_approval > content_approval.mmd
      opsflow graph content_approval --format dot | dot -Tsvg > flow.svg
      opsflow graph content_approval --case 3f2a9c     # where is this case?
      opsflow graph content_approval --json            # {"workflow", "format", "text", ...}
    """
    diagram = app().engine().graph(workflow, fmt, case_id)
    if as_json:
        out.emit_json(diagram.to_json() | {"case": case_id})  # the id as given
    else:
        out.echo(diagram.text)


@click.command()
@json_option
def schema(as_json: bool) -> None:
    """Print the JSON Schema of the workflow language (for editors).

    Examples:

    \b
      opsflow schema > workflow.schema.json
      # VS Code, in .vscode/settings.json:
      #   "yaml.schemas": {"./workflow.schema.json": "workflows/*.yaml"}

    The schema is JSON either way; --json is accepted for symmetry with other commands.
    """
    from opsflow.language.schema import workflow_json_schema

    out.emit_json(workflow_json_schema())


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@json_option
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check workflow files or folders (default: the workflows folder).

    Every problem is listed as PATH:LINE:COL: error: MESSAGE (or warning:). Exits 65
    when any error was found, 0 otherwise (warnings alone pass).

    Examples:

    \b
      opsflow validate
      opsflow validate workflows/content_approval.yaml
      opsflow validate workflows/ --json
    """
    engine = app().engine()
    diagnostics = engine.validate(list(paths) or None)
    targets = list(paths) or [Path(engine.settings.workflows_dir)]
    diagnostics = sorted([*diagnostics, *registered_changes(engine, targets)])
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = len(diagnostics) - errors
    if as_json:
        out.emit_json(
            {
                "ok": errors == 0,
                "diagnostics": [
                    {
                        "path": d.path,
                        "line": d.line,
                        "col": d.col,
                        "severity": d.severity,
                        "message": d.message,
                    }
                    for d in diagnostics
                ],
            }
        )
    else:
        for d in diagnostics:
            out.echo(d.format())
        if diagnostics:
            out.note(f"{errors} error(s), {warnings} warning(s)")
        else:
            out.note("ok: no problems found")
    if errors:
        raise click.exceptions.Exit(EXIT_INVALID)


def registered_changes(engine: Any, paths: list[Path]) -> list[Diagnostic]:
    """Files whose version is registered with another text (only when a database exists)."""
    from opsflow.engine.admin import database_exists, registered_text_hashes
    from opsflow.errors import OpsflowError
    from opsflow.language.diagnostics import Diagnostic
    from opsflow.language.loader import load_workflow_paths
    from opsflow.language.yamlio import load_yaml

    if not database_exists(engine.settings.db_url):
        return []
    loaded, _ = load_workflow_paths(paths, engine.load_context())
    keys = [(w.spec.workflow, w.spec.version) for w in loaded.values()]
    try:
        stored = registered_text_hashes(engine.db, keys)
    except OpsflowError:
        return []  # unreachable: the check needs the database, the others do not
    problems = []
    for workflow in loaded.values():
        spec = workflow.spec
        digest = stored.get((spec.workflow, spec.version))
        if digest is None or digest == workflow.hash:
            continue
        doc, _ = load_yaml(workflow.text, workflow.path)
        line, col = doc.locate(("version",)) if doc is not None else (1, 1)
        message = (
            f"workflow '{spec.workflow}' version {spec.version} is already registered "
            f"with different text; bump version to {spec.version + 1} (running cases "
            "keep the version they started on)"
        )
        problems.append(Diagnostic(workflow.path, line, col, "error", message))
    return problems


COMMANDS = [list_workflows, show, graph, schema, validate]
