"""The safe YAML loader: marks, duplicates, limits, tags, YAML 1.1 traps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from opsflow.language import yamlio
from opsflow.language.yamlio import MAX_BYTES, MAX_DEPTH, BoolTrap, load_yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

TEXT = """\
workflow: demo
states:
  draft:
    sla: {within: 2d, fire: late}
transitions:
  - event: go
    when: "x > 1"
"""


def _messages(text: str) -> list[str]:
    _, diagnostics = load_yaml(text, "f.yaml")
    return [f"{d.line}:{d.col}: {d.severity}: {d.message}" for d in diagnostics]


def test_marks_keys_and_values_by_path() -> None:
    doc, diagnostics = load_yaml(TEXT, "f.yaml")
    assert diagnostics == []
    assert doc is not None
    assert doc.data["states"]["draft"]["sla"]["within"] == "2d"
    assert doc.locate(("states", "draft", "sla", "within")) == (4, 19)
    assert doc.locate(("states", "draft", "sla", "within"), key=True) == (4, 11)
    assert doc.locate(("transitions", 0, "when")) == (7, 11)
    assert doc.locate(("transitions", 0)) == (6, 5)
    assert doc.values[("transitions", 0, "when")].style == '"'


def test_locate_falls_back_to_the_nearest_ancestor() -> None:
    doc, _ = load_yaml(TEXT)
    assert doc is not None
    assert doc.locate(("states", "draft", "sla", "missing")) == (4, 10)
    assert doc.locate(("nowhere", 3)) == (1, 1)


def test_duplicate_key_is_reported_at_the_second_naming_the_first() -> None:
    assert _messages("a: 1\nb: 2\na: 3\n") == [
        "3:1: error: duplicate key 'a' (first defined at line 1)"
    ]
    doc, _ = load_yaml("a: 1\na: 3\n")
    assert doc is not None
    assert doc.data == {"a": 1}


def test_documents_over_one_mebibyte_are_refused() -> None:
    text = "a: " + "x" * MAX_BYTES + "\n"
    doc, diagnostics = load_yaml(text)
    assert doc is None
    assert "limited to 1 MiB" in diagnostics[0].message


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    started = time.perf_counter()
    doc, diagnostics = load_yaml("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 0.5
    assert doc is None
    assert "more than 100000 nodes" in diagnostics[0].message


def test_plain_aliases_and_merge_keys_work() -> None:
    doc, diagnostics = load_yaml("base: &b {k: 1, j: 2}\nother: {<<: *b, j: 3}\nlist: [*b]\n")
    assert diagnostics == []
    assert doc is not None
    assert doc.data["other"] == {"k": 1, "j": 3}
    assert doc.data["list"] == [{"k": 1, "j": 2}]


def test_recursive_alias_is_refused() -> None:
    assert _messages("a: &a [*a]\n") == ["1:8: error: alias 'a' refers to itself"]


def test_deep_nesting_is_refused() -> None:
    doc, diagnostics = load_yaml("a: " + "[" * 500 + "]" * 500 + "\n")
    assert doc is None
    assert f"nested more than {MAX_DEPTH} levels" in diagnostics[0].message


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system [ls]\n",
        "a: !!python/name:os.system ''\n",
        "a: !custom x\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!set {x}\n",
    ],
)
def test_tags_beyond_plain_yaml_are_refused(text: str) -> None:
    messages = _messages(text)
    assert len(messages) == 1
    assert "is not allowed in a workflow file" in messages[0]


def test_empty_and_multi_document_streams_are_errors() -> None:
    assert _messages("") == [
        "1:1: error: the file is empty; a workflow file is a mapping with workflow, version, states"
    ]
    assert _messages("# only a comment\n---\n") != []
    assert _messages("a: 1\n---\nb: 2\n") == [
        "2:1: error: a workflow file holds one YAML document, but a second one starts here"
    ]


def test_syntax_errors_carry_the_problem_position() -> None:
    assert _messages("a: [1, 2\nb: 3\n")[0].startswith("2:2: error: invalid YAML: ")
    assert _messages("a:\n\tb: 1\n")[0].startswith("2:1: error: invalid YAML: found character")
    assert _messages("a: \x00\n") == [
        "1:4: error: invalid YAML: character #x0000 is not allowed "
        "(special characters are not allowed)"
    ]


def test_boolean_values_from_yes_no_on_off_are_listed_as_traps() -> None:
    doc, diagnostics = load_yaml("a: yes\nb: [x, off]\nc: true\nd: 'no'\n")
    assert diagnostics == []
    assert doc is not None
    assert doc.traps == [BoolTrap(("a",), "yes", True), BoolTrap(("b", 1), "off", False)]


def test_keys_read_as_non_strings_are_errors_and_kept_as_text() -> None:
    doc, diagnostics = load_yaml("on: 1\nYES: 2\n404: 3\n~: 4\n'off': 5\n")
    assert doc is not None
    assert list(doc.data) == ["on", "YES", "404", "~", "off"]
    assert [f"{d.line}:{d.col}: {d.message}" for d in diagnostics] == [
        "1:1: key 'on' is read as the boolean true by YAML 1.1; quote it: 'on'",
        "2:1: key 'YES' is read as the boolean true by YAML 1.1; quote it: 'YES'",
        "3:1: key '404' is read as an integer by YAML, not as a name; quote it: '404'",
        "4:1: key '~' is read as null by YAML, not as a name; quote it: '~'",
    ]


def test_timestamps_stay_as_written() -> None:
    doc, _ = load_yaml("d: 2026-12-01\nt: 2026-01-05 09:00:00\n")
    assert doc is not None
    assert doc.data == {"d": "2026-12-01", "t": "2026-01-05 09:00:00"}


def test_huge_integers_do_not_crash() -> None:
    messages = _messages("a: " + "9" * 5000 + "\n")
    assert messages[0].endswith("the number is too long")


def test_byte_order_mark_is_ignored() -> None:
    doc, diagnostics = load_yaml("\ufeffa: 1\n")
    assert diagnostics == []
    assert doc is not None
    assert doc.data == {"a": 1}


# -- libyaml's parser (fast) against PyYAML's pure-Python one (reference) ---------------

ROOT = Path(__file__).resolve().parents[2]
STYLES = """\
# every scalar style, anchors, non-ASCII text and YAML 1.1 traps
workflow: 审核_review
title: "Ünïcode «quoted» \\u00e9"
note: 'it''s single'
block: |
  line one ü
  line two
folded: >
  folded 中文
  text
plain: plain ü text
answer: yes
numbers: [1, -2.5, 0x1f, 1e3, .nan, ~, 2026-01-05]
defaults: &base {a: 1, b: [x, y]}
again: *base
merged: {<<: *base, c: 3}
on: flag
"""


def _both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = load_yaml(text, "f.yaml")
    monkeypatch.setattr(yamlio, "_CParser", None)
    reference = load_yaml(text, "f.yaml")
    monkeypatch.undo()
    return fast, reference


def _documents() -> list[tuple[str, str]]:
    files = [*sorted((ROOT / "workflows").glob("*.yaml")), *sorted(FIXTURES.rglob("*.yaml"))]
    return [("styles", STYLES)] + [(p.name, p.read_text(encoding="utf-8")) for p in files]


@pytest.mark.skipif(yamlio._CParser is None, reason="libyaml is not installed")
def test_libyaml_and_the_reference_parser_give_the_same_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared = 0
    for name, text in _documents():
        (fast_doc, fast_diags), (ref_doc, ref_diags) = _both(text, monkeypatch)
        assert fast_diags == ref_diags, name
        if ref_doc is None:
            assert fast_doc is None, name
            continue
        assert fast_doc is not None, name
        for part in ("data", "values", "keys", "traps", "error_paths", "source"):
            assert getattr(fast_doc, part) == getattr(ref_doc, part), (name, part)
        compared += 1
    assert compared >= 6  # the styles document, four standard workflows, the fixtures


@pytest.mark.skipif(yamlio._CParser is None, reason="libyaml is not installed")
def test_a_document_libyaml_refuses_is_reported_in_the_reference_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bool] = []
    compose = yamlio._compose

    def spy(text: str, *, fast: bool) -> Any:
        calls.append(fast)
        return compose(text, fast=fast)

    monkeypatch.setattr(yamlio, "_compose", spy)
    _, diagnostics = load_yaml("a: [1, 2\nb: 3\n", "f.yaml")
    assert calls == [True, False]  # libyaml first, then the reference parser
    assert len(diagnostics) == 1
    assert diagnostics[0].message.startswith("invalid YAML: ")
    calls.clear()
    _, diagnostics = load_yaml("a: 1\n---\nb: 2\n", "f.yaml")
    assert calls == [True]  # opsflow's own limit: reported without a second parse
    assert "a workflow file holds one YAML document" in diagnostics[0].message
