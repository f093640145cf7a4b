"""Where the service may send a browser next: paths on this site only."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(value: str | None, default: str = "/") -> str:
    """Where to go after a login: a path on this site, else ``default`` (no open redirect).

    ``//host``, ``/\\host``, a scheme or a control character (which browsers drop, so
    ``/\\t/host`` is ``//host`` to them) could all lead to another site.
    """
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    return default if parts.scheme or parts.netloc else value
