"""The loader's API: contexts, files and folders, positions, and never crashing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsflow.language.checks import expression_position
from opsflow.language.diagnostics import Diagnostic, has_errors, sort_diagnostics
from opsflow.language.loader import (
    LoadContext,
    load_workflow_file,
    load_workflow_paths,
    load_workflow_text,
)
from opsflow.language.yamlio import load_yaml

VALID = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / "simple_review.yaml"
TEXT = VALID.read_text(encoding="utf-8")
CHANNELS = LoadContext(channels=frozenset({"team_chat"}))


def test_diagnostic_format_and_order() -> None:
    a = Diagnostic("b.yaml", 1, 1, "error", "x")
    b = Diagnostic("a.yaml", 9, 2, "warning", "y")
    c = Diagnostic("a.yaml", 9, 1, "error", "z")
    assert a.format() == "b.yaml:1:1: error: x"
    assert sort_diagnostics([a, b, c, a]) == [c, b, a]
    assert has_errors([b, c])
    assert not has_errors([b])


def test_valid_text_loads_with_its_hash() -> None:
    loaded, diagnostics = load_workflow_text(TEXT, "simple_review.yaml", CHANNELS)
    assert diagnostics == []
    assert loaded is not None
    assert loaded.spec.initial_state == "draft"
    assert loaded.hash == hashlib.sha256(TEXT.encode()).hexdigest()
    assert loaded.path == "simple_review.yaml"


def test_warnings_do_not_stop_loading() -> None:
    loaded, diagnostics = load_workflow_text(TEXT, "w.yaml", LoadContext())
    assert loaded is not None
    assert [d.format() for d in diagnostics] == [
        "w.yaml:38:27: warning: channel 'team_chat' is not configured in opsflow.yaml"
    ]


def test_an_unknown_filter_or_test_in_a_template_is_a_diagnostic() -> None:
    # Jinja2 finds these only when it compiles the template, after it parsed
    for markup, message in [("t|tle", "No filter named 'tle'."), ("title is odd2", "No test")]:
        text = TEXT.replace("{{ title }}", "{{ " + markup + " }}")
        loaded, diagnostics = load_workflow_text(text, "w.yaml", CHANNELS)
        assert loaded is None
        [problem] = diagnostics
        assert problem.format().startswith(
            "w.yaml:38:59: error: message of transition 'escalate' is not a valid template: "
        )
        assert message in problem.message


def test_the_local_filter_is_known_to_validate() -> None:
    text = TEXT.replace("{{ title }}", "{{ title | local }} {{ data.title|local }}")
    loaded, diagnostics = load_workflow_text(text, "w.yaml", CHANNELS)
    assert loaded is not None
    assert diagnostics == []


def test_the_time_zone_variable_is_not_a_name_templates_may_read() -> None:
    text = TEXT.replace("{{ title }}", "{{ opsflow_time_zone }}")
    loaded, diagnostics = load_workflow_text(text, "w.yaml", CHANNELS)
    assert loaded is None
    [problem] = diagnostics
    assert "opsflow_time_zone" in problem.message


def test_lipsum_is_an_unknown_name_in_a_template() -> None:
    # opsflow refuses lipsum() when rendering (unbounded text): validate says so first
    text = TEXT.replace("{{ title }}", "{{ lipsum(n=100000) }}")
    loaded, diagnostics = load_workflow_text(text, "w.yaml", CHANNELS)
    assert loaded is None
    [problem] = diagnostics
    assert "lipsum" in problem.message
    assert problem.format().startswith("w.yaml:38:")


def test_calculators_and_functions_come_from_the_context() -> None:
    text = TEXT.replace('when: "claims"', 'when: "claims and shout(title)"') + (
        "metrics:\n  reach: {calculator: reach_count}\n"
    )
    _, diagnostics = load_workflow_text(text, "w.yaml", CHANNELS)
    assert [d.format() for d in diagnostics] == [
        "w.yaml:31:86: error: 'when' of transition 'approve': unknown function 'shout'"
    ]
    ctx = LoadContext(
        channels=frozenset({"team_chat"}),
        calculators=frozenset({"ratio"}),
        functions=frozenset({"shout"}),
    )
    _, diagnostics = load_workflow_text(text, "w.yaml", ctx)
    assert [d.message for d in diagnostics] == [
        "metric 'reach' uses unknown calculator 'reach_count'"
    ]


def test_yaml_1_1_booleans_where_a_boolean_is_meant_only_warn() -> None:
    text = TEXT.replace("draft: {initial: true}", "draft: {initial: yes}")
    loaded, diagnostics = load_workflow_text(text, "w.yaml", CHANNELS)
    assert loaded is not None
    assert [d.message for d in diagnostics] == [
        "'yes' is read as the boolean true by YAML 1.1; write true"
    ]


def test_expression_positions_inside_quoted_and_block_scalars() -> None:
    source = "a: \"x + \\\"q\\\" + bad\"\nb: 'it''s + bad'\nc: |\n  one +\n  bad\nd: plain bad\n"
    doc, _ = load_yaml(source)
    assert doc is not None
    assert expression_position(doc, ("a",), 1, 11) == (1, 17)
    assert expression_position(doc, ("b",), 1, 8) == (2, 13)
    assert expression_position(doc, ("c",), 2, 1) == (5, 3)
    assert expression_position(doc, ("d",), 1, 7) == (6, 10)
    assert expression_position(doc, ("missing",), 1, 1) == (1, 1)


def test_files_folders_duplicates_and_names(tmp_path: Path) -> None:
    (tmp_path / "simple_review.yaml").write_text(TEXT, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "again.yml").write_text(TEXT, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "scenario.yaml").write_text("not: a workflow\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    loaded, diagnostics = load_workflow_paths([tmp_path, tmp_path / "nope.yaml"], CHANNELS)
    assert list(loaded) == ["simple_review"]
    assert [d.format() for d in diagnostics] == [
        f"{tmp_path / 'nope.yaml'}:1:1: error: no such file or folder",
        f"{tmp_path / 'sub' / 'again.yml'}:2:11: error: workflow 'simple_review' is already "
        f"defined in {tmp_path / 'simple_review.yaml'}",
        f"{tmp_path / 'sub' / 'again.yml'}:2:11: warning: workflow id 'simple_review' differs "
        "from the file name 'again.yml'; name the file simple_review.yml",
    ]


def test_unreadable_and_oversized_files(tmp_path: Path) -> None:
    bad = tmp_path / "latin.yaml"
    bad.write_bytes(b"workflow: x\ntitle: caf\xe9\n")
    _, diagnostics = load_workflow_file(bad)
    assert [d.format() for d in diagnostics] == [
        f"{bad}:2:11: error: the file is not UTF-8 text (byte 0xe9 cannot be decoded)"
    ]
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * (1024 * 1024) + b"\n")
    loaded, diagnostics = load_workflow_file(big)
    assert loaded is None
    assert "limited to 1 MiB" in diagnostics[0].message


_LINES = TEXT.splitlines()


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    lines = list(_LINES)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "char", "insert"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "char" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            c = draw(st.sampled_from(list(":-[]{}'\"#&*!|>%@`, \tyesno0") + ["\x00", "é"]))
            lines[i] = lines[i][:k] + c + lines[i][k + 1 :]
        else:
            lines.insert(i, draw(st.text(max_size=30)))
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_workflows_give_diagnostics_never_exceptions(text: str) -> None:
    loaded, diagnostics = load_workflow_text(text, "m.yaml", CHANNELS)
    assert all(isinstance(d, Diagnostic) for d in diagnostics)
    assert not any("internal error" in d.message for d in diagnostics), diagnostics
    assert all(d.line >= 1 and d.col >= 1 for d in diagnostics)
    if loaded is None:
        assert has_errors(diagnostics)
    else:
        assert not has_errors(diagnostics)
