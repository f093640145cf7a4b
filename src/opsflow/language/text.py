"""Text a workflow shows people, in one language or several (SPEC §8).

A workflow's ``title`` and ``description``, and those of its states, transitions, fields,
metrics and rules, are either plain text or a map of locale tag to text::

    title: {zh-CN: 内容审批, en: Content approval}

:data:`LocalizedText` validates both forms (tags are normalised: ``zh_cn`` becomes
``zh-CN``); :func:`localized` picks the text for one reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

# language[-Script][-REGION], as in BCP 47 (zh-CN, en, en-GB, zh-Hant-TW, es-419)
_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?")
TAG_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z]{4})?([-_]([A-Za-z]{2}|[0-9]{3}))?$"
EXAMPLE = "zh-CN: …, en: …"


def locale_tag(tag: str) -> str | None:
    """``tag`` in its usual spelling (``zh_cn`` → ``zh-CN``), or None when it is not one."""
    found = _TAG.fullmatch(tag.strip())
    if found is None:
        return None
    language, script, region = found.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "empty" if value is None else type(value).__name__


def check_text(value: Any) -> str | dict[str, str]:
    """``value`` as a title or description: non-empty text, or a map of tag to text.

    Raises ValueError with a message meant for the workflow's author.
    """
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("empty text: write the text, or leave the key out")
        return value
    if not isinstance(value, dict):
        raise ValueError(
            f"expected text or a map of locale to text ({EXAMPLE}), not {_kind(value)}"
        )
    if not value:
        raise ValueError(f"an empty map: give the text in at least one locale ({EXAMPLE})")
    texts: dict[str, str] = {}
    for key, text in value.items():
        tag = locale_tag(key) if isinstance(key, str) else None
        if tag is None:
            raise ValueError(
                f"{str(key)!r} is not a locale tag: use a language code with an optional "
                "region, like zh-CN, en or en-GB"
            )
        if tag in texts:
            raise ValueError(f"the locale {tag} is given twice (tags ignore case)")
        if not isinstance(text, str):
            raise ValueError(f"the {tag} value must be text, not {_kind(text)}")
        if not text.strip():
            raise ValueError(f"the {tag} text is empty")
        texts[tag] = text
    return texts


_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "description": "the text per locale, e.g. {zh-CN: 内容审批, en: Content approval}",
            "minProperties": 1,
            "propertyNames": {"pattern": TAG_PATTERN},
            "additionalProperties": {"type": "string", "minLength": 1},
        },
    ]
}

LocalizedText = Annotated[str | dict[str, str], PlainValidator(check_text), WithJsonSchema(_SCHEMA)]
"""Plain text, or a map of locale tag to text (validated and normalised by :func:`check_text`)."""


def _language(tag: str) -> str:
    return tag.split("-", 1)[0]


def _pick(texts: Mapping[str, str], locale: str) -> str | None:
    """The text for ``locale``: its exact tag, else its language alone, else the same language."""
    tag = locale_tag(locale)
    if tag is None:
        return None
    if tag in texts:
        return texts[tag]
    language = _language(tag)
    if language in texts:
        return texts[language]
    return next((text for key, text in texts.items() if _language(key) == language), None)


def localized(
    value: str | Mapping[str, str] | None, locale: str | None, fallback: str | None = None
) -> str | None:
    """The text of ``value`` for a reader of ``locale``.

    Plain text is returned as it is. From a map: the exact tag (``zh-CN``), else the same
    language (``zh-CN`` ↔ ``zh``, ``en-GB`` → ``en`` or ``en-US``), else the same for
    ``fallback``, else the first text of the map. Tags are compared ignoring case and
    ``_``/``-`` (``zh_cn`` is ``zh-CN``). None gives None.
    """
    if value is None or isinstance(value, str):
        return value
    texts = {locale_tag(key) or key: text for key, text in value.items()}
    for wanted in (locale, fallback):
        if wanted:
            found = _pick(texts, wanted)
            if found is not None:
                return found
    return next(iter(texts.values()), None)


__all__ = ["TAG_PATTERN", "LocalizedText", "check_text", "locale_tag", "localized"]
