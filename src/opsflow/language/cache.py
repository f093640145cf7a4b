"""An on-disk cache of checked workflow specs, so a CLI call need not parse and check again.

A workflow version's text is checked in full (YAML, structure, references, graph) the first
time; the spec it produced is then kept as JSON (never pickle) in a private folder,
``$XDG_CACHE_HOME/opsflow/specs`` or ``~/.cache/opsflow/specs`` (mode 0700). An entry is
named and keyed by the sha256 of the text and by everything else the checks depend on
(opsflow's and pydantic's versions, the language modules, the load context); on read the
key and the text's hash are compared again and the spec is validated through the pydantic
models, so a stale, truncated or foreign entry is ignored, never trusted. A folder that is
not ours, is open to others or cannot be written means no cache, silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsflow.language.context import LoadContext
    from opsflow.language.models import WorkflowSpec

FORMAT = 1
ENV_CACHE_DIR = "OPSFLOW_CACHE_DIR"  # a folder to use instead; "" or "off" disables the cache


def text_hash(text: str) -> str:
    """The sha256 hex of a workflow text (the hash stored with a registered version)."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


@cache
def _code_fingerprint() -> str:
    """opsflow's and pydantic's versions and the language modules' sizes and times."""
    import pydantic

    from opsflow.version import __version__

    here = Path(__file__).parent
    stats = []
    for path in sorted(here.glob("*.py")):
        try:
            st = path.stat()
        except OSError:
            continue
        stats.append([path.name, st.st_size, st.st_mtime_ns])
    return json.dumps([FORMAT, __version__, pydantic.VERSION, stats])


def context_key(ctx: LoadContext) -> str:
    """What the checks of a text depend on besides the text, as one hash."""

    def names(value: frozenset[str] | None) -> list[str] | None:
        return None if value is None else sorted(value)

    team = None if ctx.team is None else [[p, sorted(r)] for p, r in ctx.team]
    models = [[name, _model_name(model)] for name, model in ctx.params_models]
    raw = json.dumps(
        [
            _code_fingerprint(),
            names(ctx.calculators),
            names(ctx.channels),
            names(ctx.functions),
            names(ctx.sources),
            team,
            models,
            names(ctx.calendars),
        ]
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def _model_name(model: Any) -> str:
    """Where a params model is defined (a deferred model names the calculator it loads)."""
    inner = getattr(model, "calculator", None)
    if inner is not None:
        return f"{getattr(inner, 'module', '')}.{getattr(inner, 'name', '')}"
    return f"{getattr(model, '__module__', '')}.{getattr(model, '__qualname__', '')}"


def cache_dir(env: Any = None) -> Path | None:
    """The private cache folder (created 0700), or None when there is none to use."""
    env = os.environ if env is None else env
    given = env.get(ENV_CACHE_DIR)
    if given is not None:
        if given.strip() in ("", "off", "0"):
            return None
        folder = Path(given)
    else:
        base = env.get("XDG_CACHE_HOME") or ""
        root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
        folder = root / "opsflow" / "specs"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.stat()
    except (OSError, RuntimeError):  # RuntimeError: no home directory
        return None
    if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):
        return None  # not ours, or others may write (or read) it: do not trust it
    return folder


def _entry(folder: Path, digest: str, key: str) -> Path:
    return folder / f"{digest}-{key[:32]}.json"


def read_spec(digest: str, ctx: LoadContext) -> WorkflowSpec | None:
    """The spec checked before for the text of hash ``digest`` under ``ctx``, if cached."""
    folder = cache_dir()
    if folder is None:
        return None
    key = context_key(ctx)
    path = _entry(folder, digest, key)
    try:
        with open(path, "rb") as handle:
            if hasattr(os, "getuid") and os.fstat(handle.fileno()).st_uid != os.getuid():
                return None
            document = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or document.get("hash") != digest
        or document.get("key") != key
    ):
        return None
    from pydantic import ValidationError

    from opsflow.language.models import WorkflowSpec

    try:
        return WorkflowSpec.model_validate(document.get("spec"))
    except ValidationError:
        return None


def write_spec(digest: str, ctx: LoadContext, spec: WorkflowSpec) -> None:
    """Keep ``spec`` for the text of hash ``digest``, when its JSON reads back identical."""
    folder = cache_dir()
    if folder is None:
        return
    from opsflow.language.models import WorkflowSpec

    dumped = spec.model_dump(mode="json", by_alias=True)
    try:
        again = WorkflowSpec.model_validate(json.loads(json.dumps(dumped, allow_nan=False)))
    except ValueError:  # NaN or infinity in a value, or it does not validate back
        return
    if not same(again.model_dump(by_alias=True), spec.model_dump(by_alias=True)):
        return  # a value JSON cannot carry exactly: do not cache this one
    key = context_key(ctx)
    document = {"format": FORMAT, "hash": digest, "key": key, "spec": dumped}
    data = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".spec-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, _entry(folder, digest, key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except OSError:
        return


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (so ``1`` is not ``True`` or ``1.0``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
