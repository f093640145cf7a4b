"""What every runner shares: who is working, one log record per item, the pass's report.

Every item a runner handles is logged on the ``opsflow.worker`` logger, one record each,
with the fields in ``record.opsflow`` (the CLI renders them as logfmt or JSON lines).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opsflow.core.results import WorkerReport
from opsflow.core.step import Step

LOG = logging.getLogger("opsflow.worker")

Stop = Callable[[], bool]


def worker_id() -> str:
    """Who is working: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def never() -> bool:
    """A stop request that never comes."""
    return False


@dataclass
class PassReport(WorkerReport):
    """What one worker pass did, scheduled cases included."""

    cases_started: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"cases_started": self.cases_started, **super().to_json()}

    def add(self, other: WorkerReport) -> None:
        """Add another report's counts and errors to this one (the open count is the latest)."""
        self.deadlines_fired += other.deadlines_fired
        self.deadlines_skipped += other.deadlines_skipped
        self.delivered += other.delivered
        self.failed += other.failed
        self.retried += other.retried
        self.incidents_opened += other.incidents_opened
        self.automation_retried += other.automation_retried
        self.automation_recovered += other.automation_recovered
        self.incidents_open = other.incidents_open
        self.cases_started += getattr(other, "cases_started", 0)
        self.errors.extend(other.errors)


def log_item(kind: str, outcome: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one item a worker handled: kind, outcome, case, event, workflow, detail."""
    record = {"worker": worker_id(), "kind": kind, "outcome": outcome}
    record.update({k: v for k, v in fields.items() if v is not None})
    LOG.log(level, "%s %s", kind, outcome, extra={"opsflow": record})


def report_step_failures(report: WorkerReport, step: Step | None) -> None:
    """Automation a committed step could not do (kept as incidents): reported and logged."""
    for failed in step.writes.incidents if step is not None else ():
        detail = f"{failed['kind']} {failed['target']}: {failed['error']}"
        report.errors.append(f"case {failed['case_id'][:8]}: {detail} (retrying)")
        log_item("incident", "retry", logging.WARNING, case=failed["case_id"], detail=detail)


def log_hook_error(step: Step, exc: Exception) -> None:
    """An after_transition hook failed once its step committed: logged, the step stands."""
    log_item(
        "hook",
        "error",
        logging.ERROR,
        case=step.case.id,
        detail=f"after_transition: {type(exc).__name__}: {exc}",
    )


class ItemFormatter(logging.Formatter):
    """One line per record: logfmt (``time=… worker=… kind=… outcome=…``) or a JSON object."""

    def __init__(self, style: str = "logfmt") -> None:
        super().__init__()
        self.style = style

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        fields: dict[str, Any] = {"time": when, "level": record.levelname.lower()}
        fields.update(getattr(record, "opsflow", None) or {"message": record.getMessage()})
        if self.style == "json":
            return json.dumps(fields, ensure_ascii=False, default=str)
        return " ".join(f"{key}={_logfmt(value)}" for key, value in fields.items())


def _logfmt(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\\') and text.isprintable():
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
