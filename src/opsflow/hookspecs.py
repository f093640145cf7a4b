"""The plugin hooks of opsflow (SPEC §4): implement them with ``@opsflow.hookimpl``.

Every hook takes keyword arguments; an implementation may accept any subset of them.
``docs/plugins.md`` is the plugin guide: each hook with its signature and an example.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("opsflow")
hookimpl = pluggy.HookimplMarker("opsflow")


@hookspec
def register_calculators(register: Any) -> None:
    """Register metric calculators: ``register(name, fn, params_model=None)``.

    ``fn(params, ctx)`` returns a number, None or a JSON-able dict, and raises
    ``opsflow.Invalid`` for bad params or data. ``ctx`` is a
    :class:`opsflow.plugins.CalculatorContext`: the case (read-only), the data sources,
    ``now`` and the project's base directory. With ``params_model`` (a pydantic model
    class), the params are validated through it and ``fn`` receives the model instance;
    without it, ``fn`` receives the params dict.
    """


@hookspec
def register_notifiers(register: Any) -> None:
    """Register notifiers: ``register(name, notifier)``.

    A notifier is a callable ``(notification) -> None`` that raises to ask for a retry;
    ``notification`` is a :class:`opsflow.plugins.Notification` with ``channel``, ``to``,
    ``subject``, ``message``, ``case``, ``event``, ``dedupe_key`` and the channel's
    ``settings``.
    """


@hookspec
def register_functions(register: Any) -> None:
    """Register pure functions usable in expressions: ``register(name, fn)``.

    ``fn`` takes and returns opsflow data (None, bool, numbers, str, date, datetime, list,
    dict) and depends on its arguments only; ``name`` is an identifier that is not one of
    the evaluator's own functions.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``opsflow`` CLI group ``cli``: they run as ``opsflow NAME``."""


@hookspec
def before_transition(case: Any, transition: Any, actor: Any) -> str | None:
    """Return a string to refuse the event (the refusal is audited), or None to allow it.

    Every argument is read-only data, reachable both as ``x["key"]`` and ``x.key``:
    ``case`` is the case as JSON (``id``, ``workflow``, ``state``, ``data``, …);
    ``transition`` is the transition about to be taken as written in the workflow
    (``event``, ``from``, ``to``, ``roles``, ``when``, …) plus ``source``, the state the
    case is in; ``actor`` has ``name`` and ``roles``.
    """


@hookspec
def after_transition(case: Any, transition: Any, actor: Any, entry: Any) -> None:
    """Observe a transition after it is committed; an exception here is logged, not raised.

    ``case``, ``transition`` and ``actor`` are as for :func:`before_transition`; ``entry``
    is the transition's history entry (``seq``, ``at``, ``actor``, ``kind``, ``event``,
    ``from``, ``to``, ``data_changes``, ``comment``, ``hash``).
    """
