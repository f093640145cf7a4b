"""``GET /v1/cases/{id}/history/verify``: one case's chain, for anyone who may read it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from opsflow.store import tables

ANN = {"Authorization": "Bearer ann"}


def test_an_intact_history_verifies(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case = engine.start("review", data={"title": "链 chain"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    answer = client.get(f"/v1/cases/{case.id[:8]}/history/verify", headers=ANN)
    assert answer.status_code == 200
    assert answer.json() == {"case": case.id, "entries": 2, "ok": True, "problem": None}


def test_a_changed_entry_is_named(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case = engine.start("review", data={"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    with engine.db.write() as conn:
        if conn.dialect.name == "postgresql":  # as a superuser would: append-only off
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        history = tables.history.c
        conn.execute(
            update(tables.history)
            .where(history.case_id == case.id, history.seq == 2)
            .values(comment="rewritten")
        )
    body = client.get(f"/v1/cases/{case.id}/history/verify", headers=ANN).json()
    assert body["ok"] is False
    assert body["problem"]["seq"] == 2
    assert "hash mismatch" in body["problem"]["reason"]


def test_a_missing_case_is_404(service: tuple[TestClient, Any]) -> None:
    client, _engine = service
    answer = client.get("/v1/cases/0123456789ab/history/verify", headers=ANN)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
