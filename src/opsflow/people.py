"""Who is in the team beyond their roles, who administers, and how ``opsflow serve`` runs.

The long form of a ``team`` entry (``{roles, name, email, locale, delegate}``), ``admins:``
and ``server:`` of ``opsflow.yaml``, checked into frozen settings. ``opsflow.config`` reads
the file and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from opsflow.suggest import did_you_mean, unknown_keys

PERSON_KEYS = ("roles", "name", "email", "locale", "delegate")
DELEGATE_KEYS = ("to", "from", "until")
SERVER_KEYS = ("base_url", "locale", "login", "session_hours")
LOGIN_KEYS = ("password", "oidc")
OIDC_KEYS = ("issuer", "client_id", "client_secret", "username_claim", "scopes")
LOCALES = ("zh-CN", "en")


@dataclass(frozen=True)
class Delegation:
    """``delegate: {to, from, until}`` on a team entry: who covers, and between which days."""

    to: str
    start: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class Person:
    """A team entry's long form beyond its roles (display name, email, locale, delegate)."""

    display_name: str | None = None
    email: str | None = None
    locale: str | None = None
    delegate: Delegation | None = None


@dataclass(frozen=True)
class OidcSettings:
    """``server.login.oidc``: an OpenID Connect issuer for the board's login."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    username_claim: str = "preferred_username"
    scopes: tuple[str, ...] = ("openid", "profile", "email")


@dataclass(frozen=True)
class ServerSettings:
    """``server:``: what ``opsflow serve`` needs beyond the engine."""

    base_url: str | None = None
    locale: str = "zh-CN"
    password_login: bool = True
    oidc: OidcSettings | None = None
    session_hours: float = 12.0

    @property
    def secure_cookies(self) -> bool:
        """Cookies are ``Secure`` when the service is reached over https."""
        return bool(self.base_url and self.base_url.lower().startswith("https://"))


def people_of(value: Any, problems: list[str]) -> dict[str, Person]:
    """The long form of ``team`` entries: display name, email, locale and delegate."""
    if not isinstance(value, dict):
        return {}
    people: dict[str, Person] = {}
    for person, entry in value.items():
        if not isinstance(person, str) or not isinstance(entry, dict):
            continue
        where = f"team.{person}"
        problems.extend(unknown_keys(entry, PERSON_KEYS, where))
        texts = {}
        for key in ("name", "email", "locale"):
            item = entry.get(key)
            if item is not None and (not isinstance(item, str) or not item.strip()):
                problems.append(f"{where}.{key}: must be a non-empty string")
                item = None
            texts[key] = item
        if texts["locale"] is not None and texts["locale"] not in LOCALES:
            problems.append(f"{where}.locale: must be one of {', '.join(LOCALES)}")
        people[person] = Person(
            display_name=texts["name"],
            email=texts["email"],
            locale=texts["locale"],
            delegate=_delegation(entry.get("delegate"), person, value, where, problems),
        )
    problems.extend(delegation_cycles(people))
    return people


def delegation_cycles(people: Mapping[str, Person]) -> list[str]:
    """A problem for each loop of delegations whose dates overlap (alice → bob → alice).

    Each person delegates to at most one other, so following ``delegate.to`` from anyone
    either stops or comes back round; a loop is reported once, from its first name. Loops
    never active on the same day (alice away in December, bob in January) are fine.
    """
    found: list[str] = []
    seen: set[str] = set()
    for first in sorted(people):
        path: list[str] = []
        person: str | None = first
        while person is not None and person not in seen and person not in path:
            path.append(person)
            entry = people.get(person)
            person = entry.delegate.to if entry and entry.delegate else None
        seen.update(path)
        if person is None or person not in path:
            continue
        loop = path[path.index(person) :]
        delegations = [people[p].delegate for p in loop]
        starts = [d.start for d in delegations if d and d.start]
        untils = [d.until for d in delegations if d and d.until]
        if starts and untils and max(starts) > min(untils):
            continue  # never all active at once
        shown = " → ".join([*loop, loop[0]])
        found.append(
            f"team.{loop[0]}.delegate: delegations go round in a loop ({shown}); "
            "someone in it must delegate to a person outside it"
        )
    return found


def _delegation(
    value: Any, person: str, team: Mapping[Any, Any], where: str, problems: list[str]
) -> Delegation | None:
    """``delegate: {to, from, until}``: to a team member other than the person."""
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(f"{where}.delegate: must be a mapping with to, from, until")
        return None
    problems.extend(unknown_keys(value, DELEGATE_KEYS, f"{where}.delegate"))
    to = value.get("to")
    if not isinstance(to, str) or not to:
        problems.append(f"{where}.delegate.to: must name a team member")
        return None
    if to == person:
        problems.append(f"{where}.delegate.to: a person cannot delegate to themselves")
        return None
    if to not in team:
        problems.append(f"{where}.delegate.to: {to!r} is not in team{did_you_mean(to, team)}")
        return None
    bounds: dict[str, date | None] = {}
    for key in ("from", "until"):
        day = value.get(key)
        if isinstance(day, datetime):  # YAML reads 2026-12-20 09:00:00 as a time: a day is meant
            problems.append(f"{where}.delegate.{key}: {day} is a time, not a date (YYYY-MM-DD)")
            day = None
        elif day is not None and not isinstance(day, date):
            try:
                day = date.fromisoformat(str(day))
            except ValueError:
                problems.append(f"{where}.delegate.{key}: {day!r} is not a date (YYYY-MM-DD)")
                day = None
        bounds[key] = day
    start, until = bounds["from"], bounds["until"]
    if start and until and until < start:
        problems.append(f"{where}.delegate: `until` ({until}) is before `from` ({start})")
    return Delegation(to=to, start=start, until=until)


def admins_of(value: Any, team: Any, problems: list[str]) -> list[str]:
    """``admins``: team members who may retry notifications, verify the audit, manage tokens."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append("admins: must be a list of team members")
        return []
    if isinstance(team, dict) and team:
        for name in value:
            if name not in team:
                problems.append(f"admins: {name!r} is not in team{did_you_mean(name, team)}")
    return list(dict.fromkeys(value))


def server_of(value: Any, problems: list[str]) -> ServerSettings:
    """``server: {base_url, locale, login: {password, oidc}, session_hours}``, checked."""
    if value is None:
        return ServerSettings()
    if not isinstance(value, dict):
        problems.append("server: must be a mapping with base_url, locale, login")
        return ServerSettings()
    problems.extend(unknown_keys(value, SERVER_KEYS, "server"))
    base_url = value.get("base_url")
    if base_url is not None and not (
        isinstance(base_url, str) and urlsplit(base_url).scheme in ("http", "https")
    ):
        problems.append("server.base_url: must be an http:// or https:// address")
        base_url = None
    locale = value.get("locale", "zh-CN")
    if locale not in LOCALES:
        problems.append(f"server.locale: must be one of {', '.join(LOCALES)}")
        locale = "zh-CN"
    hours = value.get("session_hours", 12)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 90:
        problems.append("server.session_hours: must be a number of hours (at most 2160)")
        hours = 12
    login = value.get("login") or {}
    if not isinstance(login, dict):
        problems.append("server.login: must be a mapping with password, oidc")
        login = {}
    problems.extend(unknown_keys(login, LOGIN_KEYS, "server.login"))
    password = login.get("password", True)
    if not isinstance(password, bool):
        problems.append("server.login.password: must be true or false")
        password = True
    return ServerSettings(
        base_url=base_url.rstrip("/") if isinstance(base_url, str) else None,
        locale=locale,
        password_login=password,
        oidc=_oidc(login.get("oidc"), problems),
        session_hours=float(hours),
    )


def _oidc(value: Any, problems: list[str]) -> OidcSettings | None:
    if value is None:
        return None
    where = "server.login.oidc"
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a mapping with issuer, client_id, client_secret")
        return None
    problems.extend(unknown_keys(value, OIDC_KEYS, where))
    issuer, client_id = value.get("issuer"), value.get("client_id")
    if not (isinstance(issuer, str) and urlsplit(issuer).scheme in ("http", "https")):
        problems.append(f"{where}.issuer: must be the issuer's http(s) address")
        return None
    if not isinstance(client_id, str) or not client_id:
        problems.append(f"{where}.client_id: is required")
        return None
    secret = value.get("client_secret")
    claim = value.get("username_claim", "preferred_username")
    scopes = value.get("scopes", ["openid", "profile", "email"])
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(claim, str) or not claim:
        problems.append(f"{where}.username_claim: must be a claim name")
        claim = "preferred_username"
    if not isinstance(scopes, list) or "openid" not in scopes:
        problems.append(f"{where}.scopes: must be a list that includes openid")
        scopes = ["openid", "profile", "email"]
    return OidcSettings(
        issuer=issuer.rstrip("/"),
        client_id=client_id,
        client_secret=str(secret) if secret is not None else None,
        username_claim=claim,
        scopes=tuple(str(s) for s in scopes),
    )


__all__ = [
    "Delegation",
    "OidcSettings",
    "Person",
    "ServerSettings",
    "admins_of",
    "delegation_cycles",
    "people_of",
    "server_of",
]
