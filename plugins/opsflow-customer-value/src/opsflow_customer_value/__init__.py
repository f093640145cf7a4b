"""opsflow plugin: customer lifetime value and CAC payback calculators, and ``pct_change()``.

Installed with pip, opsflow finds it through the entry point ``customer_value`` in the
group ``opsflow`` (see ``pyproject.toml``); this module holds the hook implementations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsflow import hookimpl

from opsflow_customer_value.calculators import CacPaybackParams, ClvParams, cac_payback, clv
from opsflow_customer_value.functions import pct_change

__version__ = "0.1.0"


@hookimpl
def register_calculators(register: Callable[..., Any]) -> None:
    """``clv`` and ``cac_payback``."""
    register("clv", clv, params_model=ClvParams)
    register("cac_payback", cac_payback, params_model=CacPaybackParams)


@hookimpl
def register_functions(register: Callable[..., Any]) -> None:
    """``pct_change(old, new)`` for ``when`` guards, ``set`` and rules."""
    register("pct_change", pct_change)


__all__ = ["__version__", "cac_payback", "clv", "pct_change"]
