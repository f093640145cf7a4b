"""What plugin hooks receive: plain read-only data, reachable as ``x["key"]`` or ``x.key``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class HookView(Mapping[str, Any]):
    """A read-only mapping whose keys are also attributes (``transition.event``)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("hook arguments are read-only")

    def __repr__(self) -> str:
        return f"HookView({self._data!r})"


def transition_view(spec: Any, source: str) -> HookView:
    """A transition as hooks see it: its definition plus the state it leaves.

    An internal transition's ``to`` is its source: the state the case stays in.
    """
    data = spec.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["source"] = source
    data.setdefault("to", source)
    return HookView(data)


def actor_view(name: str, roles: frozenset[str]) -> HookView:
    return HookView({"name": name, "roles": sorted(roles)})
