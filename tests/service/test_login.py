"""``POST /login`` with a password: the cookie, no user enumeration, throttling, no leaks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from opsflow.engine.identity import set_password
from opsflow.people import ServerSettings
from opsflow.service import create_app
from opsflow.store import tables

PASSWORD = "correct horse battery staple"


@pytest.fixture
def board(make_engine: Any) -> Iterator[tuple[TestClient, Any]]:
    """A TestClient on the real app, from 10.0.0.1; ann, ed and bea have passwords."""
    engine = make_engine()
    engine.db.ensure_schema()
    for name in ("ann", "ed", "bea"):
        set_password(engine, name, PASSWORD)
    app = create_app(engine)
    with TestClient(app, raise_server_exceptions=False, client=("10.0.0.1", 5000)) as client:
        yield client, engine


def from_address(client: TestClient, address: str) -> TestClient:
    return TestClient(client.app, raise_server_exceptions=False, client=(address, 5000))


def attempt(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    return client.post("/login", json={"username": name, "password": password})


def cookie_attributes(answer: Any) -> set[str]:
    header = answer.headers["set-cookie"]
    assert header.startswith("opsflow_session=")
    return {part.strip().lower() for part in header.split(";")[1:]}


def session_rows(engine: Any) -> list[Any]:
    with engine.db.read() as conn:
        return list(conn.execute(select(tables.sessions)))


def failure_rows(engine: Any) -> dict[str, Any]:
    with engine.db.read() as conn:
        return {row.subject: row for row in conn.execute(select(tables.login_failures))}


def test_a_json_login_sets_an_httponly_lax_cookie(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    answer = attempt(client, "ann")
    assert answer.status_code == 200
    body = answer.json()
    assert body["name"] == "ann"
    assert len(body["csrf_token"]) == 43
    assert body["expires_at"] == "2026-01-05T21:00:00Z"
    assert answer.headers["cache-control"] == "no-store"
    attributes = cookie_attributes(answer)
    assert {"httponly", "samesite=lax", "path=/", "max-age=43200"} <= attributes
    assert "secure" not in attributes  # http://
    assert client.get("/v1/me").json()["name"] == "ann"


def test_the_cookie_is_secure_under_an_https_base_url(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    engine.settings.server = ServerSettings(base_url="https://ops.example.com")
    assert "secure" in cookie_attributes(attempt(client, "ann"))


def test_a_form_login_redirects_to_next(board: tuple[TestClient, Any]) -> None:
    client, _engine = board
    form = {"username": "ann", "password": PASSWORD, "next": "/cases?state=draft"}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/cases?state=draft"
    assert "httponly" in cookie_attributes(answer)
    assert client.get("/v1/me").json()["name"] == "ann"


@pytest.mark.parametrize(
    "next_page",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_next_never_leads_to_another_site(board: tuple[TestClient, Any], next_page: str) -> None:
    client, _engine = board
    form = {"username": "ann", "password": PASSWORD, "next": next_page}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_wrong_password_unknown_user_and_no_password_answer_alike(
    board: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    client, engine = board
    verified: list[str] = []
    real = PasswordHasher.verify

    def counted(self: PasswordHasher, stored: Any, password: Any) -> Any:
        verified.append("x")
        return real(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    answers = [
        attempt(client, "ann", "not the password at all"),
        attempt(client, "nobody", PASSWORD),
        attempt(client, "eve", PASSWORD),  # in the team, no password set
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len({a.text for a in answers}) == 1
    assert answers[0].json()["detail"] == "wrong user name or password"
    assert all("set-cookie" not in a.headers for a in answers)
    assert len(verified) == 3  # one argon2 check each: the same work, known or not
    assert session_rows(engine) == []


def test_throttling_per_user_refuses_even_the_right_password(
    board: tuple[TestClient, Any], clock: Any
) -> None:
    client, engine = board
    answers = [attempt(client, "ann", f"guess number {i}") for i in range(20)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert {a.status_code for a in answers[5:]} == {429}
    limited = answers[-1]
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.headers["retry-after"] == "30"
    assert limited.json()["code"] == "rate_limited"
    right = attempt(client, "ann")
    assert right.status_code == 429
    assert "set-cookie" not in right.headers
    assert session_rows(engine) == []
    # another user from another address is not slowed down
    assert attempt(from_address(client, "10.0.0.2"), "ed").status_code == 200
    clock.advance(seconds=10)
    assert attempt(client, "ann").headers["retry-after"] == "20"
    clock.advance(seconds=20)
    assert attempt(client, "ann", "one more guess here").status_code == 401
    again = attempt(client, "ann")
    assert again.status_code == 429
    assert again.headers["retry-after"] == "60"  # each further failure doubles the wait
    clock.advance(seconds=60)
    assert attempt(client, "ann").status_code == 200
    assert "user:ann" not in failure_rows(engine)  # a success resets the user's count
    assert attempt(client, "ann", "a fresh wrong guess").status_code == 401


def test_throttling_per_address(board: tuple[TestClient, Any]) -> None:
    client, _engine = board
    answers = [attempt(client, f"user{i}", "some wrong password") for i in range(20)]
    assert {a.status_code for a in answers} == {401}
    blocked = attempt(client, "bea")  # the right password, from the address that guessed
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert attempt(from_address(client, "10.0.0.3"), "bea").status_code == 200


def test_the_count_holds_across_hosts(board: tuple[TestClient, Any], make_engine: Any) -> None:
    client, _engine = board
    for i in range(5):
        attempt(client, "ann", f"guess number {i}")
    other_host = create_app(make_engine())
    with TestClient(other_host, raise_server_exceptions=False, client=("10.0.0.9", 1)) as b:
        answer = attempt(b, "ann")
    assert answer.status_code == 429


def test_the_password_is_never_logged_nor_echoed(
    board: tuple[TestClient, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client, _engine = board
    caplog.set_level(logging.DEBUG)
    secret = "a-very-secret-passphrase-123"
    answers = [
        attempt(client, "ann", secret),
        client.post("/login", json={"username": "ann", "password": secret, "extra": 1}),
        client.post("/login", json={"username": "", "password": secret}),
        client.post("/login", data={"username": "ann", "password": secret, "bad": "x"}),
    ]
    assert [a.status_code for a in answers] == [401, 422, 422, 422]
    assert all(secret not in a.text for a in answers)
    assert secret not in caplog.text
    assert PASSWORD not in caplog.text
    attempt(client, "ann")
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"", "application/json", 400),
        (b'{"username": "ann"}', "application/json", 422),
        (b'{"username": 5, "password": "x"}', "application/json", 422),
    ],
)
def test_a_malformed_login_is_refused(
    board: tuple[TestClient, Any], body: bytes, content_type: str, status: int
) -> None:
    client, engine = board
    answer = client.post("/login", content=body, headers={"Content-Type": content_type})
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert session_rows(engine) == []
    assert failure_rows(engine) == {}


def test_a_login_posted_from_another_site_is_refused(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    evil = client.post(
        "/login",
        data={"username": "ann", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert evil.status_code == 403
    assert session_rows(engine) == []
    same = attempt(client, "ann").request  # no Origin: not a browser
    assert same is not None
    ours = client.post(
        "/login",
        json={"username": "ann", "password": PASSWORD},
        headers={"Origin": "http://testserver"},
    )
    assert ours.status_code == 200


def test_a_person_not_in_the_team_is_forbidden(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    del engine.settings.team["ann"]  # left after setting a password
    answer = attempt(client, "ann")
    assert answer.status_code == 403
    assert answer.json()["code"] == "not_permitted"
    assert "set-cookie" not in answer.headers
    assert session_rows(engine) == []


def test_password_login_can_be_turned_off(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    engine.settings.server = replace(engine.settings.server, password_login=False)
    answer = attempt(client, "ann")
    assert answer.status_code == 403
    assert answer.json()["detail"] == "password login is turned off"
    assert session_rows(engine) == []
