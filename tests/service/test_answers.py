"""Hot handlers answer with ``json_answer``: FastAPI's bytes, one thread handoff less."""

from __future__ import annotations

import collections
from typing import Any

import anyio.to_thread
import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from opsflow.service.answers import json_answer

ANN = {"Authorization": "Bearer ann"}


def test_the_bytes_are_fastapis_and_the_handlers_headers_and_status_are_kept() -> None:
    body = {"title": "审核 Review", "n": 1.5, "none": None, "list": [1, "a"], "b": True}
    injected = Response()
    injected.status_code = None  # type: ignore[assignment]  # as FastAPI injects it
    injected.headers["ETag"] = '"3"'
    answer = json_answer(body, injected, status_code=201)
    assert answer.body == TypeAdapter(dict[str, Any]).dump_json(body)
    assert answer.status_code == 201
    assert answer.headers["etag"] == '"3"'
    assert answer.headers["content-type"] == "application/json"
    assert json_answer({}).status_code == 200
    injected.status_code = 202  # a handler that set its status keeps it
    assert json_answer(body, injected, status_code=201).status_code == 202


@pytest.fixture
def handoffs(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Threadpool handoffs by what ran (starlette's run_in_threadpool goes through anyio)."""
    counted: collections.Counter[str] = collections.Counter()
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        counted[getattr(getattr(func, "func", func), "__name__", repr(func))] += 1
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return counted


def test_a_start_a_read_and_a_fire_make_one_handoff_besides_the_identitys(
    client: TestClient, handoffs: collections.Counter[str]
) -> None:
    start = {"workflow": "review", "data": {"title": "x"}}
    started = client.post("/v1/cases", json=start, headers=ANN)
    assert started.status_code == 201, started.text
    assert started.headers["location"] == f"/v1/cases/{started.json()['id']}"
    assert started.json()["etag"] == started.headers["etag"]
    case_id = started.json()["id"]
    for method, path in (
        ("GET", f"/v1/cases/{case_id}"),
        ("POST", f"/v1/cases/{case_id}/events/submit"),
        ("GET", "/v1/me"),
    ):
        answer = client.request(method, path, headers=ANN)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
    # the test identity (a sync dependency) and the handler: no validation handoff after it
    assert sum(handoffs.values()) == 2 * 4, handoffs
    assert "validate" not in handoffs
