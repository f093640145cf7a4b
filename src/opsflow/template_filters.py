"""opsflow's own Jinja2 filters for notification templates: ``| local``.

``{{ publish_at | local }}`` shows an instant on the project's clocks (``timezone:`` in
opsflow.yaml) with its offset, ``2026-12-05 18:30 +08:00`` (``2026-12-05 10:30 UTC`` in a
UTC project), as the CLI shows times. A filter never stops a notification: an unset value
renders as empty text, a date (``2026-12-05``) as it is, and anything that is not a time
as given.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from opsflow.clock import parse_instant, shown

# The template variable holding the project's time zone. A template cannot name it: the
# workflow checks refuse every name but the case's (opsflow.language.template_names).
ZONE_VARIABLE = "opsflow_time_zone"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_TEXT = 64  # longer text is no time: shown as given, never parsed


def local(zone: tzinfo, value: Any) -> Any:
    """``value`` as a person in ``zone`` reads it (see the module's docstring)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return shown(value, zone)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) <= _MAX_TEXT and not _DATE.fullmatch(value.strip()):
        try:
            return shown(parse_instant(value, zone), zone)
        except ValueError:
            pass
    return value


def local_filter(context: Any, value: Any) -> Any:
    """The ``local`` filter: the zone comes from the render's variables (UTC without it)."""
    zone = context.get(ZONE_VARIABLE)
    return local(zone if isinstance(zone, tzinfo) else UTC, value)


FILTERS = {"local": local_filter}
