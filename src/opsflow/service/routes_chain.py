"""``GET /v1/cases/{id}/history/verify``: one case's hash chain, checked for its reader.

What the board's verified-chain badge shows: ``opsflow audit verify`` for one case, open to
anyone who may read it (an unreadable case answers 404, as a missing one).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from opsflow.engine.audit import verify_one
from opsflow.service.auth import Reader

router = APIRouter(prefix="/v1")


@router.get("/cases/{case_id}/history/verify")
def verify_case_history(request: Request, case_id: str, who: Reader) -> dict[str, Any]:
    """``{case, entries, ok, problem}``: the case's history chain and its replay checked."""
    chain = verify_one(request.app.state.engine, case_id, who.actor)
    return {
        "case": chain.case,
        "entries": chain.entries,
        "ok": chain.verified,
        "problem": chain.problem.to_json() if chain.problem else None,
    }
