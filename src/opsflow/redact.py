"""Hiding the password of database URLs in text (stdlib only, so the CLI loads it cheaply)."""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://[^:/@\s]*):(?P<pw>[^@\s]*)@")


def redact_url(text: str) -> str:
    """``text`` with the password of any database URL in it shown as ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}:***@", text)


__all__ = ["redact_url"]
