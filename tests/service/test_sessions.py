"""Board sessions through the real service: the cookie, CSRF, logout, expiry, storage."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opsflow.engine.identity import create_token, set_password
from opsflow.engine.sessions import create_session
from opsflow.service import create_app
from opsflow.store import tables

PASSWORD = "correct horse battery staple"
START = {"workflow": "review", "data": {"title": "Hi"}}


@pytest.fixture
def board(make_engine: Any) -> Iterator[tuple[TestClient, Any]]:
    """A TestClient on the real app (real authentication); ann and ed have passwords."""
    engine = make_engine()
    engine.db.ensure_schema()
    set_password(engine, "ann", PASSWORD)
    set_password(engine, "ed", PASSWORD)
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        yield client, engine


def log_in(client: TestClient, name: str = "ann") -> str:
    """Log ``client`` in as ``name``; the session's CSRF token."""
    answer = client.post("/login", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["csrf_token"]
    return token


def another_browser(client: TestClient) -> TestClient:
    return TestClient(client.app, raise_server_exceptions=False)


def count_cases(engine: Any) -> int:
    with engine.db.read() as conn:
        found: int = conn.execute(select(func.count()).select_from(tables.cases)).scalar_one()
        return found


def session_rows(engine: Any) -> list[Any]:
    with engine.db.read() as conn:
        return list(conn.execute(select(tables.sessions)))


def test_the_cookie_authenticates_reads(board: tuple[TestClient, Any]) -> None:
    client, _engine = board
    log_in(client)
    me = client.get("/v1/me")
    assert me.status_code == 200
    assert me.json()["name"] == "ann"


def test_a_change_without_the_csrf_token_is_refused_and_writes_nothing(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    csrf = log_in(client)
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
        answer = client.post("/v1/cases", json=START, headers=headers)
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"
        assert "CSRF" in answer.json()["detail"]
    assert count_cases(engine) == 0
    answer = client.post("/v1/cases", json=START, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 201
    assert engine.history(answer.json()["id"])[-1].actor == "ann"
    assert count_cases(engine) == 1


def test_another_sessions_csrf_token_does_not_do(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    log_in(client)
    other = another_browser(client)
    their_csrf = log_in(other, "ed")
    answer = client.post("/v1/cases", json=START, headers={"X-CSRF-Token": their_csrf})
    assert answer.status_code == 403
    assert count_cases(engine) == 0


def test_the_csrf_token_may_come_as_a_form_field(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    csrf = log_in(client)
    refused = client.post("/logout", data={"csrf_token": "nope"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/v1/me").status_code == 200  # still logged in
    answer = client.post("/logout?next=/after", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/after"
    assert [row.ended_at for row in session_rows(engine)] == [engine.clock()]


def test_a_token_needs_no_csrf_token_and_wins_over_a_cookie(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    log_in(client)  # the cookie is ann's
    token, _ = create_token(engine, "ed", by="ed")
    answer = client.post("/v1/cases", json=START, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201
    assert engine.history(answer.json()["id"])[-1].actor == "ed"
    no_session = client.get("/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert no_session.status_code == 404


def test_the_session_endpoint_shows_the_actor_and_csrf_token(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    csrf = log_in(client)
    answer = client.get("/v1/session")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["name"] == "ann"
    assert body["csrf_token"] == csrf
    assert body["method"] == "password"
    assert body["expires_at"] == "2026-01-05T21:00:00Z"  # the fake clock plus 12 hours


def test_logout_ends_the_session_on_every_host(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    csrf = log_in(client)
    cookie = client.cookies["opsflow_session"]
    answer = client.post("/logout", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200
    assert answer.json() == {"ended": 1}
    assert "opsflow_session=" in answer.headers["set-cookie"]
    assert "Max-Age=0" in answer.headers["set-cookie"]
    assert client.get("/v1/me").status_code == 401
    stale = another_browser(client)
    stale.cookies.set("opsflow_session", cookie)  # the old cookie, kept by hand
    answer = stale.get("/v1/me")
    assert answer.status_code == 401
    assert answer.json()["code"] == "not_authenticated"


def test_logout_everywhere_ends_the_persons_other_sessions(
    board: tuple[TestClient, Any], make_engine: Any
) -> None:
    client, engine = board
    csrf = log_in(client)
    phone = another_browser(client)
    log_in(phone)
    eds = another_browser(client)
    log_in(eds, "ed")
    answer = client.post("/logout?everywhere=true", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200
    assert answer.json() == {"ended": 2}
    assert phone.get("/v1/me").status_code == 401
    assert client.get("/v1/me").status_code == 401
    assert eds.get("/v1/me").json()["name"] == "ed"


def test_logout_without_a_session(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    assert client.post("/logout").status_code == 401
    token, _ = create_token(engine, "ann", by="ann")
    answer = client.post("/logout", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404  # a token is revoked with opsflow token revoke


@pytest.mark.parametrize(
    "cookie",
    ["A" * 43, "forged", "", "x" * 5000, "A" * 42 + "!"],
)
def test_a_forged_cookie_is_401(board: tuple[TestClient, Any], cookie: str) -> None:
    client, _engine = board
    client.cookies.set("opsflow_session", cookie)
    answer = client.get("/v1/me")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "not_authenticated"
    post = client.post("/v1/cases", json=START)
    assert post.status_code == 401


def test_an_expired_session_is_401(board: tuple[TestClient, Any], clock: Any) -> None:
    client, engine = board
    log_in(client)
    clock.advance(hours=11, minutes=59)
    assert client.get("/v1/me").status_code == 200
    clock.advance(minutes=1)
    answer = client.get("/v1/me")
    assert answer.status_code == 401
    assert answer.json()["detail"] == "not logged in, or the session has ended or expired"


def test_session_hours_sets_the_lifetime(board: tuple[TestClient, Any], clock: Any) -> None:
    from dataclasses import replace

    client, engine = board
    engine.settings.server = replace(engine.settings.server, session_hours=1.0)
    answer = client.post("/login", json={"username": "ann", "password": PASSWORD})
    assert "Max-Age=3600" in answer.headers["set-cookie"]
    clock.advance(minutes=59)
    assert client.get("/v1/me").status_code == 200
    clock.advance(minutes=1)
    assert client.get("/v1/me").status_code == 401


def test_the_session_id_and_csrf_token_are_stored_only_as_hashes(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    csrf = log_in(client)
    cookie = client.cookies["opsflow_session"]
    assert len(cookie) == 43  # 256 bits, URL-safe
    (row,) = session_rows(engine)
    assert row.id_hash == hashlib.sha256(cookie.encode()).hexdigest()
    assert row.csrf == hashlib.sha256(csrf.encode()).hexdigest()
    assert row.actor == "ann"
    assert row.method == "password"
    stored = " ".join(str(value) for value in row)
    assert cookie not in stored
    assert csrf not in stored


def test_last_seen_is_written_at_most_once_a_minute(
    board: tuple[TestClient, Any], clock: Any
) -> None:
    client, engine = board
    log_in(client)
    started = engine.clock()
    clock.advance(seconds=59)
    client.get("/v1/me")
    assert session_rows(engine)[0].last_seen_at == started
    clock.advance(seconds=1)
    client.get("/v1/me")
    assert session_rows(engine)[0].last_seen_at == engine.clock()


def test_another_host_honours_the_session_and_its_end(
    board: tuple[TestClient, Any], make_engine: Any
) -> None:
    client, _engine = board
    csrf = log_in(client)
    with TestClient(create_app(make_engine()), raise_server_exceptions=False) as host_b:
        host_b.cookies.set("opsflow_session", client.cookies["opsflow_session"])
        assert host_b.get("/v1/me").json()["name"] == "ann"
        assert client.post("/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        assert host_b.get("/v1/me").status_code == 401


def test_a_member_who_left_the_team_is_forbidden(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    log_in(client)
    del engine.settings.team["ann"]
    answer = client.get("/v1/me")
    assert answer.status_code == 403
    assert answer.json()["code"] == "not_permitted"


def test_a_session_is_only_for_team_members(engine: Any) -> None:
    from opsflow.errors import NotPermitted

    with pytest.raises(NotPermitted, match="not in this project's team"):
        create_session(engine, "stranger", "password")
    assert session_rows(engine) == []
