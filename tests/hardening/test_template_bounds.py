"""Templates are bounded in output, loop iterations, calls and time (docs/security.md).

Each hostile template must fail fast with a plain `Invalid` naming the bound, instead of
building megabytes or running for seconds while a fire holds the database's write lock.
"""

from __future__ import annotations

import time

import pytest

from opsflow import template_sandbox
from opsflow.errors import Invalid
from opsflow.templating import MAX_OUTPUT, render_message, render_params

VARIABLES = {"title": "Taxi", "amount": 40, "tags": ["a", "b"], "note": "n" * 100_000}

HOSTILE = [
    ("{{ title|center(20000000) }}", "too long"),
    ("{{ title|indent(20000000, true) }}", "too long"),
    ("{{ title|wordwrap(20000000) }}", "too long"),
    ("{{ 'x'.center(20000000) }}", "too long"),
    ("{{ 'x'.ljust(20000000) }}", "too long"),
    ("{{ '%20000000d' % 1 }}", "too long"),
    ("{{ '{:>20000000}'.format(1) }}", "too long"),
    ("{{ '%s'|format('x' * 100000) * 2 }}", "too long"),
    ("{{ (note ~ note ~ note)|length }}", "too long"),
    ("{{ ('x' * 100000)|replace('x', 'x' * 100000)|length }}", "too long"),
    ("{{ (['x' * 100000] * 1000) | join }}", "too long"),
    ("{{ range(10000) | join('x' * 100000) }}", "too long"),
    (
        "{% set ns = namespace(s='xx') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "too long",
    ),
    (
        "{% set ns = namespace(s='xx') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
        "too long",
    ),
    ("{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}", "longer than"),
    ("{{ note }}", "longer than"),
    ("{% for i in range(20000) %}{% for j in range(20000) %}{% endfor %}{% endfor %}", "loop"),
    ("{% for i in 'x' * 100000 %}{% for j in 'x' * 100000 %}{% endfor %}{% endfor %}", "loop"),
    ("{{ range(10 ** 9)|list|length }}", "range"),
    ("{{ lipsum(n=100000) }}", "lipsum"),
    (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        "calls",
    ),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "nested"),
    # a block's body is joined by Jinja itself: counted before it is joined
    (
        "{% set b = 'x' * 100000 %}{% set a %}{% for i in range(50000) %}{{ b }}{% endfor %}"
        "{% endset %}{{ a|length }}",
        "too long",
    ),
    (
        "{% set b = 'x' * 100000 %}{% filter length %}{% for i in range(2000) %}{{ b }}"
        "{% endfor %}{% endfilter %}",
        "too long",
    ),
    (
        "{% macro m() %}{% for i in range(2000) %}{{ 'x' * 100000 }}{% endfor %}{% endmacro %}"
        "{{ m()|length }}",
        "too long",
    ),
    # a width taken from an argument could only be judged once the text is built
    ("{{ '{:{}}'.format('a', '100000000') }}", "width"),
    ("{{ '{0:{1[0]}}'.format('a', [100000000]) }}", "width"),
    ("{{ '{:\U0001f600>{}}'.format('a', '2000000000') }}", "width"),
    # integers are bounded before they are computed
    ("{{ ((9 ** 1000) ** 1000) ** 30 > 0 }}", "too large"),
    (
        "{% set ns = namespace(n=9 ** 1000) %}{% for i in range(40) %}"
        "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n > 0 }}",
        "result of *",
    ),
]


@pytest.mark.parametrize(("template", "words"), HOSTILE)
def test_hostile_template_is_refused_fast(
    template: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each template is refused by the bound it names, never by the render's time budget:
    # on a loaded machine 100,000 calls can take over a second, and the time limit would
    # answer first (it has a test of its own).
    monkeypatch.setattr(template_sandbox, "MAX_SECONDS", 60.0)
    started = time.perf_counter()
    with pytest.raises(Invalid) as caught:
        render_message(template, VARIABLES)
    elapsed = time.perf_counter() - started
    assert caught.value.message.startswith("template error: ")
    assert words in caught.value.message
    # A guard against the unbounded behaviour (17.9 s to minutes), not a speed figure: the
    # render budget is 1 s, and a loaded CI machine may take several times longer.
    assert elapsed < 10.0, elapsed


def test_ordinary_templates_still_render() -> None:
    text = render_message(
        "{% for t in tags %}[{{ t|upper }}]{% endfor %} {{ title|center(10) }} {{ amount * 2 }}",
        VARIABLES,
    )
    assert text == "[A][B]    Taxi    80"
    assert render_message("{{ missing }}|{{ title ~ '!' }}", VARIABLES) == "|Taxi!"
    assert render_message("{{ range(3)|join(',') }}", VARIABLES) == "0,1,2"


def test_output_just_under_the_bound_renders() -> None:
    template = f"{{{{ 'x' * {MAX_OUTPUT} }}}}"
    assert len(render_message(template, VARIABLES)) == MAX_OUTPUT
    with pytest.raises(Invalid, match="longer than"):
        render_message(template + "!", VARIABLES)


def test_params_are_bounded_too() -> None:
    with pytest.raises(Invalid, match="param 'p'"):
        render_params({"p": "{{ title|center(20000000) }}"}, VARIABLES)


def test_a_render_past_its_time_budget_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_sandbox, "MAX_SECONDS", 0.0)  # spent before it begins
    with pytest.raises(Invalid, match="template takes too long to render"):
        render_message("{% for i in range(1000) %}{{ i }}{% endfor %}", VARIABLES)
    monkeypatch.setattr(template_sandbox, "MAX_SECONDS", 60.0)
    assert render_message("{% for i in range(1000) %}{{ i }}{% endfor %}", VARIABLES)
