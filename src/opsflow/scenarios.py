"""The scenario test runner (SPEC §3.1): each case on a fresh in-memory database, simulated clock.

Nothing is delivered: notifications stay in the outbox, and each step's expectations are
matched against the rows that step wrote.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsflow.errors import Invalid, NotFound, OpsflowError
from opsflow.scenarios_model import ScenarioCase, ScenarioFile, Step, load_scenario_file

if TYPE_CHECKING:
    from opsflow.config import Settings
    from opsflow.core.results import OutboxRow
    from opsflow.facade import Engine
    from opsflow.plugins import Plugins

SCENARIO_GLOB = "*.test.yaml"


class SimulatedClock:
    """A clock that stands still until a scenario advances it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        self.now += delta


@dataclass
class CaseResult:
    """The outcome of one scenario case."""

    file: str
    workflow: str
    name: str
    line: int
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "workflow": self.workflow,
            "name": self.name,
            "passed": self.passed,
            "failures": self.failures,
        }


@dataclass
class RunReport:
    """Every case's result, in file order."""

    results: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "cases": [r.to_json() for r in self.results],
        }


EngineFactory = Callable[[ScenarioFile, SimulatedClock], "Engine"]


def scenario_files(paths: Sequence[Path], default_dir: Path) -> list[Path]:
    """The files to run: the ones named (folders searched for *.test.yaml), else the default."""
    if not paths:
        found = sorted((default_dir / "tests").glob(SCENARIO_GLOB))
        if not found:
            raise NotFound(f"no scenario files in {default_dir / 'tests'} ({SCENARIO_GLOB})")
        return found
    out: list[Path] = []
    for path in paths:
        out.extend(sorted(path.rglob(SCENARIO_GLOB)) if path.is_dir() else [path])
    if not out:
        raise NotFound("no scenario files found", [f"{p}: no {SCENARIO_GLOB}" for p in paths])
    return out


def workflows_dir_for(path: Path, default: Path) -> Path:
    """``X/tests/f.test.yaml`` tests the workflows in ``X``; other files the configured folder."""
    parent = path.resolve().parent
    if parent.name == "tests" and any(
        p.suffix in (".yaml", ".yml") for p in parent.parent.iterdir() if p.is_file()
    ):
        return parent.parent
    return default


def engine_factory(settings: Settings, plugins: Plugins | None) -> Callable[..., Engine]:
    """Build engines on a throw-away in-memory database with the file's team and clock."""

    def build(scenario: ScenarioFile, clock: SimulatedClock) -> Engine:
        from opsflow.facade import Engine

        workflows = workflows_dir_for(scenario.path, settings.workflows_dir)
        local = dataclasses.replace(
            settings, db_url="sqlite://", team=dict(scenario.team), workflows_dir=workflows
        )
        # Workflow files are parsed once per process (the engine caches them by file
        # signature), so building an engine per case costs no re-parse.
        return Engine(settings=local, plugins=plugins, clock=clock)

    return build


def run_files(paths: Iterable[Path], build: Callable[..., Engine], zone: tzinfo = UTC) -> RunReport:
    """Load every file first (any load error is Invalid, exit 65), then run every case.

    ``zone``: the project's time zone, where a ``now`` written without an offset is read.
    """
    loaded: list[ScenarioFile] = []
    problems: list[str] = []
    for path in paths:
        scenario, diagnostics = load_scenario_file(path, zone)
        problems += [d.format() for d in diagnostics if d.severity == "error"]
        if scenario is not None:
            loaded.append(scenario)
    if problems:
        raise Invalid(f"cannot load scenario files ({len(problems)} problem(s))", problems)
    report = RunReport()
    for scenario in loaded:
        for case in scenario.cases:
            report.results.append(CaseRunner(scenario, case, build).run())
    return report


def same_value(expected: Any, actual: Any) -> bool:
    """Equality for expectations: numbers within 1e-9, containers element by element."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or expected == actual and type(expected) is type(actual)
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            same_value(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            same_value(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, str) and isinstance(actual, int | float):
        try:
            return same_value(float(expected), actual)
        except ValueError:
            return False
    return bool(expected == actual)


def _error_text(exc: OpsflowError) -> str:
    reasons = f" ({'; '.join(exc.reasons)})" if exc.reasons and exc.reasons != [exc.message] else ""
    return f"{exc.code}: {exc.message}{reasons}"


def _show_row(row: OutboxRow) -> str:
    return f"{row.channel} -> {row.to}: {row.message!r}"


class CaseRunner:
    """Runs one scenario case step by step; the first failing step ends it."""

    def __init__(self, scenario: ScenarioFile, case: ScenarioCase, build: Callable[..., Engine]):
        self.scenario = scenario
        self.case = case
        self.build = build
        self.clock = SimulatedClock(scenario.now)
        self.result = CaseResult(str(scenario.path), scenario.workflow, case.name, case.line)
        self.engine: Engine | None = None
        self.case_id = ""

    def run(self) -> CaseResult:
        """Run the case and return its result."""
        for step in self.case.steps:
            for problem in step.problems():
                self.result.failures.append(f"step {step.number} (line {step.line}): {problem}")
        if self.result.failures:
            return self.result
        try:
            self.engine = self.build(self.scenario, self.clock)
            self._start()
            for step in self.case.steps:
                failures = self._step(step)
                if failures:
                    where = f"step {step.number} (line {step.line}, {step.describe()})"
                    self.result.failures += [f"{where}: {f}" for f in failures]
                    break
        except OpsflowError as exc:
            self.result.failures.append(f"{_error_text(exc)}")
        finally:
            closer = getattr(self.engine, "close", None)
            if callable(closer):
                closer()
        return self.result

    @property
    def _engine(self) -> Engine:
        assert self.engine is not None
        return self.engine

    @property
    def _zone(self) -> tzinfo:
        """The project's time zone: an expected datetime without an offset is read there."""
        from opsflow.config import project_zone

        return project_zone(self._engine.settings)

    def _actor(self, step: Step | None = None) -> str:
        if step is not None and isinstance(step.raw.get("as"), str):
            return str(step.raw["as"])
        return self.case.start_actor or next(iter(self.scenario.team), "system")

    def _start(self) -> None:
        try:
            case = self._engine.start(
                self.scenario.workflow, data=dict(self.case.start_data), actor=self._actor()
            )
        except OpsflowError as exc:
            raise type(exc)(f"start failed: {exc.message}", exc.reasons) from exc
        self.case_id = case.id

    def _outbox_ids(self) -> set[int]:
        return {row.id for row in self._engine.outbox()}

    def _act(self, step: Step) -> tuple[str | None, OpsflowError | None]:
        """Do the step's action; returns (fire outcome, error)."""
        engine, raw, actor = self._engine, step.raw, self._actor(step)
        try:
            if step.action == "fire":
                result = engine.fire(
                    self.case_id,
                    raw["fire"],
                    actor=actor,
                    data=raw.get("data") or None,
                    comment=raw.get("comment"),
                )
                return result.outcome, None
            if step.action == "set":
                engine.set(self.case_id, dict(raw["set"]), actor=actor, comment=raw.get("comment"))
            elif step.action == "compute":
                metrics = raw["compute"]
                names = [metrics] if isinstance(metrics, str) else list(metrics or [])
                engine.compute(self.case_id, names or None, actor=actor)
            elif step.action == "advance":
                from opsflow.language.durations import parse_duration

                try:
                    delta = parse_duration(str(raw["advance"]))
                except ValueError as exc:
                    raise Invalid(f"advance: {exc}") from exc
                self.clock.advance(delta)
                engine.fire_due_deadlines()
                engine.retry_due_incidents()
        except OpsflowError as exc:
            return None, exc
        return None, None

    def _step(self, step: Step) -> list[str]:
        """Run one step; the failed expectations (empty when it passed)."""
        raw = step.raw
        before = self._outbox_ids()
        seen = self._incident_errors()
        outcome, error = self._act(step)
        failures: list[str] = self._check_incidents(raw, seen)
        expected_error = raw.get("expect_error")
        if expected_error is not None:
            if error is None:
                failures.append(f"expected error {expected_error}, but it succeeded")
            elif error.code != expected_error:
                failures.append(f"expected error {expected_error}, got {_error_text(error)}")
        elif error is not None:
            wanted = f"expected state {raw['expect']}, got" if "expect" in raw else "unexpected"
            return [f"{wanted} error {_error_text(error)}"]
        case = self._engine.status(self.case_id, actor=self._actor(step))
        for key in ("expect", "expect_state"):
            if key in raw and case.state != raw[key]:
                failures.append(f"expected state {raw[key]}, got {case.state}")
        if "expect_assignee" in raw and case.assignee != raw["expect_assignee"]:
            wanted = raw["expect_assignee"] or "nobody"
            failures.append(f"expected assignee {wanted}, got {case.assignee or 'nobody'}")
        if "expect_outcome" in raw and outcome != raw["expect_outcome"]:
            failures.append(f"expected outcome {raw['expect_outcome']}, got {outcome}")
        failures += self._check_data(raw.get("expect_data"), case.workflow, case.version, case.data)
        for name, value in (raw.get("expect_metrics") or {}).items():
            if name not in case.metrics:
                failures.append(f"expected metric {name} = {value!r}, but it was never computed")
            elif not same_value(value, case.metrics[name]):
                failures.append(f"expected metric {name} = {value!r}, got {case.metrics[name]!r}")
        written = [row for row in self._engine.outbox() if row.id not in before]
        failures += self._check_notifications(raw, written)
        return failures

    def _incident_errors(self) -> dict[int, tuple[int, str]]:
        """The case's unresolved incidents: id -> (tries, error)."""
        return {i.id: (i.attempts, i.error) for i in self._engine.incidents(case_id=self.case_id)}

    def _check_incidents(self, raw: dict[str, Any], seen: dict[int, tuple[int, str]]) -> list[str]:
        """Automation that failed during this step is reported here, not steps later."""
        failed = [
            i
            for i in self._engine.incidents(case_id=self.case_id)
            if seen.get(i.id) != (i.attempts, i.error)
        ]
        found = [f"{i.describe()} failed: {i.error}" for i in failed]
        expected = raw.get("expect_incident")
        if expected is None:
            return [f"automation failed: {text}" for text in found]
        if not any(expected in text for text in found):
            got = "; ".join(found) or "no automation failed"
            return [f"expected failed automation mentioning {expected!r}; {got}"]
        return []

    def _check_data(
        self, expected: dict[str, Any] | None, workflow: str, version: int, data: dict[str, Any]
    ) -> list[str]:
        if not expected:
            return []
        from opsflow.language.fields import coerce_value

        fields = self._engine.workflow_spec(workflow, version).fields
        failures = []
        for name, value in expected.items():
            want = value
            if name in fields:
                try:
                    want = coerce_value(name, fields[name], value, self._zone)
                except ValueError:
                    want = value
            got = data.get(name)
            if not same_value(want, got):
                failures.append(f"expected {name} = {want!r}, got {got!r}")
        return failures

    def _notified(self, expected: dict[str, Any], row: OutboxRow) -> bool:
        if "channel" in expected and row.channel != expected["channel"]:
            return False
        if "to" in expected:
            want = str(expected["to"])
            recipients = {r.strip() for r in row.to.split(",")}
            # `to` may name the role written in the workflow or a person holding it
            holders = {p for p, roles in self.scenario.team.items() if want in roles}
            roles_of_want = set(self.scenario.team.get(want, []))
            if not ({want} | holders | roles_of_want) & recipients:
                return False
        if "subject" in expected and row.subject != expected["subject"]:
            return False
        return not (
            "message_contains" in expected and str(expected["message_contains"]) not in row.message
        )

    def _check_notifications(self, raw: dict[str, Any], written: list[OutboxRow]) -> list[str]:
        failures = []
        wrote = "; ".join(_show_row(r) for r in written) or "nothing"
        notified = raw.get("expect_notified")
        if notified is None:
            notified = []
        elif not isinstance(notified, list):
            notified = [notified]
        for expected in notified:
            if not any(self._notified(expected, row) for row in written):
                want = ", ".join(f"{k}: {v}" for k, v in expected.items())
                failures.append(f"expected a notification {{{want}}}; the step wrote {wrote}")
        if raw.get("expect_notified") == [] and written:  # an empty list: the step sent none
            failures.append(f"expected no notification (expect_notified: []); it wrote {wrote}")
        if raw.get("expect_no_notification") and written:
            failures.append(f"expected no notification; the step wrote {wrote}")
        return failures
