"""``/cases/{id}/diagram``: the case's workflow as SVG drawn on the server, current state lit.

The layout (``diagram_layout``) is tested on its own: the Mermaid text ``opsflow graph``
writes parsed back, ranks with cycles, and drawings whose boxes and labels never overlap.
The fragment is tested on both backends: the highlight and its text legend, titles in
Chinese and English, no script and no inline style, the API's read rule, bounded queries.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient

from opsflow.service.board import diagram_layout as dl

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HTMX = {"HX-Request": "true"}

REVIEW = """---
title: 审核 Review
---
stateDiagram-v2
    state "草稿 Draft" as draft
    [*] --> draft
    draft --> review : submit
    review --> legal : approve
    legal --> scheduled : approve (2 approvals)
    scheduled --> held : pull (auto)
    held --> review : retry
    review --> review : escalate (internal)
    draft --> rejected : cancel
    review --> rejected : cancel
    legal --> rejected : cancel
    scheduled --> rejected : cancel
    held --> rejected : cancel
    rejected --> [*]
    classDef current fill:#ffd54f,stroke:#f57f17,stroke-width:3px
    class legal current"""


def _title(name: str) -> str:
    return name


def _label(edge: dl.Edge) -> str:
    return " ".join([edge.event, *edge.flags])


def test_the_mermaid_of_opsflow_graph_parses_back() -> None:
    chart = dl.parse(REVIEW)
    assert chart.title == "审核 Review"
    assert chart.states == ["draft", "review", "legal", "scheduled", "held", "rejected"]
    assert chart.titles == {"draft": "草稿 Draft"}
    assert (chart.initial, chart.finals, chart.current) == ("draft", {"rejected"}, "legal")
    assert dl.Edge("legal", "scheduled", "approve", ("2 approvals",)) in chart.edges
    assert dl.Edge("scheduled", "held", "pull", ("auto",)) in chart.edges
    assert dl.Edge("review", "review", "escalate", ("internal",)) in chart.edges
    assert len(chart.edges) == 11


def test_a_transition_from_any_state_is_named_not_drawn() -> None:
    chart = dl.parse(REVIEW)
    drawn = dl.layout(chart, _title, _label)
    assert {(e.source, e.event) for e in drawn.collapsed} == {
        ("draft", "cancel"),
        ("review", "cancel"),
        ("legal", "cancel"),
        ("scheduled", "cancel"),
        ("held", "cancel"),
    }
    assert all(line.edge.event != "cancel" for line in drawn.lines)
    rejected = next(b for b in drawn.boxes if b.name == "rejected")
    held = next(b for b in drawn.boxes if b.name == "held")
    assert rejected.y > held.y  # still ranked below every state it is reached from


def test_ranks_go_down_the_flow_and_turn_cycles_around() -> None:
    states = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("b", "d"), ("d", "d")]
    assert dl.ranks(states, edges, "a") == {"a": 0, "b": 1, "c": 2, "d": 2}
    assert dl.ranks(["x", "y"], [("y", "x")], "x") == {"x": 0, "y": 1}  # back to the start


def test_the_current_state_start_and_loops_are_drawn() -> None:
    drawn = dl.layout(dl.parse(REVIEW), _title, _label)
    boxes = {b.name: b for b in drawn.boxes}
    assert [b.name for b in drawn.boxes if b.current] == ["legal"]
    assert boxes["rejected"].final
    assert drawn.start is not None
    assert drawn.start[0] == pytest.approx(boxes["draft"].cx)
    assert drawn.start[2] == pytest.approx(boxes["draft"].y)
    loops = [line for line in drawn.lines if line.loop]
    assert [line.label.text for line in loops] == ["escalate internal"]
    assert loops[0].label.x - loops[0].label.w / 2 > boxes["review"].x + boxes["review"].w
    back = [line.edge.event for line in drawn.lines if line.back]
    assert back == ["retry"]
    retry = next(line for line in drawn.lines if line.back)
    end = retry.path.rsplit(" ", 1)[-1].split(",")
    assert float(end[1]) == pytest.approx(boxes["review"].y + boxes["review"].h)  # arrow up


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _random_chart(seed: int) -> dl.Chart:
    rng = random.Random(seed)
    names = [f"s{n}" for n in range(rng.randint(2, 12))]
    lines = ["stateDiagram-v2", f"    [*] --> {names[0]}"]
    for _ in range(rng.randint(1, 3 * len(names))):
        source, target = rng.choice(names), rng.choice(names)
        event = rng.choice(["go", "approve", "send_back", "审批", "escalate_to_director"])
        lines.append(f"    {source} --> {target} : {event}")
    lines.append(f"    {names[-1]} --> [*]")
    lines.append(f"    class {rng.choice(names)} current")
    return dl.parse("\n".join(lines))


@pytest.mark.parametrize("seed", range(40))
def test_no_box_or_label_overlaps_another_and_all_fit(seed: int) -> None:
    chart = _random_chart(seed)
    drawn = dl.layout(chart, _title, _label)
    rects = [(b.x, b.y, b.w, b.h) for b in drawn.boxes]
    rects += [
        (ln.label.x - ln.label.w / 2, ln.label.y - ln.label.h / 2, ln.label.w, ln.label.h)
        for ln in drawn.lines
    ]
    for n, first in enumerate(rects):
        x, y, w, h = first
        assert x >= 0
        assert y >= 0
        assert x + w <= drawn.width + 0.01
        assert y + h <= drawn.height + 0.01
        for second in rects[n + 1 :]:
            assert not _overlap(first, second), (seed, first, second)
    assert {b.name for b in drawn.boxes} == set(chart.states)
    drawn_edges = [ln.edge for ln in drawn.lines]
    looped = {ln.edge.source: ln.label.text for ln in drawn.lines if ln.loop}
    for edge in chart.edges:
        if edge.source == edge.target and edge not in drawn.collapsed:
            assert _label(edge) in looped[edge.source]  # a state's loops share one, labelled
        else:
            assert edge in drawn_edges or edge in drawn.collapsed


def test_forward_edges_point_down_the_page() -> None:
    drawn = dl.layout(dl.parse(REVIEW), _title, _label)
    boxes = {b.name: b for b in drawn.boxes}
    for line in drawn.lines:
        if not line.back and not line.loop:
            assert boxes[line.edge.source].y < boxes[line.edge.target].y, line.edge


def test_text_widths_allow_for_chinese() -> None:
    assert dl.text_width("审批中", 14) > dl.text_width("abc", 14) * 1.5
    assert dl.text_width("", 14) == 0
    long = dl.parse('stateDiagram-v2\n    state "法务与品牌联合审核阶段" as x\n    [*] --> x')
    box = dl.layout(long, lambda s: long.titles[s], _label).boxes[0]
    assert box.w >= dl.text_width("法务与品牌联合审核阶段", dl.NODE_FONT)


# -- the fragment -------------------------------------------------------------------------


def in_review(engine: Any) -> str:
    case = engine.start("review", data={"title": "春季促销"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return str(case.id)


def test_the_diagram_highlights_the_current_state(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case_id = in_review(engine)
    login(client, "ann")
    answer = client.get(f"/cases/{case_id}/diagram", headers={"Accept-Language": "en", **HTMX})
    assert answer.status_code == 200
    html = answer.text
    assert "<html" not in html
    assert "<svg" in html
    assert 'role="img"' in html
    current = re.findall(r'<g class="state ([^"]*)" id="state-[0-9a-f]+-(\w+)"', html)
    assert [name for classes, name in current if "current" in classes.split()] == ["review"]
    assert f'id="state-{case_id}-review" aria-current="step"' in html
    page = text_of(html)
    assert "Current state: review" in page  # the legend, for everyone and screen readers
    assert "Workflow diagram of 审核 Review. Current state: review" in page
    assert "From every open state: cancel → rejected" in page
    assert "approve · 2 approvals" in page
    assert "pull · automatic" in page
    assert "review → legal: approve" in page  # the transitions as text
    assert 'href="/board-static/diagram.css"' in html
    assert "<script" not in html
    assert "<style" not in html
    assert "style=" not in html


def test_titles_are_in_the_readers_language(
    board: tuple[TestClient, Any], workflows_dir: Path
) -> None:
    client, engine = board
    shutil.copy(FIXTURES / "valid" / "localized_titles.yaml", workflows_dir)
    case = engine.start("localized_titles", data={"headline": "新品"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    login(client, "ann")
    zh = client.get(f"/cases/{case.id}/diagram", headers={"Accept-Language": "zh-CN", **HTMX})
    page = text_of(zh.text)
    assert "流程图：内容审批" in page
    assert "当前状态：审阅中" in page
    assert ">草稿</text>" in zh.text
    assert ">提交</text>" in zh.text
    assert ">发布</text>" in zh.text
    en = client.get(f"/cases/{case.id}/diagram", headers={"Accept-Language": "en", **HTMX})
    assert "Current state: In review" in text_of(en.text)
    assert ">Draft</text>" in en.text
    assert ">Submit</text>" in en.text


def test_opened_directly_it_is_a_whole_page(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case_id = in_review(engine)
    login(client, "ann")
    page = client.get(f"/cases/{case_id}/diagram", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "<html" in page.text
    assert f'href="/cases/{case_id}"' in page.text
    assert "Diagram: 审核 Review" in text_of(page.text)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    css = client.get("/board-static/diagram.css")
    assert css.status_code == 200
    assert ".state.current" in css.text


def test_a_case_i_may_not_read_is_not_found(
    board: tuple[TestClient, Any], workflows_dir: Path
) -> None:
    client, engine = board
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir)
    secret = engine.start("hr", {"title": "pay rise"}, actor="ann").id
    login(client, "bea")
    hidden = client.get(f"/cases/{secret}/diagram")
    missing = client.get(f"/cases/{'0' * 32}/diagram")
    assert hidden.status_code == 404
    assert missing.status_code == 404
    assert "Staff matter" not in hidden.text
    assert client.get(f"/v1/workflows/hr/graph?case={secret}").status_code == 404
    login(client, "lou")
    assert client.get(f"/cases/{secret}/diagram", headers=HTMX).status_code == 200


def test_without_a_login_the_browser_goes_to_the_login_page(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    case_id = in_review(engine)
    answer = client.get(f"/cases/{case_id}/diagram", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=/cases/{case_id}/diagram"


def test_the_statements_do_not_grow_with_the_history_or_the_cases(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    quiet = in_review(engine)
    busy = in_review(engine)
    for n in range(40):
        engine.set(busy, {"score": n}, actor="ann")
        in_review(engine)
    login(client, "ann")
    client.get(f"/cases/{quiet}/diagram", headers=HTMX)  # warm: definitions, session
    counts = []
    for case_id in (quiet, busy):
        with counted_queries(engine) as statements:
            assert client.get(f"/cases/{case_id}/diagram", headers=HTMX).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert counts[0] <= 12, counts
