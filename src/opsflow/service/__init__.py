"""The HTTP API (``opsflow serve``): a door like the CLI, calling the same ``Engine``.

Needs the ``opsflow[server]`` extra (FastAPI, uvicorn, prometheus-client). It holds no SQL
and no business logic: every request becomes one ``Engine`` call as the authenticated actor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsflow.service.app import create_app


def __getattr__(name: str) -> Any:
    # Imported on first use, so ``python -m opsflow.service.openapi`` runs its module once.
    if name == "create_app":
        from opsflow.service.app import create_app

        return create_app
    raise AttributeError(name)


__all__ = ["create_app"]
