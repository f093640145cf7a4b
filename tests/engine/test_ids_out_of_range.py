"""Numbers no id or sequence column can hold name nothing: NotFound or an empty page, on
both databases, never a driver's overflow (on PostgreSQL those columns are 32-bit)."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.errors import NotFound, Usage
from opsflow.limits import MAX_ROW_ID, storable_id

BEYOND = [MAX_ROW_ID + 1, 2**63, 10**30]


def test_the_bound_is_the_32_bit_column() -> None:
    assert MAX_ROW_ID == 2**31 - 1
    assert storable_id(0)
    assert storable_id(MAX_ROW_ID)
    assert not storable_id(MAX_ROW_ID + 1)
    assert not storable_id(-1)


@pytest.mark.parametrize("number", BEYOND)
def test_history_after_a_number_beyond_any_sequence_is_empty(engine: Any, number: int) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    assert len(engine.history(case.id)) == 1
    assert engine.history(case.id, after_seq=number) == []


@pytest.mark.parametrize("number", BEYOND)
def test_incidents_and_notifications_beyond_any_id_are_not_found(engine: Any, number: int) -> None:
    with pytest.raises(NotFound):
        engine.retry_incident(number, actor="dir")
    with pytest.raises(NotFound):
        engine.resolve_incident(number, "closing it", actor="dir")
    with pytest.raises(NotFound):
        engine.retry_notification(number)


def test_an_outbox_cursor_beyond_any_id_is_refused(engine: Any) -> None:
    import base64

    for digits in (str(MAX_ROW_ID + 1), "9" * 19, "²"):
        cursor = base64.urlsafe_b64encode(f"o{digits}".encode()).decode()
        with pytest.raises(Usage, match="not one this API gave"):
            engine.outbox_page(cursor=cursor)
