"""The OpenAPI document the repository keeps: ``docs/openapi.json``.

``python -m opsflow.service.openapi_file --write docs/openapi.json`` rewrites it; ``--check
FILE`` exits 1 when the application and the file differ (a test runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def document() -> dict[str, Any]:
    """The OpenAPI document of the application (no database is touched)."""
    from opsflow.service.app import create_app

    found: dict[str, Any] = create_app(engine=None).openapi()
    return found


def dumps(doc: Mapping[str, Any]) -> str:
    """The document as the repository keeps it: sorted keys, two-space indent, a newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opsflow.service.openapi_file")
    parser.add_argument("--write", type=Path, help="write the document to this file")
    parser.add_argument("--check", type=Path, help="exit 1 when this file is not current")
    args = parser.parse_args(argv)
    text = dumps(document())
    if args.check is not None:
        current = args.check.read_text(encoding="utf-8") if args.check.exists() else ""
        if current != text:
            print(
                f"{args.check} is stale: run"
                f" python -m opsflow.service.openapi_file --write {args.check}",
                file=sys.stderr,
            )
            return 1
        return 0
    if args.write is not None:
        args.write.write_text(text, encoding="utf-8")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
