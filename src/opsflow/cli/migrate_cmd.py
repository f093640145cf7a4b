"""`opsflow migrate`: move open cases to another definition version."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
