"""The board's languages: which locale a page is in, its gettext catalog, and its formats.

A page is in the person's ``locale`` (their team entry), else the first of the browser's
``Accept-Language`` that the board speaks, else ``server.locale``. The catalogs are Babel's
compiled ``.mo`` files under ``locale/`` (``python -m opsflow.service.board.catalogs``
extracts, updates and compiles them; a test fails when one is stale).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALES = ("zh-CN", "en")  # what the board speaks, as people write them in opsflow.yaml
CATALOG_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
MAX_ACCEPT = 500  # characters of Accept-Language read: a longer header is cut


def babel_name(tag: str) -> str:
    """``zh-CN`` → ``zh_CN``: the name Babel and the catalog folders use."""
    return tag.replace("-", "_")


@functools.cache
def translations(tag: str) -> NullTranslations:
    """The compiled catalog of one of :data:`LOCALES` (English: the source text itself)."""
    return Translations.load(str(CATALOG_DIR), [babel_name(tag)], DOMAIN)


@functools.cache
def babel_locale(tag: str) -> Locale:
    return Locale.parse(babel_name(tag))


def from_accept_language(header: str | None) -> str | None:
    """The first locale of an ``Accept-Language`` header that the board speaks (by q)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(header[:MAX_ACCEPT].split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, order, tag.strip()))
    for _weight, _order, tag in sorted(ranked):
        found = match(tag)
        if found is not None:
            return found
    return None


def match(tag: str) -> str | None:
    """The board's locale for a language tag (``zh``, ``zh-Hans-CN``, ``en-GB`` …), or None."""
    try:
        asked = Locale.parse(tag, sep="-")
    except (ValueError, UnknownLocaleError):
        return None
    for known in LOCALES:
        if asked.language == babel_locale(known).language:
            return known
    return None


def choose(person_locale: str | None, accept_language: str | None, server_locale: str) -> str:
    """The page's locale: the person's, else the browser's, else the server's."""
    if person_locale in LOCALES:
        return person_locale
    return from_accept_language(accept_language) or (
        server_locale if server_locale in LOCALES else LOCALES[0]
    )


class Formats:
    """Dates, durations and numbers as a reader of ``tag`` writes them."""

    def __init__(self, tag: str, zone: Any = None) -> None:
        self.tag = tag
        self.locale = babel_locale(tag)
        self.zone = zone  # a tzinfo for the times shown (None: UTC): the project's

    @property
    def zone_name(self) -> str:
        """The name of the time zone times are shown in (``Asia/Shanghai``, ``UTC``)."""
        return str(getattr(self.zone, "key", None) or "UTC")

    def moment(self, when: datetime | None, style: str = "medium") -> str:
        if when is None:
            return ""
        return format_datetime(when, style, tzinfo=self.zone, locale=self.locale)

    def duration(self, span: timedelta) -> str:
        """``3 days``, ``2 hours``: the span's size, without a sign."""
        return format_timedelta(abs(span), threshold=1.1, locale=self.locale)

    def working(self, span: timedelta) -> str:
        """``15 hours``, ``40 minutes``: working time in hours (a working day's length
        depends on the calendar, so it is never written in days), without a sign."""
        size = abs(span)
        if size >= timedelta(hours=1):
            return format_timedelta(size, threshold=1e9, granularity="hour", locale=self.locale)
        return format_timedelta(size, threshold=1e9, granularity="minute", locale=self.locale)

    def relative(self, when: datetime, now: datetime) -> str:
        """``in 3 hours``, ``2 days ago``: ``when`` seen from ``now``."""
        return format_timedelta(when - now, threshold=1.5, add_direction=True, locale=self.locale)

    def number(self, value: float | int) -> str:
        return format_decimal(value, locale=self.locale)


__all__ = ["LOCALES", "Formats", "choose", "from_accept_language", "match", "translations"]
