"""A change freeze: a ``before_transition`` guard that refuses frozen events.

While the freeze file exists, the events it lists are refused for every case (people and
timers alike); the refusal is written to the case's history as a ``denied`` entry. The
file is ``CHANGE_FREEZE`` in the working directory (the project directory when opsflow runs
there), or the path in ``OPSFLOW_CHANGE_FREEZE``::

    # Singles' Day freeze until 11-12: nothing goes live
    publish
    content_approval:approve
    *

Lines are event names, ``workflow:event`` or ``*`` (every event); ``#`` lines are the
reason shown to whoever is refused. A file with no event line freezes every event.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FREEZE_ENV = "OPSFLOW_CHANGE_FREEZE"
DEFAULT_FILE = "CHANGE_FREEZE"


@dataclass(frozen=True)
class Freeze:
    """What the freeze file says."""

    path: Path
    reason: str
    events: frozenset[str]

    def covers(self, workflow: str, event: str) -> bool:
        """Whether ``event`` of ``workflow`` is frozen."""
        return bool({"*", event, f"{workflow}:{event}"} & self.events)


def freeze_file(env: Mapping[str, str] | None = None) -> Path:
    """Where the freeze file is looked for."""
    env = os.environ if env is None else env
    return Path(env.get(FREEZE_ENV) or DEFAULT_FILE)


def current_freeze(env: Mapping[str, str] | None = None) -> Freeze | None:
    """The freeze in force, or None when there is no freeze file."""
    path = freeze_file(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    reasons, events = [], set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            reasons.append(line.lstrip("#").strip())
        elif line:
            events.add(line)
    return Freeze(path, "; ".join(r for r in reasons if r), frozenset(events or {"*"}))


def refusal(case: Mapping[str, Any], transition: Mapping[str, Any]) -> str | None:
    """The refusal for this transition under the current freeze, or None."""
    freeze = current_freeze()
    if freeze is None:
        return None
    event = str(transition["event"])
    if not freeze.covers(str(case.get("workflow", "")), event):
        return None
    why = f": {freeze.reason}" if freeze.reason else ""
    return f"change freeze ({freeze.path}) holds event '{event}'{why}"
