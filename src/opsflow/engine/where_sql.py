"""Search's ``where`` (SPEC §7.4): the language's parser, a comparison-only subset, one SQL clause.

The text is parsed by the workflow language's own parser (same length, depth and size
bounds), then only comparisons of a field, ``state``, ``assignee``, ``created_at`` or
``updated_at`` with literals, joined by ``and``/``or``/``not``, are accepted.

Meaning (as in the language): a comparison with an unset field is false, and so is one of
a value with a literal of another type (a string with a number); ``!=`` and ``not in`` are
the negations of ``==`` and ``in``, so they hold for unset fields. In SQL each field is read
through a *guarded* expression, NULL unless the stored JSON value has the field's type, so
``guarded > 10`` is NULL (not selected) for unset or mistyped values; ``not`` is pushed
down to the comparisons, where ``not (x > 10)`` becomes ``x IS NULL OR x <= 10``. Positive
comparisons stay bare, so an expression index on the guarded expression (``index: true``,
made by :mod:`opsflow.engine.search_index` from :func:`field_sql`) answers them.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, false, literal_column, or_, true
from sqlalchemy.sql.elements import ColumnClause

from opsflow.clock import in_zone, local
from opsflow.errors import ExpressionError, InvalidQuery
from opsflow.language.expressions import parse_tree
from opsflow.language.models import FieldSpec
from opsflow.store import tables
from opsflow.suggest import did_you_mean

MAX_WHERE_LENGTH = 2_000  # characters (the language's own bound on expression text)
INT_LIMIT = 2**63  # integer literals within ±2^63 (what both databases compare exactly)

# A field's kind: how its JSON value is read and compared. ``None``: not comparable.
KIND_OF_TYPE: Mapping[str, str] = {
    "integer": "number",
    "number": "number",
    "money": "money",
    "string": "text",
    "text": "text",
    "enum": "text",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}
COLUMNS = ("state", "assignee", "created_at", "updated_at")
_TIME_KINDS = frozenset({"date", "datetime", "column:created_at", "column:updated_at"})
_ALIASES: Mapping[str, Any] = {"true": True, "false": False, "null": None}

_OPS: Mapping[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
# Each base comparison and its complement (the comparison true where it is false, for set
# values of the right type): != and not in are negated == and in.
_COMPLEMENT = {"==": "!=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def field_sql(dialect: str, kind: str, field: str) -> str:
    """The guarded SQL of a field's value: NULL unless the stored value has the field's kind.

    The same text goes into the expression index of an ``index: true`` field, so a query
    and its index match exactly. ``field`` is an identifier (``[a-z][a-z0-9_]*``).
    """
    if dialect == "sqlite":
        path = f"'$.{field}'"
        value = f"json_extract(data, {path})"
        json_type = f"json_type(data, {path})"
        if kind == "number":
            return f"CASE WHEN {json_type} IN ('integer', 'real') THEN {value} END"
        if kind == "money":
            return f"CASE WHEN {json_type} = 'text' THEN CAST({value} AS REAL) END"
        if kind == "boolean":
            return f"CASE {json_type} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END"
        return f"CASE WHEN {json_type} = 'text' THEN {value} END"
    node = f"(CAST(data AS jsonb) -> '{field}')"
    value = f"(CAST(data AS jsonb) ->> '{field}')"
    if kind == "number":
        return f"CASE WHEN jsonb_typeof{node} = 'number' THEN CAST({value} AS numeric) END"
    if kind == "money":
        return (
            f"CASE WHEN jsonb_typeof{node} = 'string' AND {value} ~ '^-?[0-9]+(\\.[0-9]+)?$' "
            f"THEN CAST({value} AS numeric) END"
        )
    if kind == "boolean":
        return f"CASE WHEN jsonb_typeof{node} = 'boolean' THEN CAST({value} AS boolean) END"
    # Text compares by code point on both backends (SQLite's BINARY; "C" here).
    return f"CASE WHEN jsonb_typeof{node} = 'string' THEN {value} COLLATE \"C\" END"


def raw_text_sql(dialect: str, field: str) -> str:
    """The field's stored value as text, unguarded (for ``q``, over string fields only)."""
    if dialect == "sqlite":
        return f"json_extract(data, '$.{field}')"
    return f"(CAST(data AS jsonb) ->> '{field}')"


@dataclass(frozen=True)
class FieldKinds:
    """The searchable fields: name -> kind -> the workflows where it has that kind."""

    kinds: Mapping[str, Mapping[str, tuple[str, ...]]]
    unsearchable: Mapping[str, str]  # name -> its type (list)
    indexed: frozenset[str] = frozenset()  # fields declared ``index: true`` (in any workflow)

    @classmethod
    def of(cls, workflows: Mapping[str, Mapping[str, FieldSpec]]) -> FieldKinds:
        """The fields of ``workflows`` (id -> fields)."""
        seen: dict[str, dict[str, list[str]]] = {}
        unsearchable: dict[str, str] = {}
        indexed: set[str] = set()
        for workflow, fields in sorted(workflows.items()):
            for name, spec in fields.items():
                if spec.index:
                    indexed.add(name)
                kind = KIND_OF_TYPE.get(spec.type)
                if kind is None:
                    unsearchable[name] = spec.type
                else:
                    seen.setdefault(name, {}).setdefault(kind, []).append(workflow)
        kinds = {
            name: {kind: tuple(found) for kind, found in by_kind.items()}
            for name, by_kind in seen.items()
        }
        return cls(kinds, unsearchable, frozenset(indexed))


def compile_where(
    text: str, fields: FieldKinds, dialect: str, zone: tzinfo = UTC
) -> tuple[ColumnElement[bool], bool]:
    """The SQL clause of a search's ``where`` over ``tables.cases``, and whether an
    ``index: true`` field's index can find its matches; InvalidQuery if refused.

    A time literal without an offset is read in ``zone`` (the project's time zone)."""
    if len(text) > MAX_WHERE_LENGTH:
        raise InvalidQuery(
            f"where is too long ({len(text):,} characters, limit {MAX_WHERE_LENGTH:,})"
        )
    try:
        tree = parse_tree(text)
    except ExpressionError as exc:
        raise InvalidQuery(f"where: {exc.message} (at column {exc.col})") from None
    compiler = _Where(fields, dialect, zone)
    clause = compiler.clause(tree, negate=False)
    return clause, _by_index(tree, fields, negate=False)


def _by_index(node: ast.expr, fields: FieldKinds, negate: bool) -> bool:
    """Whether every match satisfies a bare comparison on an indexed field (one kind), so an
    index lookup (or a union of them, for ``or``) finds them all. Run on a checked tree."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _by_index(node.operand, fields, not negate)
    if isinstance(node, ast.BoolOp):
        parts = [_by_index(value, fields, negate) for value in node.values]
        return any(parts) if isinstance(node.op, ast.And) != negate else all(parts)
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1:
            return False
        left, right = node.left, node.comparators[0]
        name = _indexed_name(left, fields) or _indexed_name(right, fields)
        positive = isinstance(node.ops[0], ast.Eq | ast.Lt | ast.LtE | ast.Gt | ast.GtE | ast.In)
        negative = isinstance(node.ops[0], ast.NotEq | ast.NotIn)
        return name is not None and (positive if not negate else negative)
    return not negate and _indexed_name(node, fields) is not None  # a bare boolean field


def _indexed_name(node: ast.expr, fields: FieldKinds) -> str | None:
    name = node.id if isinstance(node, ast.Name) else None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        name = node.attr if node.value.id == "data" else None
    if name is None or name not in fields.indexed or len(fields.kinds.get(name, ())) != 1:
        return None
    return name


_Literal = str | int | float | bool | None


class _Where:
    """Turns one checked syntax tree into SQL, pushing ``not`` down to the comparisons."""

    def __init__(self, fields: FieldKinds, dialect: str, zone: tzinfo = UTC) -> None:
        self.fields = fields
        self.dialect = dialect
        self.zone = zone

    def clause(self, node: ast.expr, negate: bool) -> ColumnElement[bool]:
        if isinstance(node, ast.BoolOp):
            parts = [self.clause(value, negate) for value in node.values]
            conjunction = isinstance(node.op, ast.And) != negate
            return and_(*parts) if conjunction else or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.clause(node.operand, not negate)
        if isinstance(node, ast.Compare):
            return self.compare(node, negate)
        if isinstance(node, ast.Name | ast.Attribute):
            name = self.name_of(node)
            if name is not None and set(self.kind(node, name)) == {"boolean"}:
                return self.predicate(name, "==", [True], negate)  # `claims` is `claims == true`
        raise _refuse(node, "where compares fields with literals, like budget > 10000")

    def name_of(self, node: ast.expr) -> str | None:
        """The field or column a node names (``budget``, ``data.budget``), else None."""
        if isinstance(node, ast.Name) and node.id not in _ALIASES:
            return node.id
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "data"
            and not node.attr.startswith("_")
        ):
            return node.attr
        return None

    def kind(self, node: ast.expr, name: str) -> Mapping[str, tuple[str, ...]]:
        """Kind -> workflows of a field; a column is ``{"column:NAME": ()}``."""
        if name in COLUMNS:
            return {f"column:{name}": ()}
        kinds = self.fields.kinds.get(name)
        if kinds is not None:
            return kinds
        if name in self.fields.unsearchable:
            raise _refuse(
                node, f"field '{name}' is a {self.fields.unsearchable[name]}: it cannot be compared"
            )
        if name.startswith("_"):
            raise _refuse(node, f"names starting with '_' are not allowed: '{name}'")
        known = [*self.fields.kinds, *COLUMNS]
        raise _refuse(node, f"unknown field '{name}'{did_you_mean(name, known)}")

    def compare(self, node: ast.Compare, negate: bool) -> ColumnElement[bool]:
        operands = [node.left, *node.comparators]
        parts = []
        for op_node, left, right in zip(node.ops, operands, operands[1:], strict=False):
            op = _OPS.get(type(op_node))
            if op is None:
                raise _refuse(node, "only == != < <= > >= in and not in compare in where")
            parts.append(self.pair(node, op, left, right, negate))
        if len(parts) == 1:
            return parts[0]
        return or_(*parts) if negate else and_(*parts)  # not (a < x < b): either fails

    def pair(
        self, node: ast.Compare, op: str, left: ast.expr, right: ast.expr, negate: bool
    ) -> ColumnElement[bool]:
        name = self.name_of(left)
        if name is None:
            if op in ("in", "not in"):
                raise _refuse(node, "'in' needs a field on the left and a [list] on the right")
            name = self.name_of(right)
            if name is None:
                raise _refuse(node, "each comparison needs a field on one side, like budget > 5")
            op, left, right = _FLIPPED[op], right, left
        self.kind(left, name)  # refuses unknown names before the literal is looked at
        if op in ("in", "not in"):
            if not isinstance(right, ast.List | ast.Tuple):
                raise _refuse(right, "'in' needs a list of literals, like state in ['a', 'b']")
            values = [literal(element) for element in right.elts]
            return self.predicate(name, "in", values, negate != (op == "not in"))
        value = literal(right)
        if op == "!=":
            return self.predicate(name, "==", [value], not negate)
        return self.predicate(name, op, [value], negate)

    def predicate(
        self, name: str, op: str, values: Sequence[_Literal], negate: bool
    ) -> ColumnElement[bool]:
        """``name op value`` (``in``: any of ``values``); its complement when ``negate``.

        A field whose type differs between workflows is compared per workflow, each by its
        own kind: guards alone cannot tell a date from a string stored as the same JSON.
        """
        kinds = self.kind(ast.Name(id=name), name)
        if len(kinds) == 1:
            (kind,) = kinds
            return self.one(name, kind, op, values, negate, lenient=False)
        workflow = tables.cases.c.workflow
        if not negate:
            return or_(
                *(
                    and_(workflow.in_(wfs), self.one(name, kind, op, values, False, lenient=True))
                    for kind, wfs in kinds.items()
                )
            )
        return and_(
            *(
                or_(workflow.not_in(wfs), self.one(name, kind, op, values, True, lenient=True))
                for kind, wfs in kinds.items()
            )
        )

    def one(
        self,
        name: str,
        kind: str,
        op: str,
        values: Sequence[_Literal],
        negate: bool,
        *,
        lenient: bool,
    ) -> ColumnElement[bool]:
        """The predicate for one kind of the field (see ``predicate``)."""
        column, nullable = self.column(name, kind)
        typed = []
        for value in values:
            if value is not None:
                try:
                    found_value = self.typed(kind, name, value)
                except InvalidQuery:
                    if not lenient:
                        raise
                    found_value = None  # 'abc' is no date: false for that workflow's kind
                if found_value is not None:
                    typed.append(found_value)
        wants_unset = any(v is None for v in values) and op in ("==", "in")
        found: list[ColumnElement[bool]] = []
        if op == "in":
            if typed:
                found.append(column.in_([v[0] for v in typed]))
        elif typed:
            found.append(column.op(_SQL[op])(typed[0][0]))
        if wants_unset:
            found.append(column.is_(None))
        if not negate:
            if not found:
                return false()
            return found[0] if len(found) == 1 else or_(*found)
        # The complement: unset (NULL) or of another type, or set and failing the test.
        complements: list[ColumnElement[bool]] = []
        if op == "in":
            if typed:
                complements.append(column.not_in([v[0] for v in typed]))
        elif typed:
            complements.append(column.op(_SQL[_COMPLEMENT[op]])(typed[0][0]))
        if wants_unset:
            return and_(column.is_not(None), *complements) if complements else column.is_not(None)
        if not complements:
            return true()
        return or_(column.is_(None), *complements) if nullable else complements[0]

    def column(self, name: str, kind: str) -> tuple[ColumnElement[Any], bool]:
        """(SQL expression, whether it may be NULL) of a column or a field."""
        if kind.startswith("column:"):
            column = tables.cases.c[name]
            return column, name == "assignee"
        clause: ColumnClause[Any] = literal_column(field_sql(self.dialect, kind, name))
        return clause, True

    def typed(self, kind: str, name: str, value: _Literal) -> tuple[Any] | None:
        """(the literal as the SQL compares it,) or None when its type cannot match."""
        if kind in _TIME_KINDS:
            if not isinstance(value, str):
                return None  # a number is never a time: false, as a string meeting a number
            moment = _moment(value, name, self.zone)
            if kind == "date":  # the time's day on the project's clocks ('2026-10-01': itself)
                return (local(moment, self.zone).date().isoformat(),)
            moment = _utc(moment, value, name)
            return (moment.isoformat(),) if kind == "datetime" else (moment,)
        if kind in ("text", "column:state", "column:assignee"):
            return (value,) if isinstance(value, str) else None
        if kind == "boolean":
            if not isinstance(value, bool):
                return None
            return (value,) if self.dialect != "sqlite" else (int(value),)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None  # number and money
        if self.dialect == "sqlite":
            return (value,)
        return (Decimal(str(value)) if isinstance(value, float) else Decimal(value),)


_SQL = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def literal(node: ast.expr) -> _Literal:
    """The value of a literal node (a number, string, true/false/null); InvalidQuery if not."""
    if isinstance(node, ast.Name) and node.id in _ALIASES:
        found: _Literal = _ALIASES[node.id]
        return found
    if isinstance(node, ast.Name | ast.Attribute):
        raise _refuse(node, "where compares a field with a literal, not with another name")
    negative = False
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        negative = isinstance(node.op, ast.USub)
        node = node.operand
        if not (isinstance(node, ast.Constant) and type(node.value) in (int, float)):
            raise _refuse(node, "only a number can have a sign")
    if not isinstance(node, ast.Constant) or type(node.value) not in (str, int, float, bool):
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        what = "a call" if isinstance(node, ast.Call) else "a computed value"
        raise _refuse(
            node, f"where compares with literals (a number, 'text', true, null), not {what}"
        )
    value: Any = node.value  # checked above: str, int, float or bool
    if type(value) is str and ("\x00" in value or not _encodable(value)):
        raise _refuse(node, "a text literal holds a NUL or a character that is not valid UTF-8")
    if negative:
        value = -value
    if type(value) is int and not -INT_LIMIT <= value < INT_LIMIT:
        raise _refuse(node, "integer literal out of range (±2^63)")
    if type(value) is float and not math.isfinite(value):
        raise _refuse(node, "number literal out of range")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _moment(value: str, name: str, zone: tzinfo) -> datetime:
    """A time literal: '2026-10-01' (midnight in ``zone``) or ISO 8601 (naive: in ``zone``)."""
    text = value.strip()
    try:
        moment = (
            datetime.combine(date.fromisoformat(text), datetime.min.time())
            if len(text) == 10
            else datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        )
    except ValueError:
        raise InvalidQuery(
            f"where: {name}: '{text[:40]}' is not a date or time (like 2026-10-01 or "
            "2026-10-01T09:00:00Z)"
        ) from None
    return in_zone(moment, zone)


def _utc(moment: datetime, value: str, name: str) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidQuery(f"where: {name}: '{value.strip()[:40]}' is out of range") from None


def _refuse(node: ast.AST, message: str) -> InvalidQuery:
    column = getattr(node, "col_offset", None)
    where = f" (at column {column + 1})" if column is not None else ""
    return InvalidQuery(f"where: {message}{where}")


__all__ = [
    "COLUMNS",
    "KIND_OF_TYPE",
    "MAX_WHERE_LENGTH",
    "FieldKinds",
    "compile_where",
    "field_sql",
    "raw_text_sql",
]
