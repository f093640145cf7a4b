"""The exceptions opsflow raises: each carries its reasons as data and maps to one exit code
(the CLI) and one HTTP status (the service)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class OpsflowError(Exception):
    """Base of every error opsflow raises on purpose.

    ``reasons`` holds the individual problems (one line each); ``code`` is the short
    machine name used in ``--json`` output and by scenario ``expect_error``.
    """

    exit_code = 1
    http_status = 500
    code = "error"

    def __init__(self, message: str, reasons: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = list(reasons)

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message, "reasons": self.reasons}


class NotPermitted(OpsflowError):
    """The actor may not do this (role, four-eyes, approval eligibility)."""

    exit_code = 3
    http_status = 403
    code = "not_permitted"


class NotAuthenticated(OpsflowError):
    """No valid credentials: a missing, wrong, expired or revoked token or session."""

    exit_code = 3
    http_status = 401
    code = "not_authenticated"


class Refused(OpsflowError):
    """Not available: wrong state, guard false, a field missing, a key reused with other input."""

    exit_code = 4
    http_status = 409
    code = "refused"


class NotFound(OpsflowError):
    """No such case, workflow, event, metric or outbox row."""

    exit_code = 5
    http_status = 404
    code = "not_found"


class Conflict(OpsflowError):
    """The case changed underneath and the retry budget ran out."""

    exit_code = 6
    http_status = 409
    code = "conflict"


class PreconditionFailed(OpsflowError):
    """The case is no longer at the version the request expected (a stale ``If-Match``).

    Checked inside the step's transaction once the case row is locked; nothing is written.
    Exit 6 like a conflict: the case changed underneath; read it again and decide again.
    """

    exit_code = 6
    http_status = 412
    code = "precondition_failed"


class Invalid(OpsflowError):
    """A workflow definition or a piece of data failed validation."""

    exit_code = 65
    http_status = 422
    code = "invalid"


class Busy(OpsflowError):
    """The database stayed locked past the busy timeout: try again."""

    exit_code = 75
    http_status = 503
    code = "busy"


class ConfigError(OpsflowError):
    """The project configuration or the database location is unusable."""

    exit_code = 1
    http_status = 500
    code = "error"


class Damaged(OpsflowError):
    """A stored row holds a value opsflow cannot read (edited by hand, or a damaged file)."""

    exit_code = 1
    http_status = 500
    code = "damaged"


class RateLimited(OpsflowError):
    """Too many attempts (failed logins): try again after ``retry_after`` seconds."""

    exit_code = 75
    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, reasons: Iterable[str] = ()) -> None:
        super().__init__(message, reasons)
        self.retry_after = max(1, int(retry_after))


class IssuerUnreachable(OpsflowError):
    """The OpenID Connect issuer did not answer, or answered with something unusable."""

    exit_code = 69
    http_status = 502
    code = "issuer_unreachable"


class Usage(OpsflowError):
    """A command-line value is malformed (exit 2, like click's own usage errors)."""

    exit_code = 2
    http_status = 400
    code = "usage"


class InvalidQuery(Usage):
    """A search the engine cannot run: a ``where`` outside the search subset, an unknown
    field, a bad cursor, sort or limit. A malformed request (exit 2, HTTP 400), not invalid
    data: nothing about the cases is wrong."""

    code = "invalid_query"


class PluginRefusal(Refused):
    """A ``before_transition`` hook refused the event; the refusal is audited as ``denied``."""

    def __init__(self, message: str, reasons: list[str], event: str, state: str) -> None:
        super().__init__(message, reasons)
        self.event = event
        self.state = state


class KeyReused(Refused):
    """An idempotency key used again with different input (exit 4, as any refusal; HTTP 422)."""

    http_status = 422
    code = "key_reused"


class MigrationRefused(Refused):
    """Some open cases cannot move to the target version; none was moved (exit 4).

    ``report`` is the ``opsflow.runners.migrate.MigrationReport`` (typed ``Any`` because
    errors, the bottom layer, imports nothing of opsflow).
    """

    def __init__(self, report: Any) -> None:
        count = len(report.refused)
        verb = "would refuse" if report.dry_run else "refused"
        super().__init__(
            f"migration of '{report.workflow}' to version {report.to_version} {verb}: "
            f"{count} case(s) cannot move, so no case was moved",
            [f"case {r.case} in state '{r.state}': {r.reason}" for r in report.refused],
        )
        self.report: Any = report


class AutomationFailed(OpsflowError):
    """The retried automation failed again (its step was rolled back)."""


class IncidentClosed(Refused):
    """An incident asked to be retried is no longer retrying or open."""

    def __init__(self, incident_id: int, status: str) -> None:
        super().__init__(
            f"incident {incident_id} is {status}; only a retrying or open one is retried"
        )


class FieldError(ValueError):
    """A value refused for a field; ``str()`` is ``field 'budget': must be >= 0``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


# Expressions and templates of the workflow language (SPEC §2.4): refused when a workflow is
# checked or an expression compiled, or failing when an expression is evaluated.


class ExpressionError(Exception):
    """An expression refused when it is compiled, with the 1-based column (and line) at fault."""

    def __init__(self, message: str, col: int, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.line = line


class EvaluationError(Exception):
    """An expression failed at run time: a type error, a bound exceeded, a function failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemplateProblem(Exception):
    """A template that does not parse; ``line`` is 1-based within the template."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


# Notifiers (SPEC §4): what a notifier raises to tell the outbox what to do next.


class NotifierError(Exception):
    """A delivery attempt failed; the outbox tries again later."""

    permanent = False


class PermanentNotifierError(NotifierError):
    """The receiver refused the notification for good: the outbox marks it failed at once."""

    permanent = True


class NotifierUnreachable(NotifierError):
    """The connection could not be made: the request never reached the server."""


# Internal signals of the store and the engine: caught and retried, never shown.


class StaleCase(Exception):
    """The case's row version moved between read and write: retry the step."""


class StaleConnection(Exception):
    """A kept connection turned out to be dead before anything was written: run the
    transaction again on a new connection."""


class SerializationFailure(Exception):
    """PostgreSQL rolled the transaction back (40001 serialization failure, 40P01
    deadlock): nothing was written, and the whole transaction may run again."""


__all__ = [
    "AutomationFailed",
    "Busy",
    "ConfigError",
    "Conflict",
    "Damaged",
    "EvaluationError",
    "ExpressionError",
    "FieldError",
    "IncidentClosed",
    "Invalid",
    "InvalidQuery",
    "IssuerUnreachable",
    "KeyReused",
    "MigrationRefused",
    "NotFound",
    "NotPermitted",
    "NotifierError",
    "NotifierUnreachable",
    "OpsflowError",
    "PermanentNotifierError",
    "PluginRefusal",
    "PreconditionFailed",
    "RateLimited",
    "Refused",
    "SerializationFailure",
    "StaleCase",
    "StaleConnection",
    "TemplateProblem",
    "Usage",
]
