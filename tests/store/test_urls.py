"""Database URLs opsflow does not support are one plain error, never a driver's traceback."""

from __future__ import annotations

import pytest

from opsflow.errors import ConfigError
from opsflow.store import Database


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://x@y/z", "unsupported database URL"),
        ("postgresql+psycopg2://postgres@127.0.0.1/test", "unsupported database URL"),
        ("postgresql+psycopg://postgres:pw@127.0.0.1:notaport/test", "invalid database URL"),
        ("postgresql+psycopg://postgres@127.0.0.1:70000/test", "out of range"),
        ("sqlite:///x.db?mode=ro&foo=bar", "SQLite takes no option 'foo'"),
        ("notaurl", "invalid database URL"),
    ],
)
def test_unsupported_urls_are_refused_plainly(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        Database(url)
    assert "pw" not in str(info.value)
