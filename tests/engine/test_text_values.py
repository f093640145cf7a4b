"""Text values (``--set K=V``, a form): the engine parses them by the pinned field types."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from opsflow.errors import Invalid
from opsflow.store import tables as t

FORM = """
workflow: form
version: {version}
fields:
  title: {{type: string}}
  budget: {{type: {budget_type}}}
  claims: {{type: boolean, default: false}}
  tags: {{type: list}}
  due: {{type: date}}
states:
  draft: {{initial: true}}
  sent: {{}}
  done: {{final: true}}
transitions:
  - {{event: send, from: draft, to: sent}}
  - {{event: finish, from: sent, to: done}}
"""
TEXT = {"budget": "30000", "claims": "true", "tags": "a,b", "due": "2026-12-01"}
TYPED = {"budget": 30000, "claims": True, "tags": ["a", "b"], "due": "2026-12-01"}


@pytest.fixture
def form_engine(make_engine: Callable[..., Any], tmp_path: Path) -> Any:
    folder = tmp_path / "form_workflows"
    folder.mkdir()
    (folder / "form.yaml").write_text(FORM.format(version=1, budget_type="number"))
    return make_engine(workflows=folder)


def rows(engine: Any) -> tuple[int, int]:
    with engine.db.read() as conn:
        cases = conn.execute(select(func.count()).select_from(t.cases)).scalar_one()
        entries = conn.execute(select(func.count()).select_from(t.history)).scalar_one()
    return cases, entries


def test_start_parses_text_by_field_type(form_engine: Any) -> None:
    case = form_engine.start("form", text=TEXT)
    assert {k: case.data[k] for k in TYPED} == TYPED


def test_text_wins_over_data(form_engine: Any) -> None:
    case = form_engine.start("form", data={"title": "a", "budget": 5}, text={"budget": "7"})
    assert case.data["title"] == "a"
    assert case.data["budget"] == 7


def test_fire_parses_text_by_field_type(form_engine: Any) -> None:
    case = form_engine.start("form")
    result = form_engine.fire(case.id, "send", text=TEXT)
    assert result.case.state == "sent"
    assert {k: result.case.data[k] for k in TYPED} == TYPED
    assert form_engine.history(case.id)[-1].data_changes["claims"] == {"from": False, "to": True}


def test_set_parses_text_by_field_type(form_engine: Any) -> None:
    case = form_engine.start("form")
    changed = form_engine.set(case.id, text=TEXT)
    assert {k: changed.data[k] for k in TYPED} == TYPED


def test_dry_run_parses_text(form_engine: Any) -> None:
    case = form_engine.start("form")
    result = form_engine.fire(case.id, "send", text={"budget": "12"}, dry_run=True)
    assert result.outcome == "dry_run"
    with pytest.raises(Invalid, match=r"field 'budget': must be a number \(got 'x'\)"):
        form_engine.fire(case.id, "send", text={"budget": "x"}, dry_run=True)


@pytest.mark.parametrize(
    ("text", "message", "reasons"),
    [
        ({"budget": "abc"}, "field 'budget': must be a number (got 'abc')", None),
        ({"claims": "perhaps"}, "field 'claims': must be true or false (got 'perhaps')", None),
        ({"due": "2026-13-01"}, "field 'due':", None),
        (
            {"budgte": "1", "claims": "x"},
            "invalid data",
            [
                "unknown field 'budgte' in workflow form (did you mean 'budget'?)",
                "field 'claims': must be true or false (got 'x')",
            ],
        ),
    ],
)
def test_bad_text_is_invalid_and_writes_nothing(
    form_engine: Any, text: dict[str, str], message: str, reasons: list[str] | None
) -> None:
    case = form_engine.start("form")
    before = rows(form_engine)
    for attempt in (
        lambda: form_engine.fire(case.id, "send", text=text),
        lambda: form_engine.fire(case.id, "send", text=text, key="k"),
        lambda: form_engine.set(case.id, text=text),
        lambda: form_engine.start("form", text=text),
    ):
        with pytest.raises(Invalid) as caught:
            attempt()
        assert caught.value.message.startswith(message)
        if reasons is not None:
            assert caught.value.reasons == reasons
    assert rows(form_engine) == before
    assert form_engine.status(case.id).state == "draft"


def test_keyed_repeat_with_the_same_text_replays(form_engine: Any) -> None:
    case = form_engine.start("form", text={"title": "x"}, key="s1")
    again = form_engine.start("form", text={"title": "x"}, key="s1")
    assert again.id == case.id
    first = form_engine.fire(case.id, "send", text={"budget": "3"}, key="f1")
    assert first.outcome == "transitioned"
    repeat = form_engine.fire(case.id, "send", text={"budget": "3"}, key="f1")
    assert repeat.outcome == "replayed"
    with pytest.raises(Exception, match="already used with different input"):
        form_engine.fire(case.id, "send", text={"budget": "4"}, key="f1")


def test_a_case_parses_by_its_pinned_version(
    make_engine: Callable[..., Any], tmp_path: Path
) -> None:
    folder = tmp_path / "form_workflows"
    folder.mkdir()
    (folder / "form.yaml").write_text(FORM.format(version=1, budget_type="integer"))
    old = make_engine(workflows=folder).start("form")
    (folder / "form.yaml").write_text(FORM.format(version=2, budget_type="string"))
    engine = make_engine(workflows=folder)
    assert engine.fire(old.id, "send", text={"budget": "12"}).case.data["budget"] == 12
    with pytest.raises(Invalid, match="must be an integer"):
        engine.set(old.id, text={"budget": "twelve"})
    new = engine.start("form", text={"budget": "twelve"})
    assert new.version == 2
    assert new.data["budget"] == "twelve"


def test_fire_with_text_is_one_transaction_on_a_warm_engine(form_engine: Any) -> None:
    case = form_engine.start("form")
    form_engine.status(case.id)  # warm: the pinned definition is compiled
    calls: list[str] = []
    db = form_engine.db
    read, write = db.read, db.write

    def counted(kind: str, method: Callable[[], Any]) -> Callable[[], Any]:
        def wrapper() -> Any:
            calls.append(kind)
            return method()

        return wrapper

    db.read, db.write = counted("read", read), counted("write", write)
    try:
        form_engine.fire(case.id, "send", text={"budget": "1"})
    finally:
        db.read, db.write = read, write
    assert calls == ["write"]
