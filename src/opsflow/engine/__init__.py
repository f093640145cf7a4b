"""The engine: the one unit of work on cases, their rows, definitions and audit.

``CaseEngine`` is the case work; ``opsflow.Engine`` adds the runners on top of it.
"""

from opsflow.engine.engine import CaseEngine

__all__ = ["CaseEngine"]
