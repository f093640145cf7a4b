"""The board in a project on Shanghai time (``timezone: Asia/Shanghai``), both backends:
times shown on the project's clocks in the reader's format, a datetime field's input
holding the local time and read back in the project's zone, the hint naming the zone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from boardkit import login, text_of
from fastapi.testclient import TestClient

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def shanghai(board: tuple[TestClient, Any]) -> tuple[TestClient, Any]:
    client, engine = board
    engine.settings.timezone = "Asia/Shanghai"
    return client, engine


def submitted(engine: Any, **data: Any) -> str:
    # the engine's clock: 2026-01-05 09:00 UTC, 17:00 in Shanghai
    case = engine.start("review", data={"title": "Gala", **data}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return str(case.id)


def publish_input(html: str) -> str:
    found = re.search(r'<input[^>]*name="field\.publish_at"[^>]*>', html)
    assert found, "no publish_at input"
    return found.group(0)


def test_the_case_page_shows_times_on_the_project_clocks(shanghai: tuple[TestClient, Any]) -> None:
    client, engine = shanghai
    case = submitted(engine, publish_at="2026-01-06T10:30:00Z")
    login(client, "ed")
    page = client.get(f"/cases/{case}", headers=EN)
    assert page.status_code == 200
    head = text_of(page.text.split('<div class="case-grid">')[0])
    assert "Created 1/5/26, 5:00 PM by ann" in head  # 09:00 UTC, in the reader's format
    # the datetime input holds Shanghai's wall-clock time; the hint says so
    assert 'value="2026-01-06T18:30:00"' in publish_input(page.text)
    assert "Time in Asia/Shanghai." in text_of(page.text)
    # the SLA's due time (2 days after submit) in its title
    assert "(1/7/26, 5:00 PM)" in text_of(page.text)


def test_the_chinese_page_uses_its_format_and_the_project_clocks(
    shanghai: tuple[TestClient, Any],
) -> None:
    client, engine = shanghai
    case = submitted(engine)
    login(client, "ed")
    page = client.get(f"/cases/{case}", headers=ZH)
    text = text_of(page.text)
    assert "2026/1/5 17:00" in text
    assert "时间以 Asia/Shanghai 时区为准。" in text


def test_a_time_sent_from_the_form_is_read_in_the_project_zone(
    shanghai: tuple[TestClient, Any],
) -> None:
    client, engine = shanghai
    case = submitted(engine, publish_at="2026-01-06T10:30:00Z")
    token = login(client, "ed")
    form = {"csrf_token": token, "row_version": str(engine.get(case).row_version)}
    unchanged = client.post(
        f"/cases/{case}/data",
        data={**form, "field.title": "Gala", "field.publish_at": "2026-01-06T18:30:00"},
        headers={"HX-Request": "true", **EN},
    )
    assert "Nothing changed, so nothing was saved." in text_of(unchanged.text)
    saved = client.post(
        f"/cases/{case}/data",
        data={**form, "field.title": "Gala", "field.publish_at": "2026-01-07T09:00"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert engine.get(case).data["publish_at"] == "2026-01-07T01:00:00+00:00"


def test_a_utc_project_says_utc(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, publish_at="2026-01-06T10:30:00Z")
    login(client, "ed")
    page = client.get(f"/cases/{case}", headers=EN)
    assert 'value="2026-01-06T10:30:00"' in publish_input(page.text)
    assert "Time in UTC." in text_of(page.text)
    assert "Created 1/5/26, 9:00 AM by ann" in text_of(page.text)


def test_the_start_form_names_the_zone(shanghai: tuple[TestClient, Any]) -> None:
    client, _engine = shanghai
    login(client, "ann")
    page = client.get("/start?workflow=review", headers=EN)
    assert page.status_code == 200
    assert "Time in Asia/Shanghai." in text_of(page.text)
