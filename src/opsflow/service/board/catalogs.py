"""The board's gettext catalogs: extract, update, compile and check them.

``python -m opsflow.service.board.catalogs`` extracts every message of the templates and
the board's Python code, merges it into ``locale/*/LC_MESSAGES/messages.po`` (new messages
get an empty translation to fill in) and compiles each ``.po`` to the ``.mo`` the board
loads. ``--check`` changes nothing and exits 1 when a catalog misses a message, a Chinese
message has no translation, or a ``.mo`` is not the compiled ``.po`` (a test runs it).
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from opsflow.service.board.i18n import CATALOG_DIR, DOMAIN, LOCALES, babel_name

BOARD = Path(__file__).parent
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}
FIXED_DATE = datetime(2026, 12, 1, tzinfo=UTC)
TRANSLATED = ("zh-CN",)  # every message must have a translation (English is the source)


def extracted() -> Catalog:
    """Every message the board's templates and code use."""
    template = Catalog(
        project="opsflow",
        copyright_holder="opsflow developers",
        creation_date=FIXED_DATE,  # a date per run would change every .po at each update
        fuzzy=False,
    )
    for filename, lineno, message, comments, context in extract_from_dir(
        str(BOARD),
        METHODS,
        options_map=OPTIONS,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _po_path(tag: str) -> Path:
    return CATALOG_DIR / babel_name(tag) / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(tag: str) -> Catalog:
    path = _po_path(tag)
    if not path.exists():
        return Catalog(
            locale=babel_name(tag),
            project="opsflow",
            copyright_holder="opsflow developers",
            creation_date=FIXED_DATE,
            revision_date=FIXED_DATE,
            fuzzy=False,
        )
    with path.open("rb") as po:
        return read_po(po, locale=babel_name(tag))


def _compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def update() -> None:
    """Merge the extracted messages into every ``.po`` and compile every ``.mo``."""
    template = extracted()
    for tag in LOCALES:
        catalog = _read(tag)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        path = _po_path(tag)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, catalog, width=100, omit_header=False, sort_output=True, no_location=True)
        path.with_suffix(".mo").write_bytes(_compiled(_read(tag)))


def problems() -> list[str]:
    """What is wrong with the catalogs as committed (empty: all is current)."""
    found: list[str] = []
    wanted = {_key(message.id) for message in extracted() if message.id}
    for tag in LOCALES:
        catalog = _read(tag)
        have = {_key(message.id) for message in catalog if message.id}
        for missing in sorted(map(str, wanted - have)):
            found.append(f"{tag}: not in the catalog: {missing!r}")
        if tag in TRANSLATED:
            for message in catalog:
                given = message.string
                strings = list(given) if isinstance(given, tuple | list) else [given]
                if message.id and (not all(strings) or message.fuzzy):
                    shown = message.id[0] if message.pluralizable else message.id
                    found.append(f"{tag}: no translation of {shown!r}")
        mo = _po_path(tag).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != _compiled(catalog):
            found.append(f"{tag}: {mo.name} is not the compiled {mo.stem}.po")
    return found


def _key(message_id: str | tuple[str, ...] | list[str]) -> str:
    """A message's singular text (a plural message's id is a tuple of its forms)."""
    return message_id if isinstance(message_id, str) else message_id[0]


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        wrong = problems()
        for line in wrong:
            print(line, file=sys.stderr)
        if wrong:
            print("run: python -m opsflow.service.board.catalogs", file=sys.stderr)
        return 1 if wrong else 0
    if argv:
        print("usage: python -m opsflow.service.board.catalogs [--check]", file=sys.stderr)
        return 2
    update()
    wrong = problems()
    for line in wrong:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
