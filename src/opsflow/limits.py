"""Size limits that more than one layer enforces, each defined once."""

# Characters of an actor name or an idempotency key: their database columns hold 200
# (``String(length=200)`` in opsflow.store.tables). The CLI checks ``--as``/``--key`` against
# it, and the engine every actor name it is given.
MAX_NAME = 200
