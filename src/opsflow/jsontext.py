"""Canonical JSON text: compact, keys sorted, UTF-8 kept, as opsflow stores and hashes it.

Its own low module so that the pure core (metrics, replay), the engine and the store all
write the same text without the core importing the store (:mod:`opsflow.store.types`
re-exports both functions).
"""

from __future__ import annotations

import json
from json.decoder import JSONDecoder
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any


def _dumps_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


# ``json.dumps`` with options builds a ``JSONEncoder`` and, in it, a C encoder per call:
# several microseconds, paid four times a fire. The C encoder is made here directly with
# exactly the arguments ``JSONEncoder.iterencode`` passes for ``_dumps_json``'s options
# (fresh circular-reference markers each call, as there), so the text is the same.
_ENCODER_ARGS = (str, encode_basestring, None, ":", ",", True, False, True)


def dumps(value: Any) -> str:
    """Compact JSON text as opsflow stores it (UTF-8 kept, keys sorted for stable hashes)."""
    if type(value) is dict and not value:
        return "{}"
    if c_make_encoder is None or isinstance(value, str):  # no C accelerator; a bare string
        return _dumps_json(value)
    return "".join(c_make_encoder({}, *_ENCODER_ARGS)(value, 0))


_scan_once = JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(text: str) -> Any:
    """``json.loads(text)``, cheaper for the compact text :func:`dumps` writes."""
    if text == "{}":
        return {}
    if type(text) is str:
        try:
            value, end = _scan_once(text, 0)
        except StopIteration:  # not a value at 0 (whitespace, or not JSON): json.loads says
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)  # surrounding whitespace, extra data, errors


def dumps_or_none(value: Any) -> str | None:
    """:func:`dumps`, with ``None`` kept (a nullable JSON column's bind processor)."""
    return None if value is None else dumps(value)


def loads_or_none(text: str | None) -> Any:
    """:func:`loads`, with ``None`` kept (a nullable JSON column's result processor)."""
    return None if text is None else loads(text)
