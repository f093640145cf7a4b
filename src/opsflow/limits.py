"""Size limits that more than one layer enforces, each defined once."""

# Characters of an actor name or an idempotency key: their database columns hold 200
# (``String(length=200)`` in opsflow.store.tables). The CLI checks ``--as``/``--key`` against
# it, and the engine every actor name it is given.
MAX_NAME = 200

# The largest row id or history sequence number: their columns are INTEGER, 32 bits on
# PostgreSQL (``Integer`` in opsflow.store.tables). A larger number given by a person (a
# path, a query parameter, a cursor) names nothing on either database, and is answered as
# such before it reaches a query, where a driver would refuse to bind it.
MAX_ROW_ID = 2**31 - 1


def storable_id(number: int) -> bool:
    """Whether ``number`` can be a row id or sequence number (0 to :data:`MAX_ROW_ID`)."""
    return 0 <= number <= MAX_ROW_ID
