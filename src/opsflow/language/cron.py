"""Cron expressions of schedules (SPEC §2.8): syntax checks and ticks, via croniter.

Five fields (minute hour day-of-month month day-of-week) or one of the nicknames
``@yearly @annually @monthly @weekly @daily @midnight @hourly``. Croniter's optional
sixth (seconds) and seventh fields are refused: a schedule starts cases, not jobs.
Ticks are computed in the schedule's timezone (so ``0 9 * * *`` in Asia/Shanghai is 09:00
there, across DST changes where the zone has them) and returned as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

NICKNAMES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-6 or sun-sat"),
)


def check_cron(expr: str) -> None:
    """Raise ValueError with a message when ``expr`` is not a usable 5-field cron."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("empty cron expression; write e.g. '0 9 1 * *' (09:00 on the 1st)")
    text = expr.strip()
    if text.startswith("@"):
        if text.lower() not in NICKNAMES:
            raise ValueError(
                f"unknown cron nickname '{text}'; use one of {', '.join(sorted(NICKNAMES))}"
            )
        return
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron '{text}' has {len(fields)} field{'s' if len(fields) != 1 else ''}; a cron "
            "has 5: minute hour day-of-month month day-of-week"
        )
    for index, (name, allowed) in enumerate(_FIELDS):
        probe = ["*"] * 5
        probe[index] = fields[index]
        if not _valid(" ".join(probe)):
            raise ValueError(
                f"cron '{text}': {name} field '{fields[index]}' is not valid ({allowed})"
            )
    if not _valid(text):
        raise ValueError(f"cron '{text}' is not valid")
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron '{text}' never fires (no such date)") from None


def _valid(text: str) -> bool:
    try:
        return bool(croniter.is_valid(text))
    except (CroniterError, ValueError, KeyError, IndexError, TypeError):
        return False


def check_timezone(name: str) -> ZoneInfo:
    """Return the IANA timezone ``name``; raise ValueError when it is unknown."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("empty timezone; use an IANA name like 'Asia/Shanghai' or 'UTC'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown timezone '{name}'; use an IANA name like 'Asia/Shanghai' or 'UTC'"
        ) from None


def _iterator(expr: str, tz: str, moment: datetime) -> croniter:
    check_cron(expr)
    zone = check_timezone(tz)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return croniter(expr.strip(), moment.astimezone(zone))


def next_tick(expr: str, tz: str, after: datetime) -> datetime:
    """Return the first tick strictly after ``after`` (naive means UTC), as aware UTC."""
    result: datetime = _iterator(expr, tz, after).get_next(datetime)
    return result.astimezone(UTC)


def previous_tick(expr: str, tz: str, before: datetime) -> datetime:
    """Return the last tick at or before ``before`` (naive means UTC), as aware UTC."""
    aware = before if before.tzinfo else before.replace(tzinfo=UTC)
    # croniter's get_prev is strictly before its start, so start one second later.
    it = _iterator(expr, tz, aware + timedelta(seconds=1))
    result: datetime = it.get_prev(datetime)
    if result > aware:
        result = it.get_prev(datetime)
    return result.astimezone(UTC)
