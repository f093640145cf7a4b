"""Checks an expression's syntax tree against the allow-list and turns it into closures.

Each allowed node becomes a closure over `Run`; constant parts are evaluated once here, so
their errors (`9**9**9**9`, `'x' * 10**9`) are load-time errors.
"""

from __future__ import annotations

import ast
import math
import types
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from opsflow.errors import EvaluationError, ExpressionError
from opsflow.language._evaluator import (
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_NODES,
    MAX_TEXT_LENGTH,
    Program,
    Run,
    add,
    attribute,
    check_data,
    contains,
    divide,
    equal,
    floor_divide,
    greater,
    greater_equal,
    index,
    less,
    less_equal,
    modulo,
    multiply,
    negative,
    not_contains,
    not_equal,
    positive,
    power,
    subtract,
)
from opsflow.language._functions import BUILTINS
from opsflow.suggest import did_you_mean

BUILTIN_FUNCTIONS: frozenset[str] = frozenset(BUILTINS)
CONTEXT_NAMES: frozenset[str] = frozenset(
    {"data", "metrics", "actor", "state", "entered_at", "created_by", "assignee", "now"}
)
ALIASES: Mapping[str, Any] = types.MappingProxyType({"true": True, "false": False, "null": None})
ATTRIBUTE_ROOTS = ("data", "metrics", "actor")
ACTOR_ATTRIBUTES = frozenset({"name", "roles"})

NO_FUNCTIONS: Mapping[str, Callable[..., Any]] = types.MappingProxyType({})
_FOLDABLE = frozenset({type(None), bool, int, float, Decimal, str})

_BINARY: dict[type[ast.operator], tuple[Callable[[Any, Any], Any], bool]] = {
    # operator -> (function, whether the result may be a string or list to be charged)
    ast.Add: (add, True),
    ast.Sub: (subtract, False),
    ast.Mult: (multiply, True),
    ast.Div: (divide, False),
    ast.FloorDiv: (floor_divide, False),
    ast.Mod: (modulo, False),
    ast.Pow: (power, False),
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: equal,
    ast.NotEq: not_equal,
    ast.Lt: less,
    ast.LtE: less_equal,
    ast.Gt: greater,
    ast.GtE: greater_equal,
    ast.In: contains,
    ast.NotIn: not_contains,
}
_FORBIDDEN_NODES = {
    "Lambda": "lambda",
    "ListComp": "a list comprehension",
    "SetComp": "a set comprehension",
    "DictComp": "a dict comprehension",
    "GeneratorExp": "a generator expression",
    "NamedExpr": "assignment (:=)",
    "JoinedStr": "an f-string",
    "FormattedValue": "an f-string",
    "Starred": "unpacking with *",
    "Await": "await",
    "Yield": "yield",
    "YieldFrom": "yield",
    "Set": "a set literal",
    "Dict": "a dict literal",
    "Slice": "slicing",
}
_FORBIDDEN_OPERATORS = {
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Is: "is",
    ast.IsNot: "is not",
}


def compile_tree(
    text: str,
    names: frozenset[str],
    functions: frozenset[str],
    metrics: frozenset[str] | None = None,
) -> tuple[Program, frozenset[str], frozenset[str]]:
    """(program, fields read, functions called) of `text`, or ExpressionError."""
    compiler = _Compiler(text, text.lstrip(), names, functions, metrics)
    tree = _parse(compiler, text)
    program = compiler.compile_root(tree.body)
    return program, frozenset(compiler.fields), frozenset(compiler.called)


def parse_tree(text: str) -> ast.expr:
    """The syntax tree of `text`, checked for length, syntax, depth and size (not names).

    For callers that give the tree a meaning of their own (search turns it into SQL) while
    keeping the language's parser and bounds; ExpressionError when refused.
    """
    compiler = _Compiler(text, text.lstrip(), frozenset(), frozenset())
    return _parse(compiler, text).body


def _parse(compiler: _Compiler, text: str) -> ast.Expression:
    if len(text) > MAX_TEXT_LENGTH:
        raise ExpressionError(
            f"expression is too long ({len(text):,} characters, limit {MAX_TEXT_LENGTH:,})",
            1,
        )
    body = text.lstrip()
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as exc:
        if not body:
            raise ExpressionError("empty expression", 1) from None
        line, col = compiler.position(exc.lineno or 1, (exc.offset or 1) - 1, in_bytes=False)
        message = exc.msg
        assignment = _lone_equals(body)
        if assignment is not None:
            line, col = compiler.position(*assignment, in_bytes=False)
            message = "'=' is not a comparison; use '==' to compare"
        elif "nested" in message:
            message = f"expression is too deeply nested ({message})"
        elif "Exceeds the limit" in message:
            message = "integer literal too large"
        raise ExpressionError(f"syntax error: {message}", col, line) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("expression is too deeply nested or too complex", 1) from None
    compiler.check_size(tree)
    return tree


class _Compiler:
    """Checks one syntax tree and turns each node into a closure over `Run`."""

    def __init__(
        self,
        text: str,
        body: str,
        names: frozenset[str],
        functions: frozenset[str],
        metrics: frozenset[str] | None = None,
    ) -> None:
        self.names = names
        self.functions = functions
        self.metrics = metrics
        self.fields: set[str] = set()
        self.called: set[str] = set()
        self.lines = body.split("\n")
        lead = text[: len(text) - len(body)]
        self.lead_lines = lead.count("\n")
        self.lead_col = len(lead) - (lead.rfind("\n") + 1)

    # -- positions and errors --------------------------------------------------------------

    def position(self, lineno: int, offset: int, *, in_bytes: bool = True) -> tuple[int, int]:
        """1-based (line, col) in the original text of a 0-based offset in the parsed body."""
        if in_bytes and 0 < lineno <= len(self.lines):
            encoded = self.lines[lineno - 1].encode("utf-8")[:offset]
            offset = len(encoded.decode("utf-8", "replace"))
        if lineno <= 1:
            return 1 + self.lead_lines, self.lead_col + offset + 1
        return self.lead_lines + lineno, offset + 1

    def error(self, node: ast.AST, message: str) -> ExpressionError:
        """An ExpressionError located at `node`."""
        line, col = self.position(getattr(node, "lineno", 1), getattr(node, "col_offset", 0))
        return ExpressionError(message, col, line)

    def check_size(self, tree: ast.AST) -> None:
        """Refuse trees deeper than MAX_DEPTH or larger than MAX_NODES (before recursing)."""
        stack = [(tree, 1)]
        count = 0
        while stack:
            node, depth = stack.pop()
            count += 1
            if depth > MAX_DEPTH:
                raise self.error(node, f"expression is too deeply nested (limit {MAX_DEPTH})")
            if count > MAX_NODES:
                raise self.error(node, f"expression is too complex (limit {MAX_NODES} parts)")
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    # -- nodes -----------------------------------------------------------------------------

    def compile_root(self, node: ast.expr) -> Program:
        """The program of the whole expression."""
        program, _ = self.compile(node)
        return program

    def compile(self, node: ast.expr) -> tuple[Program, bool]:
        """(program, constant): constant programs read no scope and call no function."""
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            name = type(node).__name__
            what = _FORBIDDEN_NODES.get(name, name)
            raise self.error(node, f"{what} is not allowed in expressions")
        result: tuple[Program, bool] = method(node)
        return result

    def fold(self, node: ast.expr, program: Program) -> tuple[Program, bool]:
        """Evaluate a constant part now: its errors become load-time errors."""
        try:
            value = program(Run({}, NO_FUNCTIONS))
        except EvaluationError as exc:
            raise self.error(node, exc.message) from None
        except (ArithmeticError, ValueError, TypeError, LookupError, RecursionError) as exc:
            raise self.error(node, f"cannot evaluate: {type(exc).__name__}: {exc}") from None
        if type(value) in _FOLDABLE:
            return (lambda run: value), True
        return program, True  # a list: built afresh on each evaluation

    def _Constant(self, node: ast.Constant) -> tuple[Program, bool]:
        value = node.value
        if isinstance(value, bytes):
            raise self.error(node, "bytes literals are not allowed in expressions")
        if isinstance(value, complex):
            raise self.error(node, "complex numbers are not allowed in expressions")
        if type(value) not in _FOLDABLE:
            raise self.error(node, f"{value!r} is not allowed in expressions")
        if type(value) is int and value.bit_length() > MAX_INT_BITS:
            raise self.error(node, f"integer literal too large (limit {MAX_INT_BITS} bits)")
        if type(value) is float and not math.isfinite(value):
            raise self.error(node, "number literal too large")
        return (lambda run: value), True

    def _Name(self, node: ast.Name) -> tuple[Program, bool]:
        name = node.id
        self.check_identifier(node, name, "names")
        if name in ALIASES:
            value = ALIASES[name]
            return (lambda run: value), True
        if name in CONTEXT_NAMES or name in self.names:
            if name not in CONTEXT_NAMES:
                self.fields.add(name)
            return (lambda run: run.scope.get(name)), False
        hint = did_you_mean(name, self.names | CONTEXT_NAMES | set(ALIASES))
        if not hint and (name in BUILTIN_FUNCTIONS or name in self.functions):
            hint = f" ({name} is a function: call it as {name}(...))"
        raise self.error(node, f"unknown name '{name}'{hint}")

    def check_identifier(self, node: ast.AST, name: str, what: str) -> None:
        """Refuse names and attributes that start with an underscore (dunders included)."""
        if name.startswith("_"):
            raise self.error(node, f"{what} starting with '_' are not allowed: '{name}'")

    def _Attribute(self, node: ast.Attribute) -> tuple[Program, bool]:
        name = node.attr
        self.check_identifier(node, name, "attribute names")
        root: ast.expr = node.value
        while isinstance(root, ast.Attribute | ast.Subscript):
            root = root.value
        if not (isinstance(root, ast.Name) and root.id in ATTRIBUTE_ROOTS):
            raise self.error(node, "attribute access is only allowed on data, metrics and actor")
        if isinstance(node.value, ast.Name):
            self.check_key(node, node.value.id, name)
        value, _ = self.compile(node.value)
        return (lambda run: attribute(value(run), name)), False

    def check_key(self, node: ast.AST, root: str, key: str) -> None:
        """data.x must name a field, metrics.x a metric (when known); actor has name, roles."""
        if root == "data":
            if key not in self.names:
                hint = did_you_mean(key, self.names)
                raise self.error(node, f"unknown field '{key}' in data.{key}{hint}")
            self.fields.add(key)
        elif root == "metrics" and self.metrics is not None and key not in self.metrics:
            hint = did_you_mean(key, self.metrics)
            raise self.error(node, f"unknown metric '{key}' in metrics.{key}{hint}")
        elif root == "actor" and key not in ACTOR_ATTRIBUTES:
            raise self.error(node, f"actor has only .name and .roles, not .{key}")

    def _Subscript(self, node: ast.Subscript) -> tuple[Program, bool]:
        key = _constant_key(node.slice)
        if key is None:
            if isinstance(node.slice, ast.Slice):
                raise self.error(node.slice, "slicing is not allowed in expressions")
            message = "an index must be a constant string or whole number, like x['a'] or x[0]"
            raise self.error(node.slice, message)
        if isinstance(key, str):
            self.check_identifier(node.slice, key, "keys")
            if isinstance(node.value, ast.Name) and node.value.id in ATTRIBUTE_ROOTS:
                self.check_key(node, node.value.id, key)
        value, constant = self.compile(node.value)

        def program(run: Run) -> Any:
            return index(value(run), key)

        return self.fold(node, program) if constant else (program, False)

    def _Call(self, node: ast.Call) -> tuple[Program, bool]:
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise self.error(node, "method calls are not allowed in expressions")
            raise self.error(node, "only functions can be called, like len(x)")
        name = node.func.id
        self.check_identifier(node.func, name, "names")
        if node.keywords:
            raise self.error(node.keywords[0], "keyword arguments are not allowed in expressions")
        arguments = [self.compile(argument)[0] for argument in node.args]
        self.called.add(name)
        builtin = BUILTINS.get(name)
        if builtin is not None:
            count = len(arguments)
            if count < builtin.min_args or (
                builtin.max_args is not None and count > builtin.max_args
            ):
                raise self.error(
                    node, f"{name}() takes {builtin.arity()} argument(s), {count} given"
                )
            return _call_builtin(builtin.fn, arguments), False
        if name in self.functions:
            return _call_plugin(name, arguments), False
        hint = did_you_mean(name, BUILTIN_FUNCTIONS | self.functions)
        raise self.error(node, f"unknown function '{name}'{hint}")

    def _BinOp(self, node: ast.BinOp) -> tuple[Program, bool]:
        entry = _BINARY.get(type(node.op))
        if entry is None:
            symbol = _FORBIDDEN_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise self.error(node, f"operator '{symbol}' is not allowed in expressions")
        if isinstance(node.op, ast.Mod) and (
            isinstance(node.left, ast.JoinedStr)
            or (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str))
        ):
            raise self.error(node, "string formatting with % is not allowed")
        operation, sized = entry
        left, left_constant = self.compile(node.left)
        right, right_constant = self.compile(node.right)
        program: Program
        if sized:

            def program(run: Run) -> Any:
                result = operation(left(run), right(run))
                if type(result) is str or type(result) is list:
                    run.charge(len(result))
                return result

        else:

            def program(run: Run) -> Any:
                return operation(left(run), right(run))

        if left_constant and right_constant:
            return self.fold(node, program)
        return program, False

    def _UnaryOp(self, node: ast.UnaryOp) -> tuple[Program, bool]:
        operand, constant = self.compile_operand(node)
        program: Program
        if isinstance(node.op, ast.Not):

            def program(run: Run) -> Any:
                return not operand(run)

        elif isinstance(node.op, ast.USub):

            def program(run: Run) -> Any:
                return negative(operand(run))

        else:

            def program(run: Run) -> Any:
                return positive(operand(run))

        return self.fold(node, program) if constant else (program, False)

    def compile_operand(self, node: ast.UnaryOp) -> tuple[Program, bool]:
        """The operand of a unary operator, refusing `~`."""
        if isinstance(node.op, ast.Invert):
            raise self.error(node, "operator '~' is not allowed in expressions")
        return self.compile(node.operand)

    def _BoolOp(self, node: ast.BoolOp) -> tuple[Program, bool]:
        compiled = [self.compile(value) for value in node.values]
        parts = [program for program, _ in compiled]
        constant = all(is_constant for _, is_constant in compiled)
        program: Program
        if len(parts) == 2:
            first, second = parts
            if isinstance(node.op, ast.And):

                def program(run: Run) -> Any:
                    return first(run) and second(run)

            else:

                def program(run: Run) -> Any:
                    return first(run) or second(run)

        elif isinstance(node.op, ast.And):

            def program(run: Run) -> Any:
                value = None
                for part in parts:
                    value = part(run)
                    if not value:
                        return value
                return value

        else:

            def program(run: Run) -> Any:
                value = None
                for part in parts:
                    value = part(run)
                    if value:
                        return value
                return value

        return self.fold(node, program) if constant else (program, False)

    def _Compare(self, node: ast.Compare) -> tuple[Program, bool]:
        tests: list[Callable[[Any, Any], bool]] = []
        for operator in node.ops:
            test = _COMPARE.get(type(operator))
            if test is None:
                symbol = _FORBIDDEN_OPERATORS.get(type(operator), type(operator).__name__)
                hint = "; use == null or != null" if symbol in ("is", "is not") else ""
                raise self.error(node, f"operator '{symbol}' is not allowed in expressions{hint}")
            tests.append(test)
        compiled = [self.compile(operand) for operand in [node.left, *node.comparators]]
        operands = [program for program, _ in compiled]
        constant = all(is_constant for _, is_constant in compiled)
        program: Program
        if len(tests) == 1:
            test, (left, right) = tests[0], operands

            def program(run: Run) -> Any:
                return test(left(run), right(run))

        else:
            pairs = list(zip(tests, operands[1:], strict=True))
            first = operands[0]

            def program(run: Run) -> Any:
                left = first(run)
                for test, operand in pairs:
                    right = operand(run)
                    if not test(left, right):
                        return False
                    left = right
                return True

        return self.fold(node, program) if constant else (program, False)

    def _IfExp(self, node: ast.IfExp) -> tuple[Program, bool]:
        test, test_constant = self.compile(node.test)
        body, body_constant = self.compile(node.body)
        orelse, orelse_constant = self.compile(node.orelse)

        def program(run: Run) -> Any:
            return body(run) if test(run) else orelse(run)

        if test_constant and body_constant and orelse_constant:
            return self.fold(node, program)
        return program, False

    def _List(self, node: ast.List | ast.Tuple) -> tuple[Program, bool]:
        compiled = [self.compile(element) for element in node.elts]
        elements = [program for program, _ in compiled]

        def program(run: Run) -> Any:
            run.charge(len(elements))
            return [element(run) for element in elements]

        if all(is_constant for _, is_constant in compiled):
            return self.fold(node, program)
        return program, False

    _Tuple = _List  # a tuple literal is a list


def _lone_equals(body: str) -> tuple[int, int] | None:
    """(line, 0-based column) of the first ``=`` used as an operator, if any."""
    import io
    import tokenize

    try:
        for token in tokenize.generate_tokens(io.StringIO(body).readline):
            if token.type == tokenize.OP and token.string == "=":
                return token.start
    except (tokenize.TokenError, SyntaxError):
        return None
    return None


def _constant_key(node: ast.expr) -> str | int | None:
    """The key of `x['a']`, `x[0]` or `x[-1]`, or None when it is not such a constant."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _constant_key(node.operand)
        return -inner if isinstance(inner, int) else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int):
        return None if isinstance(node.value, bool) else node.value
    return None


def _call_builtin(fn: Callable[..., Any], arguments: list[Program]) -> Program:
    if not arguments:
        return lambda run: fn(run)
    if len(arguments) == 1:
        (only,) = arguments
        return lambda run: fn(run, only(run))
    return lambda run: fn(run, *[argument(run) for argument in arguments])


def _call_plugin(name: str, arguments: list[Program]) -> Program:
    def program(run: Run) -> Any:
        fn = run.functions.get(name)
        if fn is None:
            raise EvaluationError(f"function '{name}' is not available")
        values = [argument(run) for argument in arguments]
        try:
            result = fn(*values)
        except Exception as exc:
            raise EvaluationError(f"function '{name}' failed: {exc}") from exc
        problem = check_data(result, run)
        if problem is not None:
            raise EvaluationError(f"function '{name}' returned {problem}, not opsflow data")
        return result

    return program
