"""Running one metric: render its params, call its calculator, fingerprint its inputs."""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from opsflow.clock import iso
from opsflow.errors import Invalid, NotFound
from opsflow.jsontext import dumps
from opsflow.language.models import MetricSpec
from opsflow.templating import render_params


@lru_cache(maxsize=256)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_digest(source: Mapping[str, Any], base_dir: Path) -> str:
    """A digest of a source's content (files) or of its definition (queries)."""
    path = source.get("path")
    if path:
        full = Path(path) if Path(path).is_absolute() else Path(base_dir) / path
        try:
            stat = os.stat(full)
        except OSError:
            return "missing"
        return _file_digest(str(full), stat.st_size, stat.st_mtime_ns)
    return hashlib.sha256(dumps(dict(source)).encode()).hexdigest()


def _digest_sources(
    names: list[str], sources: Mapping[str, Mapping[str, Any]], base_dir: Path
) -> Callable[[], dict[str, str]]:
    """Start digesting the named sources on a thread; calling the result waits for them.

    sha256 releases the GIL, so hashing a large file runs beside the calculator's own
    work (importing DuckDB, planning, scanning) instead of after it. A source the thread
    could not digest is digested again by the caller, so its error surfaces there.
    """
    digests: dict[str, str] = {}

    def work() -> None:
        for name in names:
            try:
                digests[name] = source_digest(sources[name], base_dir)
            except Exception:  # noqa: BLE001 - wait() digests it again and raises there
                return

    if not any(sources[name].get("path") for name in names):
        return lambda: {name: source_digest(sources[name], base_dir) for name in names}
    thread = threading.Thread(target=work, name="opsflow-digest", daemon=True)
    thread.start()

    def wait() -> dict[str, str]:
        thread.join()
        return {name: digests.get(name) or source_digest(sources[name], base_dir) for name in names}

    return wait


def _plain(value: Any) -> Any:
    """A calculator's result as JSON-able data (Decimal → float, NaN → None)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy / duckdb scalars
        return _plain(value.item())
    raise Invalid(f"calculator returned {type(value).__name__}, not a number or JSON data")


def run_metric(
    name: str,
    spec: MetricSpec,
    *,
    case: Mapping[str, Any],
    variables: Mapping[str, Any],
    plugins: Any,
    sources: Mapping[str, Mapping[str, Any]],
    base_dir: Path,
    now: datetime,
) -> dict[str, Any]:
    """Compute one metric; the record stored on the case and written to the history."""
    from opsflow.plugins import CalculatorContext

    calculator = plugins.calculators.get(spec.calculator) if plugins is not None else None
    if calculator is None:
        raise NotFound(f"metric '{name}': no calculator '{spec.calculator}' is installed")
    params = render_params(dict(spec.params), dict(variables))
    used = [str(v) for v in params.values() if isinstance(v, str) and v in sources]
    digests = _digest_sources(used, sources, Path(base_dir))
    ctx = CalculatorContext(case=case, sources=sources, now=now, base_dir=Path(base_dir))
    value = calculator.run(params, ctx, metric=name)
    value = _plain(value)
    used_sources = digests()
    fingerprint = hashlib.sha256(
        dumps(
            {
                "calculator": spec.calculator,
                "params": params,
                "data": case.get("data"),
                "metrics": {k: v for k, v in (case.get("metrics") or {}).items() if k != name},
                "sources": used_sources,
            }
        ).encode()
    ).hexdigest()
    return {
        "value": value,
        "computed_at": iso(now),
        "calculator": spec.calculator,
        "params": params,
        "fingerprint": fingerprint,
    }
