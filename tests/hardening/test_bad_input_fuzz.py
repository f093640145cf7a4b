"""Bad input through the CLI is a clear error, never "internal error" (SPEC §3, §6).

Hostile ``--set``/``--data``/``--comment``/``--key`` values and ``OPSFLOW_NOW`` clocks:
each command exits 0, 2 (usage), 3, 4 (refused) or 65 (invalid data) with one plain
message, no traceback, and an error writes nothing. A hypothesis fuzzer with a small
example budget and a fixed corpus of the values that once crashed opsflow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hardening_helpers import Project, Run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EDGE = """\
workflow: edge
version: 1
title: Edge values
roles: [requester]
fields:
  title: {type: string}
  n: {type: integer}
  tags: {type: list}
  note: {type: text}
  at: {type: datetime}
  day: {type: date}
  amount: {type: money}
states:
  open: {initial: true}
  done: {final: true}
transitions:
  - {event: repeat, from: open, to: done, roles: [requester], when: "len(tags * n) >= 0"}
  - {event: age, from: open, to: done, roles: [requester], when: "days_since(note) > 1"}
  - {event: grow, from: open, to: done, roles: [requester], when: "round(amount ** 100) > 0"}
  - {event: close, from: open, to: done, roles: [requester]}
"""

ALLOWED = {0, 2, 4, 65}
DEEP_LIST = "[" * 5000 + "]" * 5000
CORPUS = [
    "at=9999-12-31T23:59:59-01:00",
    "at=0001-01-01T00:30:00+01:00",
    "at=0001-01-01T00:00:00+14:00",
    "day=0000-01-01",
    "title=\udcff",
    "note=\ud800",
    f"tags={DEEP_LIST}",
    "tags=[" + "9" * 5000 + "]",
    "tags=[1e999]",
    'tags=["\\udcff"]',
    "n=" + "9" * 5000,
    "amount=1e999999",
    "amount=99999999999999999.99",
    "note=" + "\u202e" * 10,
]


@pytest.fixture
def edge(project: Project, run: Run) -> str:
    (project.root / "workflows" / "edge.yaml").write_text(EDGE, encoding="utf-8")
    result = run("--as", "rita", "start", "edge", "--set", "title=x")
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _clean(project: Project, run: Run, *args: str, env: dict[str, str] | None = None) -> int:
    """Run a command; assert no traceback or internal error, and nothing written on error."""
    before = project.counts()
    result = run(*args, env=env)
    assert "Traceback" not in result.output, (args, result.output)
    assert "internal error" not in result.output, (args, result.output)
    assert result.exit_code in ALLOWED, (args, result.exit_code, result.output)
    if result.exit_code not in (0, 4):  # a refused person's fire is audited as denied
        assert project.counts() == before, (args, result.output)
    return result.exit_code


@pytest.mark.parametrize("assignment", CORPUS)
def test_hostile_set_values(project: Project, run: Run, edge: str, assignment: str) -> None:
    assert _clean(project, run, "--as", "rita", "set", edge, assignment) in (0, 65)
    assert _clean(project, run, "--as", "rita", "start", "edge", "--set", assignment) in (0, 65)


@pytest.mark.parametrize(
    "document",
    [
        '{"n": ' + "9" * 5000 + "}",
        '{"title": "\\udcff"}',
        '{"\\udcff": 1}',
        '{"tags": ' + DEEP_LIST + "}",
        '{"at": "9999-12-31T23:59:59-01:00"}',
        '{"n": 1e999}',
        '{"n": NaN}',
    ],
)
def test_hostile_data_files(project: Project, run: Run, edge: str, document: str) -> None:
    path = project.root / "data.json"
    path.write_text(document, encoding="utf-8")
    args = ("--as", "rita", "start", "edge", "--data", str(path))
    assert _clean(project, run, *args) == 65


@pytest.mark.parametrize("option", ["--comment", "--key"])
@pytest.mark.parametrize("value", ["\udcff", "a\ud800b"])
def test_undecodable_comment_and_key(
    project: Project, run: Run, edge: str, option: str, value: str
) -> None:
    assert _clean(project, run, "--as", "rita", "fire", edge, "close", option, value) == 2


@pytest.mark.parametrize(
    "now", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "\udcff", "now"]
)
def test_hostile_clock(project: Project, run: Run, edge: str, now: str) -> None:
    for args in (("status", edge), ("--as", "rita", "fire", edge, "close")):
        assert _clean(project, run, *args, env={"OPSFLOW_NOW": now}) == 2


@pytest.mark.parametrize(
    ("assignment", "event", "words"),
    [
        ("n=1180591620717411303424", "repeat", "repeat count too large"),
        ("note=0001-01-01T00:30:00+01:00", "age", "out of range"),
        ("amount=99999999999999999.99", "grow", "too large"),
    ],
)
def test_a_failing_guard_refuses_only_its_event(
    project: Project, run: Run, edge: str, assignment: str, event: str, words: str
) -> None:
    assert run("--as", "rita", "set", edge, "tags=[]", assignment).exit_code == 0
    fired = run("--as", "rita", "fire", edge, event)
    assert fired.exit_code == 4, fired.output
    assert "could not be evaluated" in fired.stderr
    assert words in fired.stderr
    for args in (("--as", "rita", "status", edge), ("--as", "rita", "inbox")):
        result = run(*args, "--json")
        assert result.exit_code == 0, (args, result.output)
    events = {e["event"]: e for e in json.loads(run("status", edge, "--json").stdout)["events"]}
    assert not events[event]["allowed"]
    assert run("--as", "rita", "fire", edge, "close").exit_code == 0


def test_worker_at_the_end_of_time(project: Project, run: Run) -> None:
    (project.root / "notifications.jsonl").mkdir()  # every delivery fails: a retry is due
    case = run("--as", "rita", "start", "expense", "--set", "title=T", "--set", "amount=1")
    run("--as", "rita", "fire", case.stdout.strip(), "submit")
    approved = run("--as", "mia", "fire", case.stdout.strip(), "approve")
    assert approved.exit_code == 0, approved.output
    env = {"OPSFLOW_NOW": "9999-12-31T23:59:59+00:00"}
    for _ in range(2):
        result = run("worker", "--once", env=env)
        assert "internal error" not in result.output, result.output
        assert "Traceback" not in result.output


def test_validate_reports_a_huge_repeat_at_the_expression(project: Project, run: Run) -> None:
    bad = EDGE.replace('"len(tags * n) >= 0"', '"[] * 2**70"').replace(
        "roles: [requester]\nfields", "roles: [requester, ghost]\nfields"
    )
    bad = bad.replace(
        "{event: close, from: open, to: done", "{event: close, from: nowhere, to: done"
    )
    path = project.root / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 65, result.output
    assert "internal error" not in result.output
    assert "repeat count too large" in result.output
    assert ":1:1:" not in result.output
    assert "nowhere" in result.output  # the file's other errors are reported too


HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\udcff", "\ud800", "\x00", "9" * 5000, DEEP_LIST, "1e999", "-0", "[]"]),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(1, 3000)),
    st.builds(str, st.integers(-(2**5000), 2**5000)),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["+14:00", "-14:00", "-01:00", "+01:00"]).map(
        lambda tz: f"0001-01-01T00:00:00{tz}"
    ),
)
FIELDS = st.sampled_from(["title", "n", "tags", "note", "at", "day", "amount", "nope"])


@settings(
    max_examples=60,
    deadline=3000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(field=FIELDS, text=HOSTILE_TEXT, option=st.sampled_from(["--comment", "--key", None]))
def test_fuzz_hostile_values(
    project: Project, run: Run, edge: str, field: str, text: str, option: str | None
) -> None:
    _clean(project, run, "--as", "rita", "set", edge, f"{field}={text}")
    if option is not None:
        _clean(project, run, "--as", "rita", "fire", edge, "repeat", option, text, "--dry-run")
    _clean(project, run, "status", edge, env={"OPSFLOW_NOW": _as_environment(text)})


def _as_environment(text: str) -> str:
    """What a process sees in its environment for ``text``: bytes, no NUL, never empty."""
    raw = text.replace("\x00", "").encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "surrogateescape") or "x"


def test_data_file_fuzz_corpus(project: Project, run: Run, edge: str, tmp_path: Path) -> None:
    for text in ["\udcff", "9" * 5000, DEEP_LIST, "0001-01-01T00:30:00+01:00"]:
        for field in ("title", "n", "tags", "at", "amount"):
            path = tmp_path / "d.json"
            path.write_text(f'{{"{field}": {json.dumps(text)}}}', encoding="utf-8")
            _clean(project, run, "--as", "rita", "start", "edge", "--data", str(path))
