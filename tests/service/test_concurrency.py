"""One app, one Engine, many threads: requests share the engine safely."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from anyio import to_thread
from fastapi.testclient import TestClient

from opsflow.engine.admin import pool_size

THREADS = 8
ANN = {"Authorization": "Bearer ann"}


def test_eight_threads_fire_on_different_cases(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    ids = []
    for n in range(THREADS):
        answer = client.post(
            "/v1/cases", json={"workflow": "review", "data": {"title": f"case {n}"}}, headers=ANN
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])

    def submit(case_id: str) -> tuple[int, str]:
        answer = client.post(f"/v1/cases/{case_id}/events/submit", headers=ANN)
        return answer.status_code, answer.text

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(submit, ids))
    assert all(status == 200 for status, _ in results), results
    for case_id in ids:
        assert engine.get(case_id).state == "review"
        assert [e.event for e in engine.history(case_id)].count("submit") == 1


def test_the_threadpool_is_as_large_as_the_database_pool(service: tuple[TestClient, Any]) -> None:
    client, engine = service

    async def threads() -> float:
        return to_thread.current_default_thread_limiter().total_tokens

    assert client.portal is not None
    assert client.portal.call(threads) == pool_size(engine.db)
