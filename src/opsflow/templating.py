"""Jinja2 templates for notification messages and calculator params, rendered in a sandbox.

One immutable sandboxed environment: no autoescaping (the output is plain text), a missing
or unset field renders as empty text, opsflow's own filters (``| local``, in
opsflow.template_filters) sit beside Jinja's, templates are compiled once per source text
and cached, and the rendered text is at most ``MAX_OUTPUT`` characters; the sandbox
(opsflow.template_sandbox) bounds what a template builds, its loops and calls, and its time.
Every template error is :class:`~opsflow.errors.Invalid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from opsflow.errors import Invalid

if TYPE_CHECKING:  # Jinja2 is imported when a text holds template markup
    import jinja2

MAX_OUTPUT = 65_536  # characters of one rendered message, subject or param
_MARKERS = ("{{", "{%", "{#")


@cache
def _environment() -> jinja2.Environment:
    """The bounded sandbox (opsflow.template_sandbox), built on first use."""
    import jinja2

    from opsflow.template_filters import FILTERS
    from opsflow.template_sandbox import BoundedEnvironment

    environment = BoundedEnvironment(
        autoescape=False, undefined=jinja2.ChainableUndefined, finalize=_unset_is_empty
    )
    environment.filters.update({n: jinja2.pass_context(f) for n, f in FILTERS.items()})
    return environment


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
        return _bounded_render(compiled, variables)
    except (jinja2.TemplateError, SecurityError) as exc:
        raise Invalid(f"template error: {exc}") from None
    except RecursionError:
        raise Invalid("template error: macros nested too deeply") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise Invalid(f"template error: {type(exc).__name__}: {exc}") from None
    except MemoryError:  # a last line: the bounds refuse what they can see coming
        raise Invalid("template error: the template builds too much text") from None


def _bounded_render(compiled: jinja2.Template, variables: Mapping[str, Any]) -> str:
    """Render chunk by chunk, within the sandbox's budget and at most MAX_OUTPUT characters."""
    from opsflow.template_sandbox import budget

    parts: list[str] = []
    size = 0
    with budget() as spent:
        for chunk in compiled.generate(dict(variables)):
            size += len(chunk)
            if size > MAX_OUTPUT:
                message = (
                    f"template error: the rendered text is longer than {MAX_OUTPUT:,} characters"
                )
                raise Invalid(message)
            if spent.out_of_time():
                raise Invalid("template error: the template takes too long to render")
            parts.append(chunk)
    return "".join(parts)


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


__all__ = ["MAX_OUTPUT", "compile_template", "is_template", "render_message", "render_params"]
