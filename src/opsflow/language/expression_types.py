"""Static type checks of an expression against the declared field types.

Field types are known when a workflow loads, so some mistakes need no case to show: an
enum compared with a value it does not have (``severity == 'sev 2'``), text ordered
against a number (``title < 5``), text compared with a number, arithmetic on text. Only
what is certain is reported: ``null`` meets anything, and a value whose type cannot be
known statically (a metric, a function's result) is never judged.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from opsflow.language.expressions import ExpressionError
from opsflow.language.models import FieldSpec
from opsflow.suggest import did_you_mean

_TEXT_FIELDS = frozenset({"string", "text", "enum"})
_NUMBER_FIELDS = frozenset({"integer", "number"})
_ORDER = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_EQUAL = {ast.Eq: "==", ast.NotEq: "!="}
_ARITHMETIC = {ast.Sub: "-", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}
_NUMBER_FUNCTIONS = frozenset({"len", "days_since", "hours_since"})


@dataclass(frozen=True)
class Kind:
    """What is statically known of a value: ``text`` or ``number``, and where it comes from."""

    kind: str  # "text" or "number"
    label: str  # "field 'title' (string)", "the number 5", "'abc'"
    values: tuple[str, ...] | None = None  # an enum's values (or the workflow's states)
    owner: str = ""  # "field 'severity'" or "state"
    literal: object = None  # the value of a literal


def type_errors(
    text: str, fields: Mapping[str, FieldSpec], states: Collection[str] | None = None
) -> list[ExpressionError]:
    """Every certain type mistake of an expression that compiled (each at its column)."""
    body = text.lstrip()
    try:
        tree = ast.parse(body, mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return []
    typer = _Typer(text, body, fields, states)
    return list(typer.problems(tree.body))


class _Typer:
    def __init__(
        self, text: str, body: str, fields: Mapping[str, FieldSpec], states: Collection[str] | None
    ) -> None:
        self.fields = fields
        self.states = tuple(sorted(states)) if states is not None else None
        self.lines = body.split("\n")
        lead = text[: len(text) - len(body)]
        self.lead_lines = lead.count("\n")
        self.lead_col = len(lead) - (lead.rfind("\n") + 1)

    def error(self, node: ast.AST, message: str) -> ExpressionError:
        lineno = getattr(node, "lineno", 1)
        offset = getattr(node, "col_offset", 0)
        if 0 < lineno <= len(self.lines):
            offset = len(self.lines[lineno - 1].encode("utf-8")[:offset].decode("utf-8", "replace"))
        if lineno <= 1:
            return ExpressionError(message, self.lead_col + offset + 1, 1 + self.lead_lines)
        return ExpressionError(message, offset + 1, self.lead_lines + lineno)

    def problems(self, root: ast.expr) -> Iterator[ExpressionError]:
        for node in ast.walk(root):
            if isinstance(node, ast.Compare):
                yield from self.compare(node)
            elif isinstance(node, ast.BinOp):
                yield from self.arithmetic(node)

    # -- what a node is ----------------------------------------------------------------

    def kind_of(self, node: ast.expr) -> Kind | None:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str):
                return Kind("text", f"'{value}'", literal=value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return Kind("number", f"the number {value!r}", literal=value)
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.kind_of(node.operand)
            if inner is not None and isinstance(inner.literal, int | float):
                number = -inner.literal if isinstance(node.op, ast.USub) else inner.literal
                return Kind("number", f"the number {number!r}", literal=number)
            return None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and (node.func.id in _NUMBER_FUNCTIONS)
        ):
            return Kind("number", f"{node.func.id}(...)")
        name = _field_name(node)
        if name == "state" and isinstance(node, ast.Name) and self.states is not None:
            return Kind("text", "state", values=self.states, owner="state")
        spec = self.fields.get(name) if name is not None else None
        if spec is None:
            return None
        label = f"field '{name}' ({spec.type})"
        if spec.type in _TEXT_FIELDS:
            values = tuple(spec.values or ()) if spec.type == "enum" else None
            return Kind("text", label, values=values, owner=f"field '{name}'")
        if spec.type in _NUMBER_FIELDS:
            return Kind("number", label)
        return None

    # -- checks ------------------------------------------------------------------------

    def compare(self, node: ast.Compare) -> Iterator[ExpressionError]:
        operands = [node.left, *node.comparators]
        for index, op in enumerate(node.ops):
            left_node, right_node = operands[index], operands[index + 1]
            left, right = self.kind_of(left_node), self.kind_of(right_node)
            if isinstance(op, ast.In | ast.NotIn):
                yield from self.membership(left, right_node)
                continue
            if left is None or right is None:
                continue
            symbol = _ORDER.get(type(op)) or _EQUAL.get(type(op))
            if left.kind != right.kind and symbol is not None:
                yield self.mismatch(node, left, right, symbol, type(op) in _ORDER)
            elif symbol in ("==", "!="):
                yield from self.enum_value(left, right, right_node)
                yield from self.enum_value(right, left, left_node)

    def mismatch(
        self, node: ast.AST, left: Kind, right: Kind, symbol: str, ordered: bool
    ) -> ExpressionError:
        if ordered:
            return self.error(
                node,
                f"'{symbol}' orders {left.label} against {right.label}: "
                "text and numbers cannot be ordered",
            )
        return self.error(
            node,
            f"'{symbol}' compares {left.label} with {right.label}: text is never equal to a number",
        )

    def enum_value(self, side: Kind, other: Kind, other_node: ast.AST) -> Iterator[ExpressionError]:
        if side.values is None or not isinstance(other.literal, str):
            return
        value = other.literal
        if value in side.values:
            return
        what = "a state of this workflow" if side.owner == "state" else (f"a value of {side.owner}")
        hint = did_you_mean(value, side.values) or f" (its values: {', '.join(side.values)})"
        yield self.error(other_node, f"'{value}' is not {what}{hint}")

    def membership(self, left: Kind | None, right: ast.expr) -> Iterator[ExpressionError]:
        if left is None or not isinstance(right, ast.List | ast.Tuple):
            return
        for element in right.elts:
            item = self.kind_of(element)
            if item is None or item.literal is None:
                continue
            if item.kind != left.kind:
                yield self.error(
                    element,
                    f"'in' looks for {left.label} among values that "
                    f"include {item.label}: text is never equal to a number",
                )
            else:
                yield from self.enum_value(left, item, element)

    def arithmetic(self, node: ast.BinOp) -> Iterator[ExpressionError]:
        left, right = self.kind_of(node.left), self.kind_of(node.right)
        if left is None or right is None:
            return
        symbol = _ARITHMETIC.get(type(node.op))
        if isinstance(node.op, ast.Add) and left.kind != right.kind:
            yield self.error(
                node, f"'+' adds {left.label} and {right.label}: text and numbers cannot be added"
            )
        elif symbol is not None and "text" in (left.kind, right.kind):
            text_side = left if left.kind == "text" else right
            yield self.error(node, f"'{symbol}' is arithmetic on {text_side.label}, which is text")


def _field_name(node: ast.expr) -> str | None:
    """The field a node reads: ``budget``, ``data.budget`` or ``data['budget']``."""
    if isinstance(node, ast.Name):
        return node.id
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and (node.value.id == "data")
    ):
        return node.attr
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and (node.value.id == "data")
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.slice.value
    return None
