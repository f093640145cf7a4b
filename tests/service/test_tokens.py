"""Real API tokens (``opsflow.engine.identity``) through the service's authentication."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsflow.engine.identity import create_token, revoke_token
from opsflow.service import create_app


@pytest.fixture
def real(make_engine: Any) -> Iterator[tuple[TestClient, Any]]:
    engine = make_engine()
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        yield client, engine


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_acts_as_its_owner(real: tuple[TestClient, Any]) -> None:
    client, engine = real
    token, _info = create_token(engine, "ann", by="ann")
    assert client.get("/v1/me", headers=bearer(token)).json()["name"] == "ann"
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "Hi"}}, headers=bearer(token)
    )
    assert answer.status_code == 201
    assert engine.history(answer.json()["id"])[-1].actor == "ann"


@pytest.mark.parametrize(
    "header",
    ["Bearer opsf_" + "A" * 43, "Bearer not-a-token", "Bearer ", "Token abc", ""],
)
def test_a_wrong_token_is_401(real: tuple[TestClient, Any], header: str) -> None:
    client, _engine = real
    answer = client.get("/v1/me", headers={"Authorization": header} if header else {})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "not_authenticated"


def test_a_revoked_token_is_401(real: tuple[TestClient, Any]) -> None:
    client, engine = real
    token, info = create_token(engine, "ann", by="ann")
    assert client.get("/v1/me", headers=bearer(token)).status_code == 200
    revoke_token(engine, info.prefix, by="ann")
    assert client.get("/v1/me", headers=bearer(token)).status_code == 401


def test_a_read_only_token_reads_but_cannot_fire(real: tuple[TestClient, Any]) -> None:
    client, engine = real
    writer, _ = create_token(engine, "ann", by="ann")
    reader, _ = create_token(engine, "ann", read_only=True, by="ann")
    case_id = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "Hi"}}, headers=bearer(writer)
    ).json()["id"]
    assert client.get(f"/v1/cases/{case_id}", headers=bearer(reader)).status_code == 200
    answer = client.post(f"/v1/cases/{case_id}/events/submit", headers=bearer(reader))
    assert answer.status_code == 403
    assert answer.json()["code"] == "not_permitted"
    assert engine.get(case_id).state == "draft"


def test_an_expired_token_is_401_and_acts_no_more(real: tuple[TestClient, Any], clock: Any) -> None:
    client, engine = real
    token, _ = create_token(engine, "ann", expires=timedelta(hours=1), by="ann")
    assert client.get("/v1/me", headers=bearer(token)).status_code == 200
    clock.advance(hours=1, seconds=1)
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "late"}}, headers=bearer(token)
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == "not_authenticated"
    assert engine.cases() == []


def test_a_token_whose_owner_left_the_team_is_403_and_nothing_else(
    real: tuple[TestClient, Any],
) -> None:
    client, engine = real
    token, _ = create_token(engine, "ann", by="ann")
    case_id = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "Hi"}}, headers=bearer(token)
    ).json()["id"]
    engine.settings.team = {k: v for k, v in engine.settings.team.items() if k != "ann"}
    for method, path in (
        ("GET", "/v1/me"),
        ("GET", f"/v1/cases/{case_id}"),
        ("GET", "/v1/cases"),
        ("POST", f"/v1/cases/{case_id}/events/submit"),
    ):
        answer = client.request(method, path, headers=bearer(token))
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["code"] == "not_permitted"
        assert case_id not in answer.text  # nothing else
    assert engine.get(case_id).state == "draft"
