"""The Jinja2 sandbox opsflow renders templates in, bounded in size, steps and time.

Jinja2's ``ImmutableSandboxedEnvironment`` keeps a template away from Python internals;
this subclass also keeps it from exhausting the process while a fire holds the database's
write lock. Every string or list a template builds is at most ``MAX_TEXT`` long, checked
before the work where the size can be known (``'x' * n``, ``center(n)``, ``'%9999d'``,
``replace``, ``join``) and after it otherwise; loop iterations and calls share one budget
of ``MAX_STEPS``; a render stops after ``MAX_SECONDS``. ``range`` is bounded and ``lipsum``
is gone. The budget of the render under way lives in a context variable, set by
:func:`budget`.
"""

from __future__ import annotations

import operator
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_TEXT = 100_000  # characters of a string, items of a list, built by a template
MAX_EXPONENT = 1_000
MAX_INT_BITS = 100_000  # of an integer a template computes (about 30,000 digits)
MAX_STEPS = 100_000  # loop iterations and calls of one render, together
MAX_SECONDS = 1.0  # of one render
MAX_TAB = 8  # the default tab size of str.expandtabs (larger sizes are big integers anyway)
_LOOP = "opsflow_loop"  # the filters the code generator wraps loops and `~` in
_TEXT = "opsflow_text"
_DIGITS = re.compile(r"\d{6,}")  # a width or precision in a format string


class Budget:
    """The steps left and the deadline of one render."""

    __slots__ = ("deadline", "steps")

    def __init__(self) -> None:
        self.steps = MAX_STEPS
        self.deadline = time.monotonic() + MAX_SECONDS

    def spend(self) -> None:
        """Count one loop iteration or call; refuse past the step or time budget."""
        self.steps -= 1
        if self.steps < 0:
            limit = f"limit {MAX_STEPS:,}"
            raise SecurityError(f"template runs too many loop iterations or calls ({limit})")
        if not self.steps % 256 and time.monotonic() > self.deadline:
            raise SecurityError(f"template takes too long to render (limit {MAX_SECONDS:g} s)")

    def out_of_time(self) -> bool:
        """Whether the render has used up its time."""
        return time.monotonic() > self.deadline


_current: ContextVar[Budget | None] = ContextVar("opsflow_template_budget", default=None)


@contextmanager
def budget() -> Iterator[Budget]:
    """A fresh budget for the render inside the ``with`` block."""
    fresh = Budget()
    token = _current.set(fresh)
    try:
        yield fresh
    finally:
        _current.reset(token)


def _spend() -> None:
    current = _current.get()
    if current is not None:
        current.spend()


def sized(value: Any) -> Any:
    """``value``, refused when it is a string or list longer than MAX_TEXT."""
    if isinstance(value, str | list | tuple) and len(value) > MAX_TEXT:
        raise SecurityError(f"the result would be too long (limit {MAX_TEXT:,})")
    return value


def _refuse_if(condition: bool) -> None:
    if condition:
        raise SecurityError(f"the result would be too long (limit {MAX_TEXT:,})")


def _check_format(template: str, args: Any) -> None:
    """Refuse a ``%`` or ``str.format`` template whose widths would build huge text."""
    _refuse_if(_DIGITS.search(template) is not None and _wide(template))
    values = args if isinstance(args, tuple | list) else (args,)
    _refuse_if(any(_big_int(v) for v in values))


def _bounded_concat(parts: Iterable[str]) -> str:
    """``"".join(parts)``, refused before joining more than ``MAX_TEXT`` characters."""
    listed = parts if isinstance(parts, list) else list(parts)
    _refuse_if(sum(map(len, listed)) > MAX_TEXT)
    return "".join(listed)


def _refuse_nested_widths(template: str) -> None:
    """A ``str.format`` template whose width comes from an argument (``{:{}}``) is refused:
    its size could only be known once the text is built."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format itself reports the malformed template
    if any(spec and "{" in spec for _, _, spec, _ in fields):
        raise SecurityError("a format width or precision taken from an argument is not allowed")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _wide(template: str) -> bool:
    return any(int(digits) > MAX_TEXT for digits in _DIGITS.findall(template))


def _big_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_TEXT


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        _refuse_if(len(text) + hits * len(new) > MAX_TEXT)


def _check_join(items: Iterable[Any], separator: Any) -> list[Any]:
    listed = list(items)
    _refuse_if(len(listed) > MAX_TEXT)
    size = sum(len(item) for item in listed if isinstance(item, str))
    _refuse_if(size + len(listed) * len(str(separator)) > MAX_TEXT)
    return listed


def _check_indent(text: Any, width: Any) -> None:
    if isinstance(text, str) and isinstance(width, str):
        _refuse_if(len(text) + (text.count("\n") + 1) * len(width) > MAX_TEXT)


def _bounded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its arguments checked before and its result after."""
    passes = getattr(fn, "jinja_pass_arg", None) is not None

    @wraps(fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        value, rest = (args[1], args[2:]) if passes else (args[0], args[1:])
        _refuse_if(any(_big_int(v) for v in (*rest, *kwargs.values())))
        if name == "replace" and len(rest) >= 2:
            _check_replace(value, rest[0], rest[1])
        elif name == "join":
            value = _check_join(value, rest[0] if rest else kwargs.get("d", ""))
            args = (args[0], value, *rest) if passes else (value, *rest)
        elif name == "indent":
            _check_indent(value, rest[0] if rest else kwargs.get("width", ""))
        elif name == "format" and isinstance(value, str):
            _check_format(value, rest)
        elif name == "wordwrap" and isinstance(value, str):
            wrap = rest[2] if len(rest) > 2 else kwargs.get("wrapstring") or ""
            _refuse_if(len(value) * (len(str(wrap)) + 1) > MAX_TEXT and len(str(wrap)) > 1)
        return sized(fn(*args, **kwargs))

    return bounded


@jinja2.pass_context  # never folded at compile time: the budget exists only while rendering
def _loop(context: Any, iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _spend()
        yield item


@jinja2.pass_context
def _text(context: Any, value: Any) -> Any:
    return sized(value)


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_STEPS:
        raise SecurityError(f"range() of more than {MAX_STEPS:,} numbers")
    return numbers


def _no_lipsum(*args: Any, **kwargs: Any) -> str:
    raise SecurityError("lipsum() is not available in opsflow templates")


class _BoundedCodeGenerator(CodeGenerator):
    """Wraps every loop's iterable and every ``~`` in the budget filters."""

    def visit_Template(self, node: nodes.Template, frame: Any = None) -> None:
        for loop in node.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _LOOP, [], [], None, None, lineno=loop.lineno)
        for concat in list(node.find_all(nodes.Concat)):
            _wrap_concat(node, concat)
        super().visit_Template(node, frame)


def _wrap_concat(root: nodes.Node, concat: nodes.Concat) -> None:
    """Replace ``concat`` in its parent with ``concat|opsflow_text``."""
    wrapped = nodes.Filter(concat, _TEXT, [], [], None, None, lineno=concat.lineno)
    for parent in root.find_all(nodes.Node):
        for field, child in parent.iter_fields():
            if child is concat:
                setattr(parent, field, wrapped)
                return
            if isinstance(child, list) and any(item is concat for item in child):
                setattr(parent, field, [wrapped if item is concat else item for item in child])
                return


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every operation that could exhaust the process bounded."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, fn) for name, fn in self.filters.items()}
        self.filters[_LOOP] = _loop
        self.filters[_TEXT] = _text
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _no_lipsum
        # Jinja joins the body of a {% set %} or {% filter %} block, a macro or a call
        # with the environment's concat: counted before it is joined.
        self.concat = _bounded_concat  # type: ignore[method-assign]

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``+`` and ``%``, refused before they build too much."""
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponent {right} is too large")
            if _is_int(left) and _is_int(right) and left.bit_length() * right > MAX_INT_BITS:
                raise SecurityError("number too large: the result of ** would be huge")
            return operator.pow(left, right)
        if operator_name == "%":
            if isinstance(left, str):
                _check_format(left, right)
            return sized(operator.mod(left, right))
        if operator_name == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                _refuse_if(len(left) + len(right) > MAX_TEXT)
            return operator.add(left, right)
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                _refuse_if(len(seq) * times > MAX_TEXT or abs(times) > MAX_TEXT)
        if (
            _is_int(left)
            and _is_int(right)
            and left.bit_length() + right.bit_length() > (MAX_INT_BITS)
        ):
            raise SecurityError("number too large: the result of * would be huge")
        return operator.mul(left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format``/``format_map`` as the sandbox gives them, the template checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template: str = value.__self__
        inner = wrapped

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format(template, ())
            _refuse_nested_widths(template)
            _refuse_if(any(_big_int(v) for v in (*args, *kwargs.values())))
            return sized(inner(*args, **kwargs))

        return checked

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A call in a template: counted, and a string method's arguments checked."""
        _spend()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            args = _check_string_method(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return sized(super().call(__context, __obj, *args, **kwargs))


def _check_string_method(
    text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """The arguments of ``text.name(...)``, refused when the result would be too long."""
    _refuse_if(any(_big_int(v) for v in (*args, *kwargs.values())))
    if name in ("format", "format_map"):
        _check_format(text, ())
        _refuse_nested_widths(text)  # (the sandbox wraps these at access: wrap_str_format)
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1])
    elif name == "join" and args:
        return (_check_join(args[0], text), *args[1:])
    elif name == "expandtabs":
        _refuse_if(text.count("\t") * MAX_TAB + len(text) > MAX_TEXT)
    return args
