"""Checking command-line text: names, comments, ``--set K=V`` pairs, ``--data FILE.json``.

The values of ``--set`` are parsed by the engine, by the case's field types (SPEC §6).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import IO, Any

import click

from opsflow.errors import Invalid, Usage
from opsflow.limits import MAX_NAME, MAX_ROW_ID

MAX_COMMENT = 100_000  # characters of a comment, as for any text value (SPEC §2.6 bounds)
MAX_LIMIT = 1_000_000
LIMIT = click.IntRange(min=1, max=MAX_LIMIT)
ROW_ID = click.IntRange(min=1, max=MAX_ROW_ID)  # a database row id (INTEGER on PostgreSQL)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _undecodable(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate: bytes of the command line that were not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_NOT_UTF8 = "is not valid UTF-8 text (check the terminal's encoding)"


def check_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback for ``--as`` and ``--key``: non-empty, one line, at most MAX_NAME."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("must not be empty", ctx, param)
    if len(value) > MAX_NAME:
        raise click.BadParameter(
            f"is {len(value):,} characters long; the limit is {MAX_NAME}", ctx, param
        )
    if _has_control(value):
        raise click.BadParameter("must not contain control characters", ctx, param)
    if _undecodable(value):
        raise click.BadParameter(_NOT_UTF8, ctx, param)
    return value


def check_comment(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback for ``--comment``: at most MAX_COMMENT characters."""
    if value is not None and len(value) > MAX_COMMENT:
        raise click.BadParameter(
            f"is {len(value):,} characters long; the limit is {MAX_COMMENT:,}", ctx, param
        )
    if value is not None and _undecodable(value):
        raise click.BadParameter(_NOT_UTF8, ctx, param)
    return value


def split_assignments(pairs: Sequence[str], option: str = "--set") -> list[tuple[str, str]]:
    """``["budget=300"]`` -> ``[("budget", "300")]``; Usage (exit 2) when malformed."""
    out: list[tuple[str, str]] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise Usage(f"{option} expects FIELD=VALUE, got {pair!r}")
        out.append((key, value))
    return out


def read_data_file(stream: IO[str] | None) -> dict[str, Any]:
    """The JSON object in ``--data FILE.json`` (``-`` reads stdin); Invalid (65) otherwise."""
    if stream is None:
        return {}
    name = getattr(stream, "name", "<data>")
    try:
        document = json.load(stream)
    except json.JSONDecodeError as exc:
        raise Invalid(f"{name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise Invalid(f"{name}: not UTF-8 text") from exc
    except RecursionError:
        raise Invalid(f"{name}: the JSON is nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise Invalid(f"{name}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise Invalid(f"{name}: expected a JSON object of field values, got {kind}")
    return document
