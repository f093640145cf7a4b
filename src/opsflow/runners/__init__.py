"""Loops that call the engine: the worker pass (deadlines, schedule ticks, incident retries),
the outbox delivery, and moving open cases to a new workflow version."""
