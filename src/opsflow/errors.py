"""The exceptions opsflow raises: each carries its reasons as data and maps to one exit code."""

from __future__ import annotations

from collections.abc import Iterable


class OpsflowError(Exception):
    """Base of every error opsflow raises on purpose.

    ``reasons`` holds the individual problems (one line each); ``code`` is the short
    machine name used in ``--json`` output and by scenario ``expect_error``.
    """

    exit_code = 1
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
    code = "not_permitted"


class Refused(OpsflowError):
    """Not available: wrong state, guard false, a field missing, a key reused with other input."""

    exit_code = 4
    code = "refused"


class NotFound(OpsflowError):
    """No such case, workflow, event, metric or outbox row."""

    exit_code = 5
    code = "not_found"


class Conflict(OpsflowError):
    """The case changed underneath and the retry budget ran out."""

    exit_code = 6
    code = "conflict"


class Invalid(OpsflowError):
    """A workflow definition or a piece of data failed validation."""

    exit_code = 65
    code = "invalid"


class Busy(OpsflowError):
    """The database stayed locked past the busy timeout: try again."""

    exit_code = 75
    code = "busy"


class ConfigError(OpsflowError):
    """The project configuration or the database location is unusable."""

    exit_code = 1
    code = "error"


class Damaged(OpsflowError):
    """A stored row holds a value opsflow cannot read (edited by hand, or a damaged file)."""

    exit_code = 1
    code = "damaged"


class Usage(OpsflowError):
    """A command-line value is malformed (exit 2, like click's own usage errors)."""

    exit_code = 2
    code = "usage"


__all__ = [
    "Busy",
    "ConfigError",
    "Conflict",
    "Damaged",
    "Invalid",
    "NotFound",
    "NotPermitted",
    "OpsflowError",
    "Refused",
    "Usage",
]
