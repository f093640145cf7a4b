"""Jinja2 templates for notification messages and calculator params, rendered in a sandbox.

One immutable sandboxed environment: no autoescaping (the output is plain text), a missing
or unset field renders as empty text, templates are compiled once per source text and cached, and
the operations that could exhaust memory (``"x" * 10**9``, huge powers) are bounded.
Every template error is :class:`~opsflow.errors.Invalid`.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from opsflow.errors import Invalid

if TYPE_CHECKING:  # Jinja2 is imported when a text holds template markup
    import jinja2

MAX_REPEAT = 100_000  # longest string or list a template may build with `*`
MAX_EXPONENT = 1_000
_MARKERS = ("{{", "{%", "{#")


@cache
def _environment() -> jinja2.Environment:
    """The sandbox, with `*` and `**` checked so a template cannot exhaust the process."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class _BoundedEnvironment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
            if operator_name == "**":
                if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                    raise SecurityError(f"exponent {right} is too large")
                return operator.pow(left, right)
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_REPEAT
                ):
                    raise SecurityError("the result would be too long")
            return operator.mul(left, right)

    return _BoundedEnvironment(
        autoescape=False, undefined=jinja2.ChainableUndefined, finalize=_unset_is_empty
    )


def _unset_is_empty(value: Any) -> Any:
    """An unset field (None) renders as empty text, not ``None``."""
    return "" if value is None else value


@lru_cache(maxsize=1024)
def compile_template(source: str) -> jinja2.Template:
    """Compile a template once; a syntax error is Invalid."""
    import jinja2

    try:
        return _environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise Invalid(f"template error: {exc.message} (line {exc.lineno})") from None


def is_template(text: str) -> bool:
    """Whether ``text`` holds any Jinja2 markup."""
    return any(marker in text for marker in _MARKERS)


def render_message(template: str, variables: Mapping[str, Any]) -> str:
    """Render a message or subject template with the case's variables."""
    if not is_template(template):
        return template
    compiled = compile_template(template)
    import jinja2
    from jinja2.sandbox import SecurityError

    try:
        return compiled.render(dict(variables))
    except (jinja2.TemplateError, SecurityError) as exc:
        raise Invalid(f"template error: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise Invalid(f"template error: {type(exc).__name__}: {exc}") from None


def render_params(params: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """Render every string in ``params`` (nested lists and mappings included) as a template."""
    return {key: _render(value, variables, str(key)) for key, value in params.items()}


def _render(value: Any, variables: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, str):
        try:
            return render_message(value, variables)
        except Invalid as exc:
            raise Invalid(f"param '{where}': {exc.message}") from None
    if isinstance(value, Mapping):
        return {k: _render(v, variables, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render(v, variables, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


__all__ = ["compile_template", "is_template", "render_message", "render_params"]
