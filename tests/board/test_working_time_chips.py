"""SLA chips on a business calendar say, and judge by, the *working* time left.

Legal reviews within 16 working hours on the Shanghai office calendar (09:00-12:00,
13:30-18:30, Monday to Friday, China's holidays). A case armed on Tuesday September 30
2025 at 17:00 is due on Friday October 10 at 17:00: National Day's week falls between.
Every clock is a FakeClock: nothing reads the real date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from boardkit import board_on, login, text_of
from fastapi.testclient import TestClient

from opsflow.calendars import calendars_of

WORKFLOW = """\
workflow: legal
version: 1
calendar: office
roles: [author, legal]
fields:
  title: {type: string}
states:
  legal_review: {initial: true, sla: {within: 16h, fire: escalate}}
  done: {final: true}
transitions:
  - {event: escalate, from: legal_review, to: done, roles: [system]}
  - {event: approve, from: legal_review, to: done, roles: [legal]}
"""
OFFICE = {
    "office": {
        "timezone": "Asia/Shanghai",
        "hours": {"mon-fri": "09:00-12:00 13:30-18:30"},
        "holidays": "CN",
    }
}


@pytest.fixture
def site(make_engine: Any, tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    folder = tmp_path / "legal-workflows"
    folder.mkdir()
    (folder / "legal.yaml").write_text(WORKFLOW, encoding="utf-8")
    problems: list[str] = []
    office = {"calendars": calendars_of(OFFICE, problems), "actor": "ann"}
    assert problems == []
    with board_on(make_engine(workflows=folder, settings=office)) as pair:
        yield pair


def chip_of(html: str) -> str:
    """The first SLA chip of the first case (after its state's chip)."""
    state = html.index('<span class="chip state"', html.index('class="case-link"'))
    start = html.index('<span class="chip ', state + 1)
    return html[start : html.index("</span>\n", start)]


def test_the_inbox_chip_counts_working_hours(site: tuple[TestClient, Any], clock: Any) -> None:
    client, engine = site
    client.headers["Accept-Language"] = "en"
    clock.now = datetime(2025, 9, 30, 9, 0, tzinfo=UTC)  # Tuesday 17:00 in Shanghai
    case = engine.start("legal", {"title": "合同审核"}, actor="ann")
    # Thursday October 9, 09:30: 14 working hours left of 16, though only 31.5 of the
    # 240 wall-clock hours are: the chip is not amber
    clock.now = datetime(2025, 10, 9, 1, 30, tzinfo=UTC)
    login(client, "lou")  # each time a session of the clock's day: older ones have expired
    chip = chip_of(client.get("/inbox").text)
    assert 'class="chip ok"' in chip
    assert "14 hours of working time left" in text_of(chip)
    assert "data-countdown" not in chip  # the browser's clock knows no office hours
    page = text_of(client.get(f"/cases/{case.id}").text)
    assert "14 hours of working time left" in page
    # Friday 14:00: 3 of 16 working hours left
    clock.now = datetime(2025, 10, 10, 6, 0, tzinfo=UTC)
    login(client, "lou")
    chip = chip_of(client.get("/inbox").text)
    assert 'class="chip amber"' in chip
    assert "3 hours of working time left" in text_of(chip)
    # Friday 18:00: an hour of working time past the due time
    clock.now = datetime(2025, 10, 10, 10, 0, tzinfo=UTC)
    login(client, "lou")
    chip = chip_of(client.get("/inbox").text)
    assert 'class="chip red"' in chip
    assert "Overdue · 1 hour of working time over" in text_of(chip)


def test_the_case_page_and_the_board_say_it_in_chinese(
    site: tuple[TestClient, Any], clock: Any
) -> None:
    client, engine = site
    clock.now = datetime(2025, 9, 30, 9, 0, tzinfo=UTC)
    case = engine.start("legal", {"title": "合同审核"}, actor="ann")
    clock.now = datetime(2025, 10, 9, 1, 30, tzinfo=UTC)
    login(client, "lou")
    zh = {"Accept-Language": "zh-CN"}
    page = text_of(client.get(f"/cases/{case.id}", headers=zh).text)
    assert "剩余工作时间 14小时" in page
    board = text_of(client.get("/board/legal", headers=zh).text)
    assert "剩余工作时间 14小时" in board
