"""The ``email`` notifier: one plain-text UTF-8 message over SMTP (``email.message``).

Settings: ``host`` (default ``localhost``), ``port`` (default 25; 465 with ``ssl``),
``sender`` (required; ``from`` is accepted too), ``username`` / ``password`` (login when
given), ``starttls`` (upgrade a plain connection), ``ssl`` (TLS from the start),
``timeout`` (seconds, default 10), ``addresses`` and ``domain`` (see below).

Recipients. ``to`` is one or more names separated by commas or semicolons; each is, in
this order:

1. an address, when it contains ``@`` (``"Ann <ann@example.com>"`` too) — used as is;
2. a key of the channel's ``addresses`` mapping (a person or a role) — its address, or
   its list of addresses;
3. a role held by people in ``team`` — each of those people, through ``addresses``, else
   ``person@domain`` when the channel sets ``domain``;
4. otherwise, with ``domain`` set, ``name@domain``.

A name none of these resolves is an error naming it (retried, so adding the address to
``opsflow.yaml`` lets the next attempt through).

The ``Message-ID`` is derived from the notification's ``dedupe_key``, the same on every
attempt, so a mail system that deduplicates by Message-ID drops a repeat. SMTP 5xx
answers (the server refused for good) are permanent; 4xx answers and network errors are
retried.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from opsflow.builtins.notifier_kit import (
    TEAM_SETTING,
    scrub,
    setting_bool,
    setting_str,
    timeout_setting,
)
from opsflow.errors import NotifierError, PermanentNotifierError
from opsflow.plugins import Notification

if TYPE_CHECKING:  # smtplib, ssl and email load only when an email is sent
    from email.message import EmailMessage

SUBJECT_FROM_MESSAGE = 78  # a subject taken from the message's first line is cut here
_SEPARATORS = re.compile(r"[,;]")


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in _SEPARATORS.split(value) if v.strip()]
    if isinstance(value, Iterable):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


def recipients(notification: Notification) -> list[str]:
    """The addresses ``to`` names (see the module docstring for the rules)."""
    settings = notification.settings
    addresses = settings.get("addresses") or {}
    team = settings.get(TEAM_SETTING) or {}
    domain = settings.get("domain") if isinstance(settings.get("domain"), str) else None
    if not isinstance(addresses, dict):
        raise NotifierError(
            f"channel '{notification.channel}': `addresses` must map people or roles to addresses"
        )

    def person_address(person: str) -> list[str]:
        if person in addresses:
            return _as_list(addresses[person])
        return [f"{person}@{domain}"] if domain else []

    found: list[str] = []
    missing: list[str] = []
    for name in _as_list(notification.to):
        if "@" in name:
            found.append(name)
        elif name in addresses:
            found.extend(_as_list(addresses[name]))
        elif members := [p for p, roles in team.items() if name in (roles or [])]:
            for person in members:
                resolved = person_address(person)
                found.extend(resolved)
                if not resolved:
                    missing.append(f"{person} ({name})")
        elif domain:
            found.append(f"{name}@{domain}")
        else:
            missing.append(name)
    if missing:
        raise NotifierError(
            f"channel '{notification.channel}': no email address for {', '.join(missing)}"
            " (add it to the channel's `addresses`, or set its `domain`)"
        )
    if not found:
        raise NotifierError(f"channel '{notification.channel}': the notification names no one")
    return list(dict.fromkeys(found))


def build_message(notification: Notification, sender: str, to: list[str]) -> EmailMessage:
    """The message: UTF-8 subject and plain-text body, a Message-ID from the dedupe key."""
    from email.message import EmailMessage
    from email.utils import formatdate

    message = EmailMessage()
    subject = notification.subject
    if not subject:
        first = notification.message.strip().splitlines()[0] if notification.message.strip() else ""
        subject = first[:SUBJECT_FROM_MESSAGE] or f"opsflow: case {notification.case[:8]}"
    message["Subject"] = " ".join(subject.split())
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(usegmt=True)
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else "opsflow.invalid"
    message["Message-ID"] = f"<{notification.dedupe_key}.opsflow@{domain}>"
    message["X-Opsflow-Case"] = notification.case
    message["X-Opsflow-Dedupe-Key"] = notification.dedupe_key
    message.set_content(notification.message, charset="utf-8")
    return message


def email(notification: Notification) -> None:
    """Send the notification by SMTP to the addresses its ``to`` resolves to."""
    import smtplib

    sender = setting_str(notification, "sender", "from")
    host = setting_str(notification, "host", default="localhost")
    use_ssl = setting_bool(notification, "ssl")
    port = _port(notification, 465 if use_ssl else 25)
    timeout = timeout_setting(notification)
    to = recipients(notification)
    message = build_message(notification, sender, to)
    where = f"SMTP {host}:{port}"
    try:
        refused = _send(notification, message, host, port, timeout, use_ssl)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = {code for code, _text in exc.recipients.values()}
        text = _refusals(exc.recipients)
        error = PermanentNotifierError if all(c >= 500 for c in codes) else NotifierError
        raise error(
            scrub(f"{where} refused every recipient: {text}", notification.settings)
        ) from None
    except smtplib.SMTPResponseException as exc:
        reply = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        error = PermanentNotifierError if exc.smtp_code >= 500 else NotifierError
        detail = scrub(" ".join(reply.split()), notification.settings)
        raise error(f"{where} answered {exc.smtp_code} {detail}") from None
    except (OSError, smtplib.SMTPException) as exc:
        reason = scrub(" ".join(str(exc).split()) or type(exc).__name__, notification.settings)
        raise NotifierError(f"{where}: {type(exc).__name__}: {reason}") from None
    if refused:
        # some got it: a retry would send it to them again, so the row is failed with the reason
        raise PermanentNotifierError(
            scrub(f"{where} refused some recipients: {_refusals(refused)}", notification.settings)
        )


def _send(
    notification: Notification,
    message: EmailMessage,
    host: str,
    port: int,
    timeout: float,
    use_ssl: bool,
) -> dict[str, tuple[int, bytes]]:
    import smtplib
    import ssl
    from email.utils import getaddresses

    smtp: smtplib.SMTP
    if use_ssl:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if setting_bool(notification, "starttls") and not use_ssl:
            smtp.starttls(context=ssl.create_default_context())
        username = notification.settings.get("username")
        if isinstance(username, str) and username:
            smtp.login(username, str(notification.settings.get("password") or ""))
        envelope_to = [addr for _name, addr in getaddresses(message.get_all("To", []))]
        return smtp.send_message(message, to_addrs=envelope_to)


def _port(notification: Notification, default: int) -> int:
    raw = notification.settings.get("port", default)
    try:
        port = int(raw)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise NotifierError(f"channel '{notification.channel}': `port` must be a TCP port")
    return port


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{addr} ({code} {text.decode('utf-8', 'replace').strip()})"
        for addr, (code, text) in refused.items()
    )


NOTIFIERS: dict[str, Callable[[Notification], None]] = {"email": email}
