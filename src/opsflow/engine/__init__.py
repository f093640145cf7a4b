"""The engine: compiled workflows, decisions, steps, and the ``Engine`` facade."""

from opsflow.engine.engine import Engine

__all__ = ["Engine"]
