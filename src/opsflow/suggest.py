"""The one "did you mean" hint: the closest known name to a misspelt one (stdlib only)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (difflib's 0.6 cutoff), or None."""
    # get_close_matches breaks ties by the name itself, so the order of ``known`` is moot.
    matches = difflib.get_close_matches(name, list(known), n=1)
    return matches[0] if matches else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or an empty string."""
    match = closest(name, known)
    return f" (did you mean '{match}'?)" if match is not None else ""


def unknown_keys(section: Mapping[Any, Any], known: tuple[str, ...], where: str) -> list[str]:
    """``unknown key 'where.key' (did you mean …)`` for each key of ``section`` not ``known``."""
    problems = []
    for key in section:
        if key not in known:
            name = f"{where}.{key}" if where else str(key)
            problems.append(f"unknown key '{name}'{did_you_mean(str(key), known)}")
    return problems


__all__ = ["closest", "did_you_mean", "unknown_keys"]
