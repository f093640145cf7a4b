"""opsflow's safe expression language (SPEC §2.6): compiled once, evaluated on every fire.

The text is parsed once with `ast.parse(mode="eval")` and checked against an allow-list
of syntax; each allowed node becomes a small Python closure, so evaluation walks no tree
and never reaches `eval`, `getattr` or any Python object the expression did not build.

Semantics (the language reference in docs/ should say the same):

- names read the scope only; `data.x`, `metrics.x`, `actor.name`, `actor.roles` read dict
  keys (`.get`), and a missing key or unset field is `null`;
- `true`/`false`/`null` are aliases of `True`/`False`/`None`; tuples are lists; dict and
  set literals, slicing and `%` string formatting are refused;
- arithmetic with `null` gives `null`; `<`, `<=`, `>`, `>=` with `null` are false; `in null`
  is false; a Decimal (money) meeting a float is taken as a float; a date meeting a datetime
  is compared with the datetime's UTC date;
- `len(null)` is 0; `min`/`max` skip nulls (null when nothing is left); `days_since` of a
  date counts whole calendar days, of a datetime fractional days; `fields` lists the
  fields read, bare (`budget`) or through `data` (`data.budget`, `data['budget']`);
- every result is bounded (integer size, exponent, string and list length, total data
  built), at compile time for constant parts and at run time for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from opsflow.errors import EvaluationError, ExpressionError
from opsflow.language._compiler import (
    BUILTIN_FUNCTIONS,
    CONTEXT_NAMES,
    NO_FUNCTIONS,
    compile_tree,
    parse_tree,
)
from opsflow.language._evaluator import (
    MAX_ALLOCATION,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_LENGTH,
    MAX_NODES,
    MAX_TEXT_LENGTH,
    Program,
    Run,
)


class Expression:
    """A compiled expression: evaluate it against a scope as often as needed."""

    __slots__ = ("_program", "fields", "functions", "source")

    def __init__(
        self, source: str, fields: frozenset[str], functions: frozenset[str], program: Program
    ) -> None:
        self.source = source
        self.fields = fields  # field names read, bare (`budget`) or through data (`data.budget`)
        self.functions = functions  # names of the functions called
        self._program = program

    def evaluate(
        self,
        scope: Mapping[str, Any],
        functions: Mapping[str, Callable[..., Any]] = NO_FUNCTIONS,
    ) -> Any:
        """The value of the expression; `EvaluationError` when it cannot be computed."""
        try:
            return self._program(Run(scope, functions))
        except (ArithmeticError, ValueError, TypeError, LookupError, RecursionError) as exc:
            # The operators raise EvaluationError themselves; this keeps a gap in them (a
            # datetime a plugin built, say) from becoming a crash of fire, status or inbox.
            raise EvaluationError(f"cannot evaluate: {type(exc).__name__}: {exc}") from None

    def __reduce__(self) -> tuple[Any, ...]:
        # Closures do not pickle: recompile from the source, which is checked again.
        return (_restore, (self.source, self.fields, self.functions))

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def _restore(source: str, fields: frozenset[str], functions: frozenset[str]) -> Expression:
    return compile_expression(source, names=fields, functions=functions)


def compile_expression(
    text: str,
    *,
    names: Collection[str],
    functions: Collection[str] = (),
    metrics: Collection[str] | None = None,
) -> Expression:
    """Parse and check `text` once; `names` are the fields, `functions` the plugin functions.

    With `metrics` (the workflow's metric names), `metrics.x` must name one of them.
    """
    known_metrics = None if metrics is None else frozenset(metrics)
    program, fields, called = compile_tree(
        text, frozenset(names), frozenset(functions), known_metrics
    )
    return Expression(text, fields, called, program)


__all__ = [
    "BUILTIN_FUNCTIONS",
    "CONTEXT_NAMES",
    "MAX_ALLOCATION",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_TEXT_LENGTH",
    "EvaluationError",
    "Expression",
    "ExpressionError",
    "compile_expression",
    "parse_tree",
]
