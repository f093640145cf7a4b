"""/v1/me and /v1/cases: the CLI's JSON shapes, as the authenticated actor."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def as_(name: str) -> dict[str, str]:
    """Headers authenticating as ``name`` (``NAME:ro``: a read-only token)."""
    return {"Authorization": f"Bearer {name}"}


def start(client: TestClient, title: str = "Spring sale", who: str = "ann") -> dict[str, Any]:
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": title}}, headers=as_(who)
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_me_is_the_authenticated_actor(client: TestClient) -> None:
    answer = client.get("/v1/me", headers=as_("both"))
    assert answer.status_code == 200
    assert answer.json() == {"name": "both", "roles": ["author", "editor"], "read_only": False}


def test_start_answers_201_with_location_and_etag(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "Hi"}}, headers=as_("ann")
    )
    assert answer.status_code == 201
    case = answer.json()
    assert answer.headers["Location"] == f"/v1/cases/{case['id']}"
    assert case["state"] == "draft"
    assert case["created_by"] == "ann"
    assert case == engine.get(case["id"]).to_json() | {"events": case["events"]}


def test_get_case_is_status_json_with_an_etag(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    answer = client.get(f"/v1/cases/{case_id}", headers=as_("ann"))
    assert answer.status_code == 200
    assert answer.json() == engine.status(case_id, actor="ann").to_json()
    etag = answer.headers["ETag"]
    assert etag == f'"{engine.get(case_id).row_version}"'  # the case's row version, quoted
    client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ann"))
    assert client.get(f"/v1/cases/{case_id}", headers=as_("ann")).headers["ETag"] != etag


def test_fire_answers_fire_json_and_history_names_the_authenticated_actor(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    answer = client.post(
        f"/v1/cases/{case_id}/events/submit", json={"comment": "ready"}, headers=as_("ann")
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "transitioned"
    assert body["case"]["state"] == "review"
    last = engine.history(case_id)[-1]
    assert (last.actor, last.event, last.comment) == ("ann", "submit", "ready")


def test_the_actor_cannot_be_named_by_the_request(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    answer = client.post(
        f"/v1/cases/{case_id}/events/submit",
        json={"actor": "ed"},
        headers=as_("ann") | {"X-Opsflow-Actor": "ed"},
    )
    assert answer.status_code == 422  # an unknown member of the body is refused
    assert engine.get(case_id).state == "draft"


def test_dry_run_writes_nothing(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    answer = client.post(
        f"/v1/cases/{case_id}/events/submit", params={"dry_run": "true"}, headers=as_("ann:ro")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "dry_run"
    assert engine.get(case_id).state == "draft"


def test_an_idempotency_key_repeat_happens_once(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    url = f"/v1/cases/{case_id}/events/submit"
    first = client.post(url, headers=as_("ann") | {"Idempotency-Key": "k1"})
    again = client.post(url, headers=as_("ann") | {"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert first.json()["outcome"] == "transitioned"
    assert again.json()["outcome"] == "replayed"  # as `opsflow fire --key` answers a repeat
    assert again.json()["case"]["id"] == case_id
    assert again.json()["case"]["state"] == first.json()["case"]["state"]
    assert [e.event for e in engine.history(case_id)].count("submit") == 1


def test_an_idempotency_key_is_scoped_per_actor(service: tuple[TestClient, Any]) -> None:
    client, _engine = service
    body = {"workflow": "review", "data": {"title": "Hi"}}
    first = client.post("/v1/cases", json=body, headers=as_("ann") | {"Idempotency-Key": "k"})
    again = client.post("/v1/cases", json=body, headers=as_("ann") | {"Idempotency-Key": "k"})
    other = client.post("/v1/cases", json=body, headers=as_("both") | {"Idempotency-Key": "k"})
    assert first.json()["id"] == again.json()["id"]
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert other.json()["created_by"] == "both"
