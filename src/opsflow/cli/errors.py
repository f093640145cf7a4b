"""The one place where exceptions become messages and exit codes (SPEC §3)."""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

import click

from opsflow.cli.output import emit_json, print_error
from opsflow.errors import FieldError, Invalid, OpsflowError
from opsflow.redact import redact_url

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def translate(exc: BaseException, *, db_url: str | None = None) -> OpsflowError | None:
    """The opsflow error an exception stands for, or None when it is a bug."""
    if isinstance(exc, OpsflowError):
        return exc
    if isinstance(exc, FieldError):
        return Invalid(str(exc), [str(exc)])
    if isinstance(exc, UnicodeDecodeError):
        return Invalid(f"not UTF-8 text: {exc}")
    return None


def fail(
    exc: BaseException,
    *,
    json_mode: bool,
    debug: bool,
    db_url: str | None = None,
    redact: Callable[[str], str] | None = None,
) -> NoReturn:
    """Report ``exc`` as SPEC §3 asks and exit with its code; never returns."""
    error = translate(exc, db_url=db_url)
    hide = redact or (lambda text: text)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if error is None:
        message = f"internal error: {type(exc).__name__}: {hide(redact_url(str(exc)))}"
        if not debug:
            message += " (run with --debug for the traceback)"
        if json_mode:
            emit_json({"error": "internal", "message": message, "reasons": []})
        print_error(message)
        raise click.exceptions.Exit(EXIT_ERROR)
    message = hide(redact_url(error.message))
    reasons = [hide(redact_url(r)) for r in error.reasons]
    if json_mode:
        emit_json({**error.to_json(), "message": message, "reasons": reasons})
    print_error(message, [r for r in reasons if not said(message, r)])
    raise click.exceptions.Exit(error.exit_code)


def said(message: str, reason: str) -> bool:
    """Whether ``message`` already states ``reason`` as a whole clause (so it is printed once).

    A single problem is often both the message and its one reason (``field 'budget': must
    be >= 0``), and some messages join their reasons with ``; ``.
    """
    clause = re.escape(reason)
    return re.search(rf"(?:^|: |; ){clause}(?:$|; )", message) is not None
