"""Every error is RFC 9457 problem+json with the engine's code and reasons; never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsflow.service.problems import MAX_BODY

PROBLEM = "application/problem+json"


def as_(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


def started(client: TestClient) -> str:
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "Hi"}}, headers=as_("ann")
    )
    assert answer.status_code == 201, answer.text
    case_id: str = answer.json()["id"]
    return case_id


def problem_of(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "reasons"}
    assert body["status"] == status
    assert body["code"] == code
    assert "Traceback" not in answer.text
    assert 'File "' not in answer.text
    return body


def test_an_unknown_case_is_404(client: TestClient) -> None:
    problem_of(client.get("/v1/cases/abcdef999", headers=as_("ann")), 404, "not_found")


def test_an_unknown_route_is_404_problem(client: TestClient) -> None:
    problem_of(client.get("/v1/nothing-here"), 404, "not_found")


def test_a_refused_fire_is_409_with_reasons(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = started(client)
    body = problem_of(
        client.post(f"/v1/cases/{case_id}/events/publish", headers=as_("pat")), 409, "refused"
    )
    assert body["reasons"]
    assert engine.get(case_id).state == "draft"


def test_a_person_without_the_role_is_403(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = started(client)
    answer = client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ed"))
    problem_of(answer, 403, "not_permitted")
    assert engine.get(case_id).state == "draft"


def test_a_stranger_is_403_and_starts_nothing(client: TestClient) -> None:
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "Hi"}}, headers=as_("mallory")
    )
    problem_of(answer, 403, "not_permitted")


def test_invalid_data_is_422(client: TestClient) -> None:
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "x" * 60}}, headers=as_("ann")
    )
    body = problem_of(answer, 422, "invalid")
    assert any("title" in reason for reason in body["reasons"])


def test_a_body_of_the_wrong_shape_is_422(client: TestClient) -> None:
    answer = client.post("/v1/cases", json={"data": "nope"}, headers=as_("ann"))
    body = problem_of(answer, 422, "invalid")
    assert any("workflow" in reason for reason in body["reasons"])


def test_malformed_json_is_400(client: TestClient) -> None:
    answer = client.post(
        "/v1/cases",
        content=b'{"workflow": "review", "data": {',
        headers=as_("ann") | {"Content-Type": "application/json"},
    )
    problem_of(answer, 400, "usage")


def test_a_body_over_1_mib_is_413(client: TestClient) -> None:
    big = b'{"workflow": "review", "data": {"title": "' + b"x" * MAX_BODY + b'"}}'
    answer = client.post(
        "/v1/cases", content=big, headers=as_("ann") | {"Content-Type": "application/json"}
    )
    problem_of(answer, 413, "usage")


def test_a_streamed_body_over_1_mib_is_413(service: tuple[TestClient, Any]) -> None:
    client, engine = service

    def chunks() -> Iterator[bytes]:
        yield b'{"workflow": "review", "data": {"title": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}}'

    answer = client.post(
        "/v1/cases", content=chunks(), headers=as_("ann") | {"Content-Type": "application/json"}
    )
    problem_of(answer, 413, "usage")
    assert not engine.cases()


def test_no_token_is_401(client: TestClient) -> None:
    answer = client.get("/v1/me")
    problem_of(answer, 401, "not_authenticated")
    assert answer.headers.get("WWW-Authenticate") == "Bearer"
    problem_of(
        client.get("/v1/me", headers={"Authorization": "Basic YTpi"}), 401, "not_authenticated"
    )


def test_a_read_only_token_cannot_fire(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = started(client)
    answer = client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ann:ro"))
    problem_of(answer, 403, "not_permitted")
    assert engine.get(case_id).state == "draft"
    assert client.get(f"/v1/cases/{case_id}", headers=as_("ann:ro")).status_code == 200


def test_a_read_only_token_cannot_start(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "Hi"}}, headers=as_("ann:ro")
    )
    problem_of(answer, 403, "not_permitted")
    assert not engine.cases()


def test_an_unexpected_error_is_a_bare_500(
    service: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    client, engine = service

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(engine, "status", broken)
    answer = client.get("/v1/cases/abcdef123", headers=as_("ann"))
    body = problem_of(answer, 500, "error")
    assert "secret" not in answer.text
    assert body["reasons"] == []
    assert "secret internal detail" in caplog.text  # logged for the operator
