"""`opsflow serve`: the HTTP API on uvicorn (needs the ``opsflow[server]`` extra)."""

from __future__ import annotations

import importlib.util
import os

import click

from opsflow.cli.context import app

# uvicorn's C parser (httptools) with each answer sent in one write: service/transport.py
PROTOCOL = "opsflow.service.transport:JoinedWritesProtocol"
MISSING = "opsflow serve needs the server extra: pip install 'opsflow[server]'"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="The port."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes answering requests (each with its own engine and database pool).",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log one line per request. Turn it off behind a reverse proxy that logs them.",
)
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the HTTP API (FastAPI on uvicorn) on this project's database.

    Every request authenticates with 'Authorization: Bearer TOKEN'. /healthz and /readyz
    answer load balancers without authentication. Put a reverse proxy with TLS in front
    when it listens beyond 127.0.0.1. On PostgreSQL, any number of serve processes on any
    number of hosts may share the database.

    Examples:

    \b
      opsflow serve
      opsflow serve --host 0.0.0.0 --port 8080 --workers 4
      opsflow serve --no-access-log        # behind a proxy that logs requests
      curl http://127.0.0.1:8080/readyz
    """
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise click.ClickException(MISSING)
    import uvicorn

    settings = app().settings()  # a bad opsflow.yaml is reported here, before listening
    # Each worker process builds its engine from the environment (the app factory).
    os.environ["OPSFLOW_DB"] = settings.db_url
    os.environ["OPSFLOW_WORKFLOWS"] = str(settings.workflows_dir)
    if settings.config_path is not None:
        os.environ["OPSFLOW_CONFIG"] = str(settings.config_path)
    if settings.plugins_dir is not None:
        os.environ["OPSFLOW_PLUGINS_DIR"] = str(settings.plugins_dir)
    uvicorn.run(
        "opsflow.service.app:from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        server_header=False,
        access_log=access_log,
        http=PROTOCOL if importlib.util.find_spec("httptools") is not None else "auto",
    )


COMMANDS: list[click.Command] = [serve]
