"""Secrets never show: tokens, passwords, sessions and the OIDC client secret are absent from
every answer, every log line and every row of the database (both backends)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from oidc_issuer import OidcIssuer
from sqlalchemy import select
from test_oidc import SECRET, at_issuer, configure

from opsflow.engine.identity import create_token, set_password
from opsflow.service import create_app
from opsflow.store import tables

PASSWORD = "correct horse battery 电池"


def database_text(engine: Any) -> str:
    """Every value of every opsflow table, as text."""
    parts = []
    with engine.db.read() as conn:
        for table in tables.metadata.sorted_tables:
            parts.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(parts)


def test_no_secret_in_answers_logs_or_the_database(
    make_engine: Any, oidc_issuer: OidcIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    engine = make_engine()
    configure(engine, oidc_issuer.url)
    token, _ = create_token(engine, "ann")
    set_password(engine, "ed", PASSWORD)
    answers: list[str] = []
    with TestClient(create_app(engine), raise_server_exceptions=False) as browser:

        def keep(answer: Any) -> Any:
            answers.append(f"{answer.status_code} {dict(answer.headers)} {answer.text}")
            return answer

        auth = {"Authorization": f"Bearer {token}"}
        keep(browser.get("/v1/me", headers=auth))
        keep(browser.post("/v1/cases", headers=auth, json={"workflow": "review", "data": {}}))
        keep(browser.get("/v1/me", headers={"Authorization": f"Bearer {token}x"}))  # wrong
        keep(browser.post("/login", json={"username": "ed", "password": PASSWORD + "x"}))
        login = keep(browser.post("/login", json={"username": "ed", "password": PASSWORD}))
        assert login.status_code == 200, login.text
        session_id = browser.cookies["opsflow_session"]
        csrf = login.json()["csrf_token"]
        keep(browser.get("/v1/session"))
        keep(browser.post("/logout", headers={"X-CSRF-Token": csrf}))
        start = keep(browser.get("/login/oidc", follow_redirects=False))
        keep(browser.get(at_issuer(start.headers["location"]), follow_redirects=False))
        assert browser.get("/v1/me").json()["name"] == "ann"  # the OIDC login worked
        keep(browser.get("/metrics", headers=auth))
    secrets = {"token": token, "password": PASSWORD, "session": session_id, "client": SECRET}
    stored = database_text(engine)
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    shown = "\n".join(answers)
    for name, secret in secrets.items():
        assert secret not in stored, f"the {name} is stored in clear"
        assert secret not in logged, f"the {name} is in a log line"
        if name != "session":  # the login's Set-Cookie carries it, and only that
            assert secret not in shown, f"the {name} is in an answer"
    assert csrf not in stored  # only its hash
    assert len(caplog.records) > 0  # the logs were captured at all
