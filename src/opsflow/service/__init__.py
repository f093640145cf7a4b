"""The HTTP API (``opsflow serve``): a door like the CLI, calling the same ``Engine``.

Needs the ``opsflow[server]`` extra (FastAPI, uvicorn, prometheus-client). It holds no SQL
and no business logic: every request becomes one ``Engine`` call as the authenticated actor.
"""

from __future__ import annotations

from opsflow.service.app import create_app

__all__ = ["create_app"]
