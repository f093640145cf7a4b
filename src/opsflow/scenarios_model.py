"""Scenario files (SPEC §3.1): their shape, loaded with marks so problems point at PATH:LINE:COL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from opsflow.clock import parse_instant
from opsflow.language.diagnostics import Diagnostic
from opsflow.language.yamlio import YamlDocument, YamlPath, load_yaml
from opsflow.suggest import did_you_mean

DEFAULT_NOW = "2026-01-05T09:00:00+00:00"
FILE_KEYS = ("workflow", "team", "now", "cases")
CASE_KEYS = ("name", "start", "steps")
START_KEYS = ("as", "data")
ACTIONS = ("fire", "set", "compute", "advance")
EXPECTATIONS = (
    "expect_state",
    "expect_assignee",
    "expect_data",
    "expect_metrics",
    "expect_notified",
    "expect_no_notification",
    "expect_incident",
)
STEP_KEYS = (
    *ACTIONS,
    "as",
    "data",
    "comment",
    "expect",
    "expect_error",
    "expect_outcome",
    *EXPECTATIONS,
)
ERROR_NAMES = ("not_permitted", "refused", "not_found", "invalid", "conflict")
OUTCOMES = ("transitioned", "approval_recorded")
NOTIFIED_KEYS = ("channel", "to", "subject", "message_contains")


@dataclass(frozen=True)
class Step:
    """One step of a scenario case, as written."""

    number: int  # 1-based
    line: int
    raw: dict[str, Any]

    @property
    def action(self) -> str | None:
        """``fire``, ``set``, ``compute``, ``advance`` or None (expectations only)."""
        return next((k for k in ACTIONS if k in self.raw), None)

    def describe(self) -> str:
        """A short text naming the step, e.g. ``fire approve as ed``."""
        action = self.action
        who = f" as {self.raw['as']}" if "as" in self.raw else ""
        if action == "fire":
            return f"fire {self.raw['fire']}{who}"
        if action == "set":
            fields = ", ".join(str(k) for k in (self.raw["set"] or {}))
            return f"set {fields}{who}"
        if action == "compute":
            return f"compute{who}"
        if action == "advance":
            return f"advance {self.raw['advance']}"
        return "check"

    def problems(self) -> list[str]:
        """What is wrong with this step's shape (each makes the case fail before it runs)."""
        raw, out = self.raw, []
        for key in raw:
            if key not in STEP_KEYS:
                out.append(f"unknown key '{key}'{did_you_mean(str(key), STEP_KEYS)}")
        actions = [k for k in ACTIONS if k in raw]
        if len(actions) > 1:
            out.append(f"a step does one thing, got {' and '.join(actions)}")
        if not actions and not any(k in raw for k in EXPECTATIONS):
            out.append("a step needs one of fire, set, compute, advance, or an expect_* check")
        for key in ("expect", "expect_error", "expect_outcome"):
            if key in raw and not actions:
                out.append(f"'{key}' belongs to a fire, set or compute step")
        if "expect_outcome" in raw and "fire" not in raw:
            out.append("'expect_outcome' belongs to a fire step")
        if "expect" in raw and "expect_error" in raw:
            out.append("a step expects either a state ('expect') or an error ('expect_error')")
        if "expect_error" in raw and raw["expect_error"] not in ERROR_NAMES:
            out.append(f"expect_error must be one of {', '.join(ERROR_NAMES)}")
        if "expect_outcome" in raw and raw["expect_outcome"] not in OUTCOMES:
            out.append(f"expect_outcome must be one of {', '.join(OUTCOMES)}")
        if "fire" in raw and not isinstance(raw["fire"], str):
            out.append("fire names one event")
        if "set" in raw and not isinstance(raw["set"], dict):
            out.append("set takes a mapping of field: value")
        if "data" in raw and not isinstance(raw["data"], dict):
            out.append("data takes a mapping of field: value")
        if "compute" in raw and not isinstance(raw["compute"], list | str | type(None)):
            out.append("compute takes a list of metric names")
        for key in ("expect_data", "expect_metrics"):
            if key in raw and not isinstance(raw[key], dict):
                out.append(f"{key} takes a mapping of name: value")
        notified = raw.get("expect_notified")
        if notified is not None:
            for item in notified if isinstance(notified, list) else [notified]:
                if not isinstance(item, dict):
                    out.append("expect_notified takes {channel, to, message_contains?} or a list")
                    continue
                for key in item:
                    if key not in NOTIFIED_KEYS:
                        hint = did_you_mean(str(key), NOTIFIED_KEYS)
                        out.append(f"expect_notified: unknown key '{key}'{hint}")
        if "expect_incident" in raw and not isinstance(raw["expect_incident"], str):
            out.append("expect_incident takes text the failed automation's error contains")
        if "expect_assignee" in raw and not isinstance(raw["expect_assignee"], str | None):
            out.append("expect_assignee names one person (null: nobody)")
        if "as" in raw and not isinstance(raw["as"], str):
            out.append("'as' names one person")
        return out


@dataclass(frozen=True)
class ScenarioCase:
    """One named case of a scenario file: how it starts and its steps."""

    name: str
    line: int
    start_actor: str | None
    start_data: dict[str, Any]
    steps: list[Step]


@dataclass(frozen=True)
class ScenarioFile:
    """A loaded scenario file."""

    path: Path
    workflow: str
    team: dict[str, list[str]]
    now: datetime
    cases: list[ScenarioCase] = field(default_factory=list)


class _Reader:
    def __init__(self, doc: YamlDocument, path: str, zone: tzinfo = UTC) -> None:
        self.doc = doc
        self.path = path
        self.zone = zone  # where a ``now`` without an offset is read
        self.diagnostics: list[Diagnostic] = []

    def error(self, where: YamlPath, message: str, *, key: bool = False) -> None:
        line, col = self.doc.locate(where, key=key)
        self.diagnostics.append(Diagnostic(self.path, line, col, "error", message))

    def line(self, where: YamlPath) -> int:
        return self.doc.locate(where)[0]

    def keys(self, value: dict[str, Any], where: YamlPath, allowed: tuple[str, ...]) -> None:
        for key in value:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                self.error((*where, key), f"unknown key '{key}'{hint}", key=True)

    def team(self, value: Any) -> dict[str, list[str]]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(("team",), "team is a mapping of person: [roles]")
            return {}
        team: dict[str, list[str]] = {}
        for person, roles in value.items():
            roles = [roles] if isinstance(roles, str) else roles
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                self.error(("team", person), f"the roles of {person} are a list of role names")
                continue
            team[str(person)] = roles
        return team

    def now(self, value: Any) -> datetime:
        try:
            return parse_instant(str(value if value is not None else DEFAULT_NOW), self.zone)
        except ValueError:
            self.error(("now",), f"now is an ISO 8601 timestamp, got {value!r}")
            return parse_instant(DEFAULT_NOW)

    def case(self, raw: Any, index: int) -> ScenarioCase | None:
        where: YamlPath = ("cases", index)
        if not isinstance(raw, dict):
            self.error(where, "each case is a mapping with name, start and steps")
            return None
        self.keys(raw, where, CASE_KEYS)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            self.error(where, "a case needs a name")
            name = f"case {index + 1}"
        start = raw.get("start") or {}
        if not isinstance(start, dict):
            self.error((*where, "start"), "start is a mapping: {as: PERSON, data: {...}}")
            start = {}
        self.keys(start, (*where, "start"), START_KEYS)
        data = start.get("data") or {}
        if not isinstance(data, dict):
            self.error((*where, "start", "data"), "start data is a mapping of field: value")
            data = {}
        actor = start.get("as")
        if actor is not None and not isinstance(actor, str):
            self.error((*where, "start", "as"), "'as' names one person")
            actor = None
        raw_steps = raw.get("steps") or []
        if not isinstance(raw_steps, list):
            self.error((*where, "steps"), "steps is a list")
            raw_steps = []
        steps = []
        for i, raw_step in enumerate(raw_steps):
            step_where = (*where, "steps", i)
            if not isinstance(raw_step, dict):
                self.error(step_where, "each step is a mapping, e.g. {fire: submit, as: ann}")
                continue
            steps.append(Step(i + 1, self.line(step_where), raw_step))
        return ScenarioCase(name, self.line(where), actor, data, steps)


def load_scenario_text(
    text: str, path: Path, zone: tzinfo = UTC
) -> tuple[ScenarioFile | None, list[Diagnostic]]:
    """Parse one scenario file; None when it has errors (all are reported)."""
    doc, diagnostics = load_yaml(text, str(path))
    if doc is None:
        return None, diagnostics
    reader = _Reader(doc, str(path), zone)
    reader.diagnostics.extend(diagnostics)
    data = doc.data
    if not isinstance(data, dict):
        reader.error((), "a scenario file is a mapping with workflow, team and cases")
        return None, reader.diagnostics
    reader.keys(data, (), FILE_KEYS)
    workflow = data.get("workflow")
    if not isinstance(workflow, str) or not workflow:
        reader.error(("workflow",) if "workflow" in data else (), "name the workflow under test")
        workflow = ""
    team = reader.team(data.get("team"))
    now = reader.now(data.get("now"))
    raw_cases = data.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        reader.error(("cases",) if "cases" in data else (), "cases is a non-empty list")
        raw_cases = []
    cases = [c for i, raw in enumerate(raw_cases) if (c := reader.case(raw, i)) is not None]
    if any(d.severity == "error" for d in reader.diagnostics):
        return None, reader.diagnostics
    return ScenarioFile(path, workflow, team, now, cases), reader.diagnostics


def load_scenario_file(
    path: Path, zone: tzinfo = UTC
) -> tuple[ScenarioFile | None, list[Diagnostic]]:
    """Read and parse a scenario file (a ``now`` without an offset is a time in ``zone``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [Diagnostic(str(path), 1, 1, "error", "not UTF-8 text")]
    except OSError as exc:
        return None, [Diagnostic(str(path), 1, 1, "error", f"cannot read: {exc.strerror}")]
    return load_scenario_text(text, path, zone)
