"""Hostile values through the real CLI: exit 2, 5 or 65, one plain message, nothing written.

SPEC §3 exit codes, §6 "Bad input". Each command runs against a project with one case;
afterwards the database must hold exactly what it held before.
"""

from __future__ import annotations

import json

import pytest
from hardening_helpers import Project, Run

SQL = "'; DROP TABLE cases; --"
HUGE = "9" * 5000


@pytest.fixture
def case_id(run: Run) -> str:
    result = run("--as", "rita", "start", "expense", "--set", "title=Taxi", "--set", "amount=40")
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _refused(project: Project, run: Run, args: list[str], code: int, words: str) -> str:
    before = project.counts()
    result = run(*args)
    assert result.exit_code == code, (args[:6], result.output)
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    assert result.stdout == ""
    assert project.counts() == before
    return result.stderr


START = ["--as", "rita", "start", "expense", "--set", "title=Taxi"]


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (["--set", "amount=abc"], 65, "field 'amount': must be a number"),
        (["--set", "amount=nan"], 65, "field 'amount': must be a number"),
        (["--set", "amount=inf"], 65, "field 'amount': must be a number"),
        (["--set", "amount=-inf"], 65, "field 'amount': must be a number"),
        (["--set", "amount=1e999"], 65, "field 'amount': must be a finite number"),
        (["--set", "amount=-1"], 65, "field 'amount': must be >= 0"),
        (["--set", "count=1.5"], 65, "field 'count': must be an integer"),
        (["--set", f"count={HUGE}"], 65, "field 'count': is too large a number"),
        (["--set", f"amount={HUGE}"], 65, "field 'amount': is too large a number"),
        (["--set", "urgent=maybe"], 65, "field 'urgent': must be true or false"),
        (["--set", "due=2026-02-30"], 65, "field 'due': must be a date that exists"),
        (["--set", "due=2026-13-01"], 65, "field 'due': must be a date that exists"),
        (["--set", "due=2026-02-01T10:00"], 65, "field 'due': must be a date (YYYY-MM-DD)"),
        (["--set", "amont=3"], 65, "unknown field 'amont' in workflow expense (did you mean"),
        (["--set", "title=" + "t" * 101], 65, "field 'title': must be at most 100 characters"),
        (["--set", "note=" + "n" * 10_000_000], 65, "field 'note': is too long"),
        (["--set", "tags=[1, [2]]"], 65, "field 'tags': must be a list of strings"),
        (["--set", "noequals"], 2, "--set expects FIELD=VALUE"),
        (["--key", ""], 2, "must not be empty"),
        (["--key", "k" * 10_000], 2, "the limit is 200"),
        (["--key", "a\x00b"], 2, "must not contain control characters"),
    ],
    ids=lambda v: v if isinstance(v, int) else None,
)
def test_bad_start_values(
    project: Project, run: Run, extra: list[str], code: int, words: str
) -> None:
    message = _refused(project, run, START + extra, code, words)
    assert len(message) < 2000  # a 10 MB value is not echoed back


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{bad", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object of field values, got list"),
        (b"3", "expected a JSON object of field values, got int"),
        (b'"text"', "expected a JSON object of field values, got str"),
        (b'{"title": "\xff\xfe"}', "not UTF-8 text"),
        (b'{"title": 5}', "field 'title': must be a string"),
        (b'{"amount": NaN, "title": "x"}', "field 'amount': must be a finite number"),
        (b'{"title": "x", "tags": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"title": "x", "bogus": 1}', "unknown field 'bogus'"),
    ],
)
def test_bad_data_files(project: Project, run: Run, content: bytes, words: str) -> None:
    (project.root / "data.json").write_bytes(content)
    _refused(project, run, ["--as", "rita", "start", "expense", "--data", "data.json"], 65, words)


def test_data_from_a_missing_file_is_a_usage_error(project: Project, run: Run) -> None:
    _refused(project, run, [*START, "--data", "../../etc/nope.json"], 2, "No such file")


@pytest.mark.parametrize("name", ["../../etc/passwd", SQL, "Expense", "", "x" * 10_000])
def test_hostile_workflow_names_are_not_found(project: Project, run: Run, name: str) -> None:
    _refused(project, run, ["--as", "rita", "start", name], 5, "no workflow")


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["history"],
        ["fire", "{}", "submit"],
        ["set", "{}", "amount=1"],
        ["graph", "expense", "--case"],
        ["compute"],
    ],
)
@pytest.mark.parametrize("bad_id", ["../../etc/passwd", SQL, "ffffffffffffffff", "%%%%%%"])
def test_hostile_case_ids_are_not_found(
    project: Project, run: Run, case_id: str, command: list[str], bad_id: str
) -> None:
    args = [a.replace("{}", bad_id) for a in command]
    if "{}" not in command:
        args.append(bad_id)
    _refused(project, run, ["--as", "rita", *args], 5, "no case")
    assert project.rows("SELECT count(*) FROM cases") == [(1,)]


def test_a_short_case_prefix_is_a_usage_error(project: Project, run: Run, case_id: str) -> None:
    _refused(project, run, ["status", case_id[:3]], 2, "too short")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["fire", "{}", "nosuchevent"], 5, "has no event 'nosuchevent'"),
        (["fire", "{}", SQL], 5, "has no event"),
        (["fire", "{}", "submit", "--set", "due=2026-02-29"], 65, "must be a date that exists"),
        (["fire", "{}", "submit", "--comment", "c" * 200_000], 2, "the limit is 100,000"),
        (["fire", "{}", "submit", "--key", "k" * 10_000], 2, "the limit is 200"),
        (["set", "{}", "amount=-5"], 65, "must be >= 0"),
        (["compute", "{}", "nosuchmetric"], 5, "has no metric 'nosuchmetric'"),
    ],
)
def test_bad_values_on_an_existing_case(
    project: Project, run: Run, case_id: str, args: list[str], code: int, words: str
) -> None:
    history = project.rows("SELECT count(*) FROM history")
    data = project.rows("SELECT data, state FROM cases")
    _refused(project, run, ["--as", "rita", *[a.replace("{}", case_id) for a in args]], code, words)
    assert project.rows("SELECT count(*) FROM history") == history
    assert project.rows("SELECT data, state FROM cases") == data


@pytest.mark.parametrize(
    ("actor", "words"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("a" * 300, "the limit is 200"),
        ("ri\nta", "control characters"),
        ("ri\x1bta", "control characters"),
    ],
)
def test_bad_actor_names_are_usage_errors(
    project: Project, run: Run, actor: str, words: str
) -> None:
    _refused(project, run, ["--as", actor, "start", "expense", "--set", "title=x"], 2, words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["cases", "--limit", "-1"], "not in the range"),
        (["cases", "--limit", "0"], "not in the range"),
        (["cases", "--limit", "99999999999999999999999"], "not in the range"),
        (["cases", "--limit", "ten"], "is not a valid integer"),
        (["outbox", "--limit", "99999999999999999999999"], "not in the range"),
        (["outbox", "retry", "99999999999999999999999"], "not in the range"),
        (["outbox", "retry", "abc"], "is not a valid integer"),
        (["cases", "--open", "--closed"], "--open"),
    ],
)
def test_out_of_range_options_are_usage_errors(
    project: Project, run: Run, case_id: str, args: list[str], words: str
) -> None:
    _refused(project, run, args, 2, words)


def test_control_characters_and_rtl_marks_are_stored_exactly_and_shown_safely(
    project: Project, run: Run, case_id: str
) -> None:
    value = "a\x1b[31mred\x07\u202egnp.exe\nline2 中文"
    result = run("--as", "rita", "set", case_id, f"note={value}", "--comment", "\x1b[2Jhi")
    assert result.exit_code == 0, result.output
    stored = json.loads(run("status", case_id, "--json").stdout)["data"]["note"]
    assert stored == value
    for shown in (run("status", case_id).stdout, run("history", case_id).stdout):
        assert "\x1b" not in shown
        assert "\x07" not in shown
        assert "\u202e" not in shown
        assert "a\\x1b[31mred\\x07\\u202egnp.exe line2 中文" in shown
    assert "\\x1b[2Jhi" in run("history", case_id).stdout
    history = json.loads(run("history", case_id, "--json").stdout)
    assert history[-1]["comment"] == "\x1b[2Jhi"


def test_errors_echoing_a_value_do_not_pass_escapes_to_the_terminal(
    project: Project, run: Run
) -> None:
    message = _refused(project, run, ["--as", "rita", "start", "\x1b[2Jexp"], 5, "no workflow")
    assert "\x1b" not in message
    assert "\\x1b[2Jexp" in message
