"""A handler's JSON answer, encoded in the handler's own thread.

A sync handler that returns a ``dict`` costs its request a second threadpool handoff:
FastAPI checks the value against the handler's return annotation in its threadpool before
encoding it (~100 µs of CPU per request on a small VM, more than the check itself). A hot
handler returns :func:`json_answer` instead: the same bytes (pydantic-core's JSON
encoder, the one FastAPI uses), built where the handler runs; FastAPI sends a returned
``Response`` as it is. Its route keeps ``response_model=`` for the OpenAPI document.

The hot routes' work is a plain function returning an :class:`Answer` (status, headers,
bytes): the FastAPI route and the fast path (``service/fast.py``) both call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Response
from pydantic_core import to_json


@dataclass(slots=True)
class Answer:
    """A finished answer: status, extra headers and the encoded body."""

    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers :meth:`response` sends, in its order: for sending the answer on the
        ASGI interface directly (``service/fast.py``), without a Starlette response."""
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        given = {name for name, _value in raw}
        if b"content-length" not in given and not (self.status < 200 or self.status in (204, 304)):
            raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        kind = self.media_type
        if b"content-type" not in given:
            if kind.startswith("text/") and "charset=" not in kind.lower():
                kind += "; charset=utf-8"
            raw.append((b"content-type", kind.encode("latin-1")))
        return raw

    def response(self) -> Response:
        """The answer as a Starlette response (the bytes, headers and status as they are)."""
        return Response(
            self.body, status_code=self.status, headers=self.headers, media_type=self.media_type
        )


def json_body(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    """``body`` encoded as JSON by pydantic-core (the encoder FastAPI uses)."""
    return Answer(to_json(body), status, headers if headers is not None else {})


def json_answer(body: Any, response: Response | None = None, status_code: int = 200) -> Response:
    """``body`` as ``application/json``, with the headers (and status, if set) the handler
    put on its injected ``response``."""
    status = response.status_code if response is not None and response.status_code else None
    answer = Response(
        to_json(body), status_code=status or status_code, media_type="application/json"
    )
    if response is not None:
        answer.headers.raw.extend(response.headers.raw)
    return answer
