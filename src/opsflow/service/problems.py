"""Errors as RFC 9457 ``application/problem+json``, and the request body limit.

Every :class:`~opsflow.errors.OpsflowError` answers with its ``http_status``, ``code`` and
``reasons``; anything unexpected is logged and answers a bare 500. Never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsflow.errors import OpsflowError, RateLimited

MAX_BODY = 1024 * 1024  # bytes: a larger request body answers 413
PROBLEM_TYPE = "about:blank"  # RFC 9457: the status code says all the type would
log = logging.getLogger("opsflow.service")


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


def problem(
    status: int,
    detail: str,
    code: str,
    reasons: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    """A problem+json answer: ``{type, title, status, detail, code, reasons}``."""
    body = {
        "type": PROBLEM_TYPE,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "reasons": list(reasons),
    }
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def _opsflow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OpsflowError)
    page = _page_renderer(request)
    if page is not None:
        if exc.http_status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        return page(request, exc.http_status, exc.message, exc.reasons)
    return from_error(exc, request.method, request.url.path)


def _page_renderer(request: Request) -> Any:
    """The board's error page renderer, when the request is a page's (else None)."""
    renderer = getattr(request.app.state, "error_page", None)
    if renderer is None:
        return None
    from opsflow.service.board.pages import is_page_request

    return renderer if is_page_request(request) else None


def from_error(exc: OpsflowError, method: str, path: str) -> ProblemResponse:
    """The answer to an engine's error: its status, ``Retry-After`` (503, 429) or
    ``WWW-Authenticate`` (401), and the problem body; server errors are logged."""
    headers = {503: {"Retry-After": "1"}, 401: {"WWW-Authenticate": "Bearer"}}.get(exc.http_status)
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    if exc.http_status >= 500:
        log.error("%s %s: %s", method, path, exc.message)
    return problem(exc.http_status, exc.message, exc.code, exc.reasons, headers)


def unexpected(method: str, path: str, exc: BaseException) -> ProblemResponse:
    """The answer to anything unexpected: logged with its traceback, a bare 500."""
    log.exception("%s %s failed", method, path, exc_info=exc)
    return problem(500, "the server could not answer this request", "error")


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(400, "the request body is not valid JSON", "usage")
    reasons = [_describe(e) for e in errors]
    detail = "the request does not have the expected shape"
    page = _page_renderer(request)
    if page is not None:
        return page(request, 422, detail, reasons)
    return problem(422, detail, "invalid", reasons)


def _describe(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}"


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "usage"}.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    page = _page_renderer(request)
    if page is not None:
        return page(request, exc.status_code, detail, [])
    return problem(exc.status_code, detail, code, headers=exc.headers)


def _unexpected(request: Request, exc: Exception) -> Response:
    answer = unexpected(request.method, request.url.path, exc)
    page = _page_renderer(request)
    if page is not None:
        return page(request, 500, "the server could not answer this request", [])
    return answer


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with problem+json, and limit request bodies."""
    app.add_exception_handler(OpsflowError, _opsflow_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimit)


class BodyLimit:
    """Refuse a request body over :data:`MAX_BODY` with 413, by its length or as it streams.

    The body is read before the application sees it (it is at most 1 MiB), so an oversized
    stream is refused before any handler runs.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # the client leaving, while the app streams an answer
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is larger than {self.limit} bytes"
        answer = problem(413, detail, "usage")
        await answer(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
