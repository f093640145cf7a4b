"""Random mutations of each standard workflow never crash the loader (SPEC §6).

tests/language/test_loader.py mutates one workflow by lines; this drives all four
standard workflows, with value-level mutations too (numbers, identifiers, YAML 1.1
words, tags, anchors), and checks the outcome is diagnostics, never an exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsflow.language.diagnostics import Diagnostic
from opsflow.language.loader import LoadContext, load_workflow_text

STANDARD = sorted((Path(__file__).resolve().parents[2] / "workflows").glob("*.yaml"))
CONTEXT = LoadContext()
TOKENS = [
    "yes",
    "no",
    "on",
    "off",
    "010",
    "1:30",
    "~",
    "null",
    "!!python/name:os.system",
    "&a",
    "*a",
    "*undefined",
    "<<",
    "-1",
    "0",
    "1e999",
    ".nan",
    "'",
    '"',
    "{",
    "[",
    "__import__('os')",
    "a" * 300,
    "P1M",
    "*/0",
    "\t",
    "\u202e",
    "中文",
]


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["token", "delete", "duplicate", "indent", "swap"]))
        line = lines[i]
        if op == "token":
            k = draw(st.integers(0, len(line)))
            cut = draw(st.integers(0, 12))
            lines[i] = line[:k] + draw(st.sampled_from(TOKENS)) + line[k + cut :]
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, line)
        elif op == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "    ", "      "])) + line.lstrip()
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", STANDARD, ids=lambda p: p.stem)
def test_mutations_give_diagnostics_never_exceptions(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutated(text))
    def check(mutant: str) -> None:
        loaded, diagnostics = load_workflow_text(mutant, path.name, CONTEXT)
        assert all(isinstance(d, Diagnostic) for d in diagnostics)
        assert all(d.line >= 1 and d.col >= 1 for d in diagnostics)
        errors = [d for d in diagnostics if d.severity == "error"]
        assert (loaded is None) == bool(errors)

    check()


def test_every_standard_workflow_is_mutated() -> None:
    assert {p.stem for p in STANDARD} == {
        "campaign_lifecycle",
        "compliance_review",
        "content_approval",
        "performance_cycle",
    }
